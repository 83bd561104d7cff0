//! Manifest load + plan at scale: `nixmox check` + `nixmox plan` on a
//! generated 1,000-service manifest, against the seed's way of reading a
//! manifest (one `nix eval` process per field, as its `get_service_ip`,
//! `get_service_hostname` and `get_service_dependencies` do), in the same run.
//!
//!   cargo bench --bench manifest                 # seed approach on a sample, extrapolated
//!   NIXMOX_BENCH_FULL=1 cargo bench --bench manifest   # seed approach on all 1,000 services
//!
//! The seed approach costs seconds per dozen services, so by default it runs
//! on an evenly spread sample of services and reports the measured mean per
//! service times the service count; the table says which was done.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const SERVICES: usize = 1000;
const CORE: usize = 10;

fn main() {
    let bin = env!("CARGO_BIN_EXE_nixmox");
    let dir = std::env::temp_dir().join(format!("nixmox-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let manifest = dir.join("manifest.nix");
    std::fs::write(&manifest, generate(SERVICES)).expect("write manifest");

    // Warm the page cache and prove the manifest is valid.
    let ok = run(bin, &["check", "--manifest"], &manifest);
    assert!(ok.0, "generated manifest must be valid:\n{}", ok.1);

    let reps = 15;
    let mut ours: Vec<Duration> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            assert!(run(bin, &["check", "--manifest"], &manifest).0);
            assert!(run(bin, &["plan", "--json", "--manifest"], &manifest).0);
            t.elapsed()
        })
        .collect();
    ours.sort();
    let ours_median = ours[reps / 2];

    let full = std::env::var_os("NIXMOX_BENCH_FULL").is_some();
    let names = service_names(SERVICES);
    let sample: Vec<&String> = if full {
        names.iter().collect()
    } else {
        names.iter().step_by(SERVICES / 40).collect()
    };
    let t = Instant::now();
    let mut evals = 0;
    for name in &sample {
        evals += seed_read_service(&manifest, name);
    }
    let seed_elapsed = t.elapsed();
    let per_service = seed_elapsed / sample.len() as u32;
    let seed_total = per_service * SERVICES as u32;

    println!();
    println!(
        "manifest: {SERVICES} services ({CORE} core), generated .nix, {} bytes",
        std::fs::metadata(&manifest).map(|m| m.len()).unwrap_or(0)
    );
    println!("| approach | wall time | notes |");
    println!("|---|---:|---|");
    println!(
        "| nixmox check + plan (median of {reps}) | {:.1} ms | min {:.1} ms, max {:.1} ms; two processes, one nix-instantiate each |",
        ms(ours_median),
        ms(ours[0]),
        ms(ours[reps - 1])
    );
    println!(
        "| seed: one `nix eval` per field | {:.1} s | {} services measured ({evals} nix evals, {:.1} ms per service){} |",
        seed_total.as_secs_f64(),
        sample.len(),
        ms(per_service),
        if full { "" } else { ", extrapolated to all services" }
    );
    println!(
        "| ratio | {:.0}x | seed / nixmox |",
        seed_total.as_secs_f64() / ours_median.as_secs_f64()
    );
    if std::env::var_os("NIXMOX_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn run(bin: &str, args: &[&str], manifest: &Path) -> (bool, String) {
    let out = Command::new(bin)
        .args(args)
        .arg(manifest)
        .output()
        .expect("run nixmox");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The seed's `get_service_ip`, `get_service_hostname` and
/// `get_service_dependencies` for one service: core_services first, then
/// services, one process per attempt. Returns how many evals it took.
fn seed_read_service(manifest: &Path, name: &str) -> usize {
    let mut evals = 0;
    let mut eval = |attr: String, raw: bool| {
        evals += 1;
        let mut cmd = Command::new("nix");
        cmd.args(["--extra-experimental-features", "nix-command", "eval", "-f"])
            .arg(manifest)
            .arg(attr);
        cmd.arg(if raw { "--raw" } else { "--json" });
        let out = cmd.output().expect("nix eval runs");
        out.status.success()
    };
    for field in ["ip", "hostname"] {
        if !eval(format!("core_services.{name}.{field}"), true) {
            assert!(
                eval(format!("services.{name}.{field}"), true),
                "{name}.{field}"
            );
        }
    }
    eval(format!("services.{name}.depends_on"), false);
    evals
}

fn service_names(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            if i < CORE {
                format!("core{i}")
            } else {
                format!("app{i}")
            }
        })
        .collect()
}

/// A valid manifest: CORE core services, then apps that each depend on a
/// core service and on up to two earlier apps (a deep, wide DAG).
pub fn generate(n: usize) -> String {
    let mut s = String::from(
        "{\n  network = { dns_server = \"10.0.0.2\"; gateway = \"10.0.0.1\"; network_cidr = \"10.0.0.0/16\"; domain = \"bench.lan\"; vlan_tag = 10; };\n",
    );
    let names = service_names(n);
    let entry = |i: usize, deps: Vec<String>| {
        let name = &names[i];
        let ip = format!("10.0.{}.{}", (i + 10) / 250, (i + 10) % 250 + 2);
        let deps: Vec<String> = deps.iter().map(|d| format!("\"{d}\"")).collect();
        format!(
            "    {name} = {{\n      enable = true; ip = \"{ip}\"; hostname = \"{name}.bench.lan\"; depends_on = [ {} ]; ports = [ 8080 ];\n      interface = {{\n        proxy = {{ domain = \"{name}.bench.lan\"; path = \"/\"; upstream = \"{ip}:8080\"; tls = true; authz = false; }};\n        health = {{ startup = \"systemctl is-active --quiet {name}\"; liveness = \"curl -f -s http://localhost:8080/alive\"; interval = 30; timeout = 10; retries = 3; }};\n      }};\n    }};\n",
            deps.join(" ")
        )
    };
    s.push_str("  core_services = {\n");
    for i in 0..CORE {
        s.push_str(&entry(i, Vec::new()));
    }
    s.push_str("  };\n  services = {\n");
    for i in CORE..n {
        let mut deps = vec![names[i % CORE].clone()];
        if i >= CORE + 7 {
            deps.push(names[i - 7].clone());
        }
        if i >= CORE + 50 {
            deps.push(names[CORE + (i * 31) % (i - CORE)].clone());
        }
        deps.dedup();
        s.push_str(&entry(i, deps));
    }
    s.push_str("  };\n}\n");
    s
}
