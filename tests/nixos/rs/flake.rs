//! The flake (finding 4): supported pins, inputs that follow them, and
//! Nix's own `nix flake check` (Nix 2.8 here) accepting its structure, with
//! the real-module-system stand-ins of tests/nixos/eval as its inputs.

use super::real_eval::{nix_path, nixpkgs_lib, Fixture};
use super::*;

#[test]
fn flake_pins_a_supported_release_that_its_inputs_follow() {
    let inputs = nix_eval("(import ./nixos/flake.nix).inputs");
    let url = inputs["nixpkgs"]["url"].as_str().unwrap();
    let release = url
        .strip_prefix("github:NixOS/nixpkgs/nixos-")
        .unwrap_or_else(|| panic!("nixpkgs is not a NixOS release branch: {url}"));
    let (year, month) = release.split_once('.').unwrap();
    let (year, month): (u32, u32) = (year.parse().unwrap(), month.parse().unwrap());
    // 25.05 and 25.11 are end of life (each release gets seven months).
    assert!((year, month) >= (26, 5), "{url} is end of life");
    assert_eq!(
        inputs["sops-nix"]["inputs"]["nixpkgs"]["follows"],
        "nixpkgs"
    );
    // nixosModules.default is a module function that takes the usual
    // arguments, not a path.
    let module = nix_eval(
        "let m = (import ./nixos/flake.nix).outputs { self = m; nixpkgs = { }; sops-nix = { }; authentik-nix = { }; }; \
         in builtins.functionArgs m.nixosModules.default",
    );
    assert!(
        module.get("config").is_some() && module.get("lib").is_some(),
        "{module}"
    );
    // The first step is documented.
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(
        readme.contains("nix flake lock"),
        "README does not say to run `nix flake lock`"
    );
}

/// A flake input in a temp dir.
fn stub_flake(dir: &Path, name: &str, outputs: &str) -> String {
    let d = dir.join(name);
    fs::create_dir_all(&d).unwrap();
    fs::write(
        d.join("flake.nix"),
        format!("{{ outputs = {{ self }}: {outputs}; }}\n"),
    )
    .unwrap();
    format!("path:{}", d.display())
}

#[test]
fn nix_flake_check_accepts_the_flake() {
    let nix = require("nix", "install Nix (Debian: apt-get install nix-bin)");
    let fixture = Fixture::new(MAIN.1);
    let tmp = TempDir::new("flake-inputs");
    let eval = repo().join("tests/nixos/eval");
    let nixpkgs = stub_flake(
        tmp.path(),
        "nixpkgs",
        &format!(
            "{{ lib = (import {lib}) // {{ nixosSystem = import {system} {{ nixpkgsLib = {lib}; secretsRoot = {root}; caCertificate = {ca}; }}; }}; }}",
            lib = nix_path(&nixpkgs_lib()),
            system = nix_path(&eval.join("system.nix")),
            root = serde_json::to_string(fixture.root().to_str().unwrap()).unwrap(),
            ca = nix_path(&fixture.ca()),
        ),
    );
    let sops = stub_flake(
        tmp.path(),
        "sops-nix",
        &format!(
            "{{ nixosModules.sops = import {}; }}",
            nix_path(&eval.join("sops-nix.nix"))
        ),
    );
    let authentik = stub_flake(
        tmp.path(),
        "authentik-nix",
        &format!(
            "{{ nixosModules.default = import {}; }}",
            nix_path(&eval.join("authentik-nix.nix"))
        ),
    );
    // --impure: the stand-ins import files outside the flake (this repo, the
    // nixpkgs lib); every input is overridden, so nothing is fetched.
    let check = |nixpkgs: &str| {
        run(Command::new(&nix)
            .current_dir(repo())
            .args([
                "--extra-experimental-features",
                "nix-command flakes",
                "flake",
                "check",
            ])
            .args(["--impure", "--no-write-lock-file", "--offline"])
            .arg(format!("path:{}", repo().join("nixos").display()))
            .args(["--override-input", "nixpkgs", nixpkgs])
            .args(["--override-input", "sops-nix", &sops])
            .args(["--override-input", "authentik-nix", &authentik]))
    };
    let out = check(&nixpkgs);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "nix flake check failed:\n{err}");
    assert!(!err.contains("error"), "{err}");

    // It really evaluated every host: without the SOPS files it fails.
    let empty = Fixture::empty();
    let nixpkgs = stub_flake(
        tmp.path(),
        "nixpkgs-no-secrets",
        &format!(
            "{{ lib = (import {lib}) // {{ nixosSystem = import {system} {{ nixpkgsLib = {lib}; secretsRoot = {root}; caCertificate = {ca}; }}; }}; }}",
            lib = nix_path(&nixpkgs_lib()),
            system = nix_path(&eval.join("system.nix")),
            root = serde_json::to_string(empty.root().to_str().unwrap()).unwrap(),
            ca = nix_path(&fixture.ca()),
        ),
    );
    let out = check(&nixpkgs);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("does not exist"),
        "{err}"
    );
}
