//! The deploy health gate against real lab hosts: a build whose unit runs
//! but answers HTTP 500 passes `systemctl is-active`, so only a gate that
//! also asks the liveness probe (`deploy.gate = "both"`, the default)
//! catches it and rolls the host back.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

mod common;

use common::lab::*;
use serde_json::Value;

fn full() -> std::path::PathBuf {
    repo().join("nixos/service-manifest.nix")
}

#[test]
fn a_build_that_answers_500_is_rolled_back_by_the_default_gate() {
    let lab = Lab::up("gate-500", &full());
    let svc = "prometheus";
    let out = lab.lab(&["fault", "break", svc, "--mode", "http500"]);
    assert!(out.status.success(), "{}", text(&out));
    let cfg = lab.config_with("v500", |_| {});
    let out = lab.exec(&["nixmox", "--config", &cfg, "deploy", svc, "--yes", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let results: Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = results
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["service"] == svc)
        .cloned()
        .expect("a result for the service");
    assert_eq!(row["result"], "rolled-back", "{row}");
    assert_eq!(row["healthy_again"], true, "{row}");
    assert!(
        stderr(&out).contains("liveness probe failed"),
        "the gate says which probe failed: {}",
        text(&out)
    );
    assert_eq!(
        lab.current_generation(svc),
        1,
        "back on its previous generation"
    );
}
