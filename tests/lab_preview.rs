//! The deploy preview against real lab hosts through the real binary:
//! unchanged hosts are said and skipped, a changed one is deployed, what
//! comes along as a dependent is named, and a locked host is shown locked.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::lab::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Output;

/// Where the lab keeps each host's deploy lock (the lab's `lock_dir`).
const LOCK: &str = "/nix/var/nix/profiles/.nixmox.lock";

/// The JSON rows by service.
fn rows(o: &Output) -> BTreeMap<String, Value> {
    json_of(o)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["service"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

/// The preview line of `svc` on stderr.
fn preview_line(o: &Output, svc: &str) -> String {
    stderr(o)
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{svc} ")))
        .unwrap_or_else(|| panic!("no preview line for {svc}:\n{}", text(o)))
        .to_string()
}

/// A copy of the lab's manifest with `services` changed (their health
/// interval: part of what the lab builds for each of them, nothing else).
fn edited(lab: &Lab, name: &str, services: &[&str]) -> String {
    let mut v = nixmox::manifest::load_value(&lab.manifest).unwrap();
    for group in ["core_services", "services"] {
        for s in services {
            if v[group].get(*s).is_some() {
                v[group][*s]["interface"]["health"]["interval"] = serde_json::json!(17);
            }
        }
    }
    let path = lab.dir.join(format!("{name}.json"));
    std::fs::write(&path, v.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn unchanged_hosts_are_skipped_a_changed_one_deployed_and_a_locked_one_shown() {
    // svc01 is the core; svc02 and svc03 depend on it.
    let lab = Lab::up("pv", &generated("pv", 3));

    // Nothing changed: every host is said unchanged and skipped.
    let out = lab.exec(&["nixmox", "deploy", "--all", "--yes", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stderr(&out).contains("nothing to deploy"), "{}", text(&out));
    let r = rows(&out);
    assert_eq!(r.len(), 3, "{}", text(&out));
    for svc in ["svc01", "svc02", "svc03"] {
        assert!(preview_line(&out, svc).contains("unchanged, skipped"));
        assert_eq!(r[svc]["result"], "unchanged", "{}", text(&out));
        let p = &r[svc]["preview"];
        assert_eq!(p["change"]["state"], "unchanged", "{p}");
        assert_eq!(p["reachable"], true, "{p}");
        assert_eq!(p["lock"]["state"], "free", "{p}");
        assert_eq!(lab.current_generation(svc), 1);
    }
    let deps = &r["svc02"]["preview"]["dependencies"];
    assert_eq!(deps[0]["service"], "svc01", "{deps}");
    assert_eq!(deps[0]["healthy"], true, "{deps}");

    // One service's build changes: it alone is deployed.
    let one = edited(&lab, "one", &["svc02"]);
    let out = lab.exec(&[
        "nixmox",
        "--manifest",
        &one,
        "deploy",
        "--all",
        "--yes",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(preview_line(&out, "svc02").contains("changed"));
    assert!(preview_line(&out, "svc01").contains("unchanged, skipped"));
    let r = rows(&out);
    assert_eq!(r["svc02"]["result"], "deployed", "{}", text(&out));
    assert_eq!(r["svc02"]["preview"]["change"]["state"], "changed");
    assert_eq!(r["svc01"]["result"], "unchanged");
    assert_eq!(r["svc03"]["result"], "unchanged");
    assert_eq!(lab.current_generation("svc02"), 2);
    assert_eq!(lab.current_generation("svc03"), 1);

    // The core changes: --changed names it, and its dependents come along.
    let both = edited(&lab, "both", &["svc01", "svc02"]);
    let out = lab.exec(&[
        "nixmox",
        "--manifest",
        &both,
        "deploy",
        "--changed",
        "--yes",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(preview_line(&out, "svc01").contains("changed"));
    for svc in ["svc02", "svc03"] {
        assert!(
            preview_line(&out, svc).contains("comes along as a dependent of svc01"),
            "{}",
            text(&out)
        );
    }
    assert_eq!(lab.current_generation("svc01"), 2);

    // Another admin box holds svc03's lock: the preview says so.
    let ip = manifest_services(&lab.manifest)
        .into_iter()
        .find(|s| s.name == "svc03")
        .unwrap()
        .ip
        .to_string();
    let holder = r#"{"user":"alice@admin2","pid":4242,"op":"77","action":"deploy svc03","since":"2026-11-25T19:00:00.000Z"}"#;
    let out = lab.ssh(
        &ip,
        &format!("mkdir {LOCK} && printf '%s' {} > {LOCK}/holder", q(holder)),
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = lab.exec(&["nixmox", "--manifest", &both, "deploy", "svc03", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let line = preview_line(&out, "svc03");
    assert!(
        line.contains("LOCKED") && line.contains("unchanged, skipped"),
        "{line}"
    );
    assert!(
        stderr(&out).contains("warning: svc03") && stderr(&out).contains("locked by alice@admin2"),
        "{}",
        text(&out)
    );
    // Forced, the deploy itself meets the lock and is refused.
    let out = lab.exec(&[
        "nixmox",
        "--manifest",
        &both,
        "deploy",
        "svc03",
        "--yes",
        "--force",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("locked by alice@admin2"),
        "{}",
        text(&out)
    );
}

#[test]
fn status_reports_drift_without_changing_a_host() {
    let lab = Lab::up("pv-drift", &generated("pv-drift", 2));
    let out = lab.exec(&["nixmox", "status", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    for (svc, row) in rows(&out) {
        assert_eq!(row["drift"]["state"], "unchanged", "{svc}: {row}");
    }

    // svc02's entry changes: it alone is outdated, and stays on its generation.
    let one = edited(&lab, "drift-one", &["svc02"]);
    let out = lab.exec(&["nixmox", "--manifest", &one, "status", "--json"]);
    let r = rows(&out);
    let d = &r["svc02"]["drift"];
    assert_eq!(d["state"], "changed", "{}", text(&out));
    assert_ne!(d["built"], d["running"], "{d}");
    assert_eq!(r["svc01"]["drift"]["state"], "unchanged", "{}", text(&out));
    let out = lab.exec(&["nixmox", "--manifest", &one, "status", "--drift"]);
    assert!(
        stdout(&out).contains("outdated: svc02 runs /nix/store/"),
        "{}",
        text(&out)
    );
    assert_eq!(lab.current_generation("svc02"), 1);

    // A host that cannot be reached: its drift is unknown, with the reason.
    lab.fault("partition", "svc01");
    let out = lab.exec(&["nixmox", "--manifest", &one, "status", "--json"]);
    let r = rows(&out);
    assert_eq!(r["svc01"]["drift"]["state"], "unknown", "{}", text(&out));
    assert!(
        r["svc01"]["drift"]["why"]
            .as_str()
            .unwrap_or("")
            .contains("svc01"),
        "{}",
        text(&out)
    );
    assert_eq!(r["svc02"]["drift"]["state"], "changed", "{}", text(&out));
}
