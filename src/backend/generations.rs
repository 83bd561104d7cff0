//! The system profile's generations on a host, as `nix-env
//! --list-generations` prints them, with the store path of each.

use super::ssh::SshPool;
use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Generation {
    pub generation: u64,
    pub date: String,
    pub current: bool,
    pub path: String,
}

/// Parses `   3   2026-11-25 19:12:30   (current)` lines.
pub fn parse_list(text: &str) -> Vec<(u64, String, bool)> {
    text.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let n: u64 = words.next()?.parse().ok()?;
            let date = words.next()?;
            let time = words.next()?;
            let current = words.next() == Some("(current)");
            Some((n, format!("{date} {time}"), current))
        })
        .collect()
}

/// `$1` profile: one `N PATH` line per generation link.
const PATHS: &str = r#"for l in "$1"-*-link; do [ -e "$l" ] || continue; n=${l#"$1"-}; n=${n%-link}; printf '%s %s\n' "$n" "$(readlink -f "$l")"; done"#;

/// The generations of `profile` on `host`, listed by `argv` (the rendered
/// `generations` template), each with its store path.
pub(crate) async fn list_argv(
    pool: &SshPool,
    host: &str,
    argv: &[String],
    profile: &str,
) -> Result<Vec<Generation>, String> {
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = pool
        .run(host, &argv, Duration::from_secs(30))
        .await
        .map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(format!(
            "{host}: listing generations failed: {}",
            out.tail().join(" / ")
        ));
    }
    let paths = pool
        .run(
            host,
            &["sh", "-c", PATHS, "sh", profile],
            Duration::from_secs(30),
        )
        .await
        .map_err(|e| e.to_string())?;
    let path_of = |n: u64| {
        paths
            .stdout
            .lines()
            .find_map(|l| {
                let (k, p) = l.split_once(' ')?;
                (k.parse::<u64>().ok()? == n).then(|| p.to_string())
            })
            .unwrap_or_default()
    };
    Ok(parse_list(&out.stdout)
        .into_iter()
        .map(|(n, date, current)| Generation {
            generation: n,
            date,
            current,
            path: path_of(n),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nix_env_output() {
        let text = "   1   2026-11-25 19:02:11   \n   2   2026-11-25 19:12:30   (current)\n";
        assert_eq!(
            parse_list(text),
            vec![
                (1, "2026-11-25 19:02:11".to_string(), false),
                (2, "2026-11-25 19:12:30".to_string(), true)
            ]
        );
    }
}
