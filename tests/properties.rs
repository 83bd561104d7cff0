//! Property tests: the wave planner and cycle finder on random graphs, and
//! load + validate on arbitrary JSON (never a panic).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

use nixmox::manifest::{parse_json, validate, DepGraph, PlanError};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

fn name(i: usize) -> String {
    format!("s{i}")
}

/// A random DAG: node i may depend only on nodes with a smaller index.
fn dag() -> impl Strategy<Value = Vec<Vec<usize>>> {
    (1usize..40).prop_flat_map(|n| {
        (0..n)
            .map(|i| proptest::collection::vec(0..i.max(1), 0..4.min(i + 1)))
            .collect::<Vec<_>>()
            .prop_map(|mut deps| {
                for (i, d) in deps.iter_mut().enumerate() {
                    d.retain(|&j| j < i);
                }
                deps
            })
    })
}

/// Any directed graph, cycles allowed.
fn digraph() -> impl Strategy<Value = Vec<Vec<usize>>> {
    (1usize..25)
        .prop_flat_map(|n| proptest::collection::vec(proptest::collection::vec(0..n, 0..3), n))
}

fn build(deps: &[Vec<usize>]) -> DepGraph {
    DepGraph::new(
        deps.iter()
            .enumerate()
            .map(|(i, d)| (name(i), d.iter().map(|&j| name(j)).collect())),
    )
}

/// Kahn's algorithm, written independently of the code under test.
fn has_cycle(deps: &[Vec<usize>]) -> bool {
    let n = deps.len();
    let mut remaining: Vec<BTreeSet<usize>> =
        deps.iter().map(|d| d.iter().copied().collect()).collect();
    let mut done = vec![false; n];
    loop {
        let ready: Vec<usize> = (0..n)
            .filter(|&i| !done[i] && remaining[i].is_empty())
            .collect();
        if ready.is_empty() {
            return done.iter().any(|d| !d);
        }
        for i in ready {
            done[i] = true;
            for r in remaining.iter_mut() {
                r.remove(&i);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_wave_depends_only_on_earlier_waves(deps in dag()) {
        let g = build(&deps);
        let waves = g.waves().expect("a DAG has waves");
        let wave_of: HashMap<String, usize> = waves
            .iter()
            .enumerate()
            .flat_map(|(w, names)| names.iter().map(move |n| (n.clone(), w)))
            .collect();
        prop_assert_eq!(wave_of.len(), deps.len(), "each service in exactly one wave");
        for (i, d) in deps.iter().enumerate() {
            for &j in d {
                prop_assert!(wave_of[&name(j)] < wave_of[&name(i)]);
            }
            // Minimal: a service is in wave 0 or right after one of its deps.
            let w = wave_of[&name(i)];
            if w > 0 {
                prop_assert!(d.iter().any(|&j| wave_of[&name(j)] == w - 1));
            }
        }
    }

    #[test]
    fn subset_waves_respect_transitive_dependencies(deps in dag(), pick in proptest::collection::vec(any::<bool>(), 40)) {
        let g = build(&deps);
        let subset: BTreeSet<String> =
            (0..deps.len()).filter(|&i| pick[i]).map(name).collect();
        let waves = g.waves_of(&subset).unwrap();
        let wave_of: HashMap<String, usize> = waves
            .iter()
            .enumerate()
            .flat_map(|(w, names)| names.iter().map(move |n| (n.clone(), w)))
            .collect();
        prop_assert_eq!(wave_of.keys().cloned().collect::<BTreeSet<_>>(), subset.clone());
        for n in &subset {
            for dep in g.dependencies(n).unwrap() {
                if let Some(&wd) = wave_of.get(&dep) {
                    prop_assert!(wd < wave_of[n], "{} must come after {}", n, dep);
                }
            }
        }
        prop_assert!(waves.iter().all(|w| w.windows(2).all(|p| p[0] < p[1])), "waves sorted");
    }

    #[test]
    fn cycles_are_always_found_and_real(deps in digraph()) {
        let g = build(&deps);
        let cycles = g.cycles();
        prop_assert_eq!(!cycles.is_empty(), has_cycle(&deps));
        let edges: BTreeSet<(String, String)> = deps
            .iter()
            .enumerate()
            .flat_map(|(i, d)| d.iter().map(move |&j| (name(i), name(j))))
            .collect();
        for c in &cycles {
            for k in 0..c.len() {
                let next = &c[(k + 1) % c.len()];
                prop_assert!(edges.contains(&(c[k].clone(), next.clone())), "{:?} is not a cycle", c);
            }
        }
        match g.waves() {
            Ok(_) => prop_assert!(cycles.is_empty()),
            Err(PlanError::Cycle(c)) => prop_assert!(!c.is_empty()),
            Err(e) => prop_assert!(false, "unexpected {}", e),
        }
    }

    #[test]
    fn arbitrary_json_never_panics(v in arb_json()) {
        let _ = validate(&v);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        if let Ok(v) = parse_json(Path::new("fuzz.json"), &text) {
            let _ = validate(&v);
        }
    }

    #[test]
    fn mutated_manifests_never_panic(path in proptest::collection::vec(0usize..12, 1..5), v in arb_json()) {
        let mut m = valid_manifest();
        set_somewhere(&mut m, &path, v);
        let report = validate(&m);
        if let Some(m) = report.manifest {
            // A manifest that validates always plans.
            prop_assert!(DepGraph::from_manifest(&m).waves().is_ok());
        } else {
            prop_assert!(!report.diagnostics.errors.is_empty());
        }
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[a-z0-9_./: -]{0,12}".prop_map(Value::String),
        Just(json!("192.168.99.14")),
        Just(json!("10.0.0.0/8")),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    "[a-z_]{1,10}",
                    Just("network".to_string()),
                    Just("services".to_string()),
                    Just("core_services".to_string()),
                    Just("depends_on".to_string()),
                    Just("interface".to_string()),
                    Just("health".to_string()),
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn valid_manifest() -> Value {
    json!({
        "network": {"gateway": "10.0.0.1", "network_cidr": "10.0.0.0/24", "domain": "x.test"},
        "core_services": {"db": {"ip": "10.0.0.2", "hostname": "db.x.test",
            "interface": {"health": {"startup": "true", "liveness": "true", "interval": 1, "timeout": 1, "retries": 1}}}},
        "services": {"web": {"ip": "10.0.0.3", "hostname": "web.x.test", "depends_on": ["db"], "ports": [80],
            "interface": {"proxy": {"domain": "web.x.test", "path": "/", "upstream": "10.0.0.3:80", "tls": true, "authz": false},
                          "auth": {"type": "oidc", "provider": "db"},
                          "db": {"name": "web", "port": 5432},
                          "health": {"startup": "true", "liveness": "true", "interval": 1, "timeout": 1, "retries": 1}}}}
    })
}

/// Walks `path` (each step picks a child by index, modulo its size) and
/// replaces the value found there.
fn set_somewhere(root: &mut Value, path: &[usize], v: Value) {
    let mut pointer = String::new();
    let mut cur = &*root;
    for &step in path {
        let (segment, next) = match cur {
            Value::Object(m) if !m.is_empty() => {
                let (k, n) = m.iter().nth(step % m.len()).unwrap();
                (k.replace('~', "~0").replace('/', "~1"), n)
            }
            Value::Array(a) if !a.is_empty() => ((step % a.len()).to_string(), &a[step % a.len()]),
            _ => break,
        };
        pointer.push('/');
        pointer.push_str(&segment);
        cur = next;
    }
    if let Some(slot) = root.pointer_mut(&pointer) {
        *slot = v;
    }
}
