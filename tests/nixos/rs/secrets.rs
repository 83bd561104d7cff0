//! Secrets: a fresh checkout says how to create them (finding 2), the plan
//! writes `.sops.yaml` from the manifest, and each host can decrypt only the
//! secrets it uses (finding 8).

use super::real_eval::{get, real_eval_all, real_eval_error, Fixture};
use super::*;

/// A syntactically valid age public key, different for each `n`.
fn age_key(n: usize) -> String {
    const ALPHABET: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    let tail: String = (0..58)
        .map(|i| ALPHABET[(n * 7 + i * 3 + n * i) % ALPHABET.len()] as char)
        .collect();
    format!("age1{tail}")
}

fn plan(manifest: &str, recipients: &str, attr: &str) -> Output {
    let expr = format!(
        "(import ./nixos/lib/sops.nix {{ manifest = import ./{manifest}; recipients = {recipients}; }}).{attr}"
    );
    run(Command::new(nix_instantiate())
        .current_dir(repo())
        .args(["--eval", "--strict", "--json", "--expr", &expr]))
}

/// Finding 2: without the SOPS files, evaluation stops with the first-run
/// steps, naming the missing file (not sops-nix's bare "No such file").
#[test]
fn a_fresh_checkout_fails_with_the_first_run_steps() {
    let err = real_eval_error(MAIN.1, "vaultwarden", &Fixture::empty(), true);
    assert!(err.contains("does not exist"), "{err}");
    assert!(err.contains("secrets/"), "{err}");
    assert!(err.contains("First run"), "{err}");
    assert!(err.contains("secrets-plan.nix"), "{err}");
    // The entry point the README names evaluates on a fresh checkout.
    let steps = nix_eval("(import ./nixos/secrets-plan.nix).steps");
    assert!(!steps.as_array().unwrap().is_empty());
}

/// Finding 2: `.sops.yaml` has one creation rule per file, whose recipients
/// are the admins and exactly the hosts that read it; hosts without a key
/// yet are named; no admin key is an error that says what to do.
#[test]
fn the_secrets_plan_writes_one_creation_rule_per_file() {
    for (_, manifest) in [MAIN, OTHER] {
        let files = nix_eval(&lib_expr(manifest, "{ }", "secrets.files"));
        let hosts = strings(&nix_eval(&format!(
            "import ./nixos/hosts.nix {{ manifestPath = ./{manifest}; }}"
        )));
        let admins = [age_key(1000), age_key(1001)];
        let host_keys: Vec<(String, String)> = hosts
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 4 != 3) // some hosts have no key yet
            .map(|(i, h)| (h.clone(), age_key(i)))
            .collect();
        let recipients = format!(
            "{{ admins = {}; hosts = {{ {} }}; }}",
            serde_json::to_string(&admins).unwrap().replace(',', " "),
            host_keys
                .iter()
                .map(|(h, k)| format!("{h} = \"{k}\";"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let out = plan(manifest, &recipients, "sopsYaml");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let yaml: String = serde_json::from_slice(&out.stdout).unwrap();

        // Each rule: a path_regex line followed by its age line.
        let lines: Vec<&str> = yaml.lines().collect();
        let mut rules = std::collections::BTreeMap::new();
        for (i, l) in lines.iter().enumerate() {
            if let Some(re) = l.strip_prefix("  - path_regex: ") {
                let re: String = serde_json::from_str(re).unwrap();
                let age: String =
                    serde_json::from_str(lines[i + 1].strip_prefix("    age: ").unwrap()).unwrap();
                rules.insert(re, age);
            }
        }
        let files = files.as_object().unwrap();
        assert_eq!(
            rules.len(),
            files.len(),
            "{manifest}: one rule per file:\n{yaml}"
        );
        for (path, file) in files {
            let re = format!("(^|/){}$", path.replace('.', "\\."));
            let got: BTreeSet<&str> = rules
                .get(&re)
                .unwrap_or_else(|| panic!("{manifest}: no rule {re:?}:\n{yaml}"))
                .split(',')
                .collect();
            let readers = strings(&file["hosts"]);
            let mut want: BTreeSet<&str> = admins.iter().map(String::as_str).collect();
            for (h, k) in &host_keys {
                if readers.contains(h) {
                    want.insert(k);
                }
            }
            assert_eq!(got, want, "{manifest}: recipients of {path}");
            for h in readers
                .iter()
                .filter(|h| !host_keys.iter().any(|(k, _)| k == *h))
            {
                assert!(
                    yaml.contains(&format!("# {path}: "))
                        && yaml.contains(&format!("NOT YET A RECIPIENT: {h} ")),
                    "{manifest}: {path} does not say {h} has no key yet"
                );
            }
        }

        // One step per file, with the keys to type in.
        let steps = nix_eval(&format!(
            "(import ./nixos/lib/sops.nix {{ manifest = import ./{manifest}; }}).steps"
        ));
        assert_eq!(steps.as_array().unwrap().len(), files.len());
        for (path, file) in files {
            let keys = strings(&file["keys"]).join(" ");
            assert!(
                steps
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|s| s.as_str().unwrap() == format!("sops {path}   # keys: {keys}")),
                "{manifest}: no step for {path}"
            );
        }
    }

    let out = plan(MAIN.1, "{ }", "sopsYaml");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("no admin age key") && err.contains("recipients.nix"),
        "{err}"
    );
    let out = plan(MAIN.1, "{ admins = [ \"age1nope\" ]; }", "sopsYaml");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not an age public key"));
    let out = plan(
        MAIN.1,
        &format!(
            "{{ admins = [ \"{}\" ]; hosts.nosuch = \"{}\"; }}",
            age_key(1),
            age_key(2)
        ),
        "sopsYaml",
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("nosuch not an enabled service"));
}

