//! Typed reads from one attribute set of untyped JSON, recording a
//! diagnostic (with the full attribute path) for every mismatch instead of
//! stopping at the first, so validation can report everything at once.

use super::diagnostic::{AttrPath, Diagnostics};
use serde_json::{Map, Value};

/// Describes a JSON value the way the operator wrote it in Nix.
pub(super) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) if n.is_i64() || n.is_u64() => format!("an integer ({n})"),
        Value::Number(n) => format!("a float ({n})"),
        Value::String(s) => format!("a string ({})", short(s)),
        Value::Array(a) => format!("a list of {} element(s)", a.len()),
        Value::Object(_) => "an attribute set".into(),
    }
}

fn short(s: &str) -> String {
    let cut: String = s.chars().take(40).collect();
    let quoted = serde_json::to_string(&cut).unwrap_or_default();
    if cut.len() < s.len() {
        format!("{quoted}…")
    } else {
        quoted
    }
}

pub(super) struct Attrs<'a> {
    map: &'a Map<String, Value>,
    path: AttrPath,
    known: &'static [&'static str],
}

impl<'a> Attrs<'a> {
    /// `None` (with an error recorded) when `value` is not an attribute set.
    pub(super) fn new(
        value: &'a Value,
        path: AttrPath,
        known: &'static [&'static str],
        d: &mut Diagnostics,
    ) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Self { map, path, known }),
            other => {
                d.error(
                    &path,
                    format!("expected an attribute set, got {}", describe(other)),
                );
                None
            }
        }
    }

    pub(super) fn at(&self, key: &str) -> AttrPath {
        self.path.key(key)
    }

    pub(super) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    pub(super) fn entries(&self) -> impl Iterator<Item = (&'a String, &'a Value)> {
        self.map.iter()
    }

    fn missing(&self, key: &str, d: &mut Diagnostics) {
        d.error(&self.at(key), "required attribute is missing");
    }

    /// A required value: `None` with an error when absent.
    pub(super) fn required(&self, key: &str, d: &mut Diagnostics) -> Option<&'a Value> {
        let v = self.get(key);
        if v.is_none() {
            self.missing(key, d);
        }
        v
    }

    pub(super) fn string(&self, key: &str, required: bool, d: &mut Diagnostics) -> Option<String> {
        let v = if required {
            self.required(key, d)?
        } else {
            self.get(key)?
        };
        expect_string(v, &self.at(key), d)
    }

    pub(super) fn boolean(&self, key: &str, d: &mut Diagnostics) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(b) => Some(*b),
            other => {
                d.error(
                    &self.at(key),
                    format!("expected a boolean, got {}", describe(other)),
                );
                None
            }
        }
    }

    /// A whole number in `min..=max`; `what` names it in the message.
    pub(super) fn uint(
        &self,
        key: &str,
        required: bool,
        min: u64,
        max: u64,
        what: &str,
        d: &mut Diagnostics,
    ) -> Option<u64> {
        let v = if required {
            self.required(key, d)?
        } else {
            self.get(key)?
        };
        expect_uint(v, &self.at(key), min, max, what, d)
    }

    pub(super) fn strings(&self, key: &str, d: &mut Diagnostics) -> Option<Vec<String>> {
        let v = self.get(key)?;
        let path = self.at(key);
        let Value::Array(items) = v else {
            d.error(
                &path,
                format!("expected a list of strings, got {}", describe(v)),
            );
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match expect_string(item, &path.index(i), d) {
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    pub(super) fn object(&self, key: &str, d: &mut Diagnostics) -> Option<&'a Map<String, Value>> {
        match self.get(key)? {
            Value::Object(m) => Some(m),
            other => {
                d.error(
                    &self.at(key),
                    format!("expected an attribute set, got {}", describe(other)),
                );
                None
            }
        }
    }

    /// Keys this schema does not know: kept (returned) and warned about,
    /// since a typo like `depend_on` would otherwise silently do nothing.
    pub(super) fn unknown(&self, d: &mut Diagnostics) -> Map<String, Value> {
        let mut extra = Map::new();
        for (k, v) in self.map {
            if !self.known.contains(&k.as_str()) {
                let hint = closest(k, self.known)
                    .map(|s| format!("; did you mean \"{s}\"?"))
                    .unwrap_or_default();
                d.warn(
                    &self.at(k),
                    format!("unknown attribute (kept, not used by nixmox){hint}"),
                );
                extra.insert(k.clone(), v.clone());
            }
        }
        extra
    }
}

pub(super) fn expect_string(v: &Value, path: &AttrPath, d: &mut Diagnostics) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        other => {
            d.error(path, format!("expected a string, got {}", describe(other)));
            None
        }
    }
}

pub(super) fn expect_uint(
    v: &Value,
    path: &AttrPath,
    min: u64,
    max: u64,
    what: &str,
    d: &mut Diagnostics,
) -> Option<u64> {
    match v.as_u64() {
        Some(n) if (min..=max).contains(&n) => Some(n),
        _ => {
            d.error(
                path,
                format!("expected {what} ({min}-{max}), got {}", describe(v)),
            );
            None
        }
    }
}

/// Suggests a known key one or two edits away from a typo.
fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(dist, _)| *dist <= 2)
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_keys_only() {
        assert_eq!(
            closest("depend_on", &["depends_on", "ports"]),
            Some("depends_on")
        );
        assert_eq!(closest("zzz", &["depends_on", "ports"]), None);
    }
}
