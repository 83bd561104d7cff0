//! The broken-manifest corpus: every file under tests/corpus/ with its
//! `.expected` sidecar. Each sidecar gives the exit code, the exact
//! `error:`/`warning:` lines (the set of error lines must match exactly) and
//! `contains:` fragments for messages that come from Nix itself.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches fail loudly by design

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn nixmox() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nixmox"))
}

struct Expectation {
    exit: i32,
    exact: Vec<String>,
    contains: Vec<String>,
}

fn expectation(path: &Path) -> Expectation {
    let text = std::fs::read_to_string(path.with_extension("expected"))
        .unwrap_or_else(|e| panic!("{}: no .expected sidecar: {e}", path.display()));
    let mut exp = Expectation {
        exit: -1,
        exact: Vec::new(),
        contains: Vec::new(),
    };
    for line in text.lines() {
        if let Some(code) = line.strip_prefix("exit: ") {
            exp.exit = code.parse().expect("exit code");
        } else if let Some(frag) = line.strip_prefix("contains: ") {
            exp.contains.push(frag.to_string());
        } else if !line.is_empty() {
            exp.exact.push(line.to_string());
        }
    }
    assert!(exp.exit >= 0, "{}: missing `exit:` line", path.display());
    exp
}

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/corpus exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("nix" | "json")))
        .collect();
    files.sort();
    files
}

#[test]
fn corpus_is_large_and_covers_both_formats() {
    let files = corpus();
    let broken = files.iter().filter(|p| expectation(p).exit != 0).count();
    assert!(broken >= 25, "only {broken} broken manifests");
    assert!(files.iter().any(|p| p.extension().unwrap() == "nix"));
    assert!(files.iter().any(|p| p.extension().unwrap() == "json"));
}

#[test]
fn every_corpus_manifest_gives_its_exact_messages() {
    let mut failures = Vec::new();
    for file in corpus() {
        let exp = expectation(&file);
        let out = nixmox()
            .args(["check", "--manifest"])
            .arg(&file)
            .output()
            .expect("run nixmox");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code().unwrap_or(-1);
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        if code != exp.exit {
            failures.push(format!(
                "{name}: exit {code}, expected {}\n{stderr}",
                exp.exit
            ));
            continue;
        }
        let lines: BTreeSet<&str> = stderr.lines().collect();
        for want in &exp.exact {
            if !lines.contains(want.as_str()) {
                failures.push(format!("{name}: missing line\n  {want}\ngot:\n{stderr}"));
            }
        }
        if exp.contains.is_empty() {
            let got_errors: BTreeSet<&str> = lines
                .iter()
                .copied()
                .filter(|l| l.starts_with("error: "))
                .collect();
            let want_errors: BTreeSet<&str> = exp
                .exact
                .iter()
                .map(String::as_str)
                .filter(|l| l.starts_with("error: "))
                .collect();
            if got_errors != want_errors {
                failures.push(format!(
                    "{name}: error lines differ\n  want {want_errors:#?}\n  got {got_errors:#?}"
                ));
            }
        }
        for frag in &exp.contains {
            if !stderr.contains(frag.as_str()) {
                failures.push(format!("{name}: stderr lacks {frag:?}\ngot:\n{stderr}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn json_report_matches_text_report() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/many-errors.json");
    let out = nixmox()
        .args(["check", "--json", "--manifest"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(v["valid"], false);
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 4);
    assert!(errors
        .iter()
        .any(|e| e["path"] == "services.web.depends_on[0]"
            && e["message"] == "unknown service \"nope\""));
    assert_eq!(v["warnings"].as_array().unwrap().len(), 2);
}

#[test]
fn hostile_names_never_reach_a_shell() {
    let marker = Path::new("/tmp/nixmox-pwned");
    let _ = std::fs::remove_file(marker);
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/nix-hostile-name.nix");
    for args in [&["check"][..], &["plan"], &["graph"]] {
        let out = nixmox()
            .args(args)
            .arg("--manifest")
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
    }
    assert!(!marker.exists(), "a hostile service name was executed");
}

#[test]
fn missing_file_and_unknown_format_are_clear() {
    let out = nixmox()
        .args(["check", "--manifest", "/nonexistent/manifest.nix"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/manifest.nix: cannot read manifest: No such file"),
        "{err}"
    );

    let dir = tempdir();
    let f = dir.join("manifest.yaml");
    std::fs::write(&f, "network: {}\n").unwrap();
    let out = nixmox()
        .args(["check", "--manifest"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected a .nix or .json file"));
}

#[test]
fn missing_nix_says_how_to_install_it() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/nix-cycle.nix");
    let out = nixmox()
        .env("PATH", "/nonexistent")
        .args(["check", "--manifest"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`nix-instantiate` was not found on PATH"),
        "{err}"
    );
    assert!(err.contains("apt-get install nix-bin"), "{err}");
}

fn tempdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("nixmox-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