/// Finding 8: a host is a recipient only of files whose every secret it
/// has; the database server gets database passwords only.
#[test]
fn each_host_decrypts_only_the_secrets_it_uses() {
    for (set, manifest) in [MAIN, OTHER] {
        let lib = lib_outputs(manifest);
        let by_host = &lib["secrets"]["byHost"];
        let server = lib["postgresql"]["server"]["service"].as_str().unwrap();
        for (path, file) in lib["secrets"]["files"].as_object().unwrap() {
            let keys = strings(&file["keys"]);
            let service = file["service"].as_str().unwrap();
            for host in strings(&file["hosts"]) {
                for key in &keys {
                    assert!(
                        by_host[&host].get(format!("{service}/{key}")).is_some(),
                        "{set}: {host} can decrypt {path}, whose {key} it does not use"
                    );
                }
                if host == server && service != server {
                    assert_eq!(
                        keys,
                        ["db_password"],
                        "{set}: the database server reads {path}"
                    );
                }
            }
        }
    }

    // And each secret a host is given is used by its configuration: its path
    // or placeholder appears outside the sops options (the database server's
    // passwords are read by the lib's passwordSql).
    let lib = lib_outputs(MAIN.1);
    let f = Fixture::new(MAIN.1);
    let hosts = real_eval_all(MAIN.1, &f);
    let password_sql = lib["password_sql"].as_str().unwrap();
    for (name, c) in hosts.as_object().unwrap() {
        let sops = get(c, "sops");
        let placeholders = sops["placeholder"].as_object().cloned().unwrap_or_default();
        let mut rest = c.clone();
        rest.as_object_mut().unwrap().remove("sops");
        rest.as_object_mut().unwrap().remove("nixmox");
        let rest = rest.to_string() + &sops["templates"].to_string();
        for (secret, v) in sops["secrets"].as_object().unwrap() {
            let path = v["path"].as_str().unwrap();
            let used = rest.contains(path)
                || placeholders
                    .get(secret)
                    .and_then(Value::as_str)
                    .is_some_and(|p| rest.contains(p))
                || password_sql.contains(&format!("{path}'"));
            assert!(
                used,
                "main/{name}: secret {secret} is decrypted but never used"
            );
        }
    }
}
