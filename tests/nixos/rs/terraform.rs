//! Terraform (finding 5). No Terraform or OpenTofu CLI can be installed from
//! this machine's registries (README, nixos/), so this checks what Terraform
//! would when it loads `containers.auto.tfvars.json`: the file declares only
//! the typed variable `containers`, and each container converts to its object
//! type exactly (nothing missing, nothing Terraform would drop, right kinds);
//! and that the root module reads only attributes the type has.

use super::*;

/// A Terraform type constraint.
#[derive(Debug, Clone, PartialEq)]
enum Ty {
    String,
    Number,
    Bool,
    Any,
    List(Box<Ty>),
    Map(Box<Ty>),
    Object(Vec<(String, Ty, bool)>), // name, type, optional
}

struct Parser<'a> {
    toks: Vec<&'a str>,
    at: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Parser<'a> {
        let mut toks = Vec::new();
        let mut start = None;
        for (i, c) in src.char_indices() {
            let word = c.is_ascii_alphanumeric() || c == '_';
            match (word, start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    toks.push(&src[s..i]);
                    start = None;
                }
                _ => {}
            }
            if "(){}=,".contains(c) {
                toks.push(&src[i..i + c.len_utf8()]);
            }
        }
        if let Some(s) = start {
            toks.push(&src[s..]);
        }
        Parser { toks, at: 0 }
    }

    fn next(&mut self) -> &'a str {
        let t = self.toks.get(self.at).copied().unwrap_or("");
        self.at += 1;
        t
    }

    fn expect(&mut self, t: &str) {
        let got = self.next();
        assert_eq!(got, t, "type expression: expected {t:?}, got {got:?}");
    }

    fn ty(&mut self) -> Ty {
        match self.next() {
            "string" => Ty::String,
            "number" => Ty::Number,
            "bool" => Ty::Bool,
            "any" => Ty::Any,
            w @ ("list" | "set" | "map") => {
                self.expect("(");
                let inner = Box::new(self.ty());
                self.expect(")");
                if w == "map" {
                    Ty::Map(inner)
                } else {
                    Ty::List(inner)
                }
            }
            "object" => {
                self.expect("(");
                self.expect("{");
                let mut attrs = Vec::new();
                loop {
                    let name = self.next();
                    if name == "}" {
                        break;
                    }
                    self.expect("=");
                    let (ty, optional) = if self.toks[self.at] == "optional" {
                        self.next();
                        self.expect("(");
                        let t = self.ty();
                        self.expect(")");
                        (t, true)
                    } else {
                        (self.ty(), false)
                    };
                    attrs.push((name.to_string(), ty, optional));
                    if self.toks[self.at] == "," {
                        self.next();
                    }
                }
                self.expect(")");
                Ty::Object(attrs)
            }
            other => panic!("type expression: unexpected {other:?}"),
        }
    }
}

/// The type of `variable "<name>"` in a .tf file.
fn variable_type(tf: &str, name: &str) -> Ty {
    let block = tf
        .split(&format!("variable \"{name}\" {{"))
        .nth(1)
        .unwrap_or_else(|| panic!("no variable {name:?}"));
    let ty = block
        .split_once("type = ")
        .or_else(|| block.split_once("type        = "))
        .unwrap_or_else(|| panic!("variable {name:?} has no type"))
        .1;
    Parser::new(ty).ty()
}

/// Where `v` does not convert to `ty` the way Terraform would take it whole.
fn conform(v: &Value, ty: &Ty, at: &str, problems: &mut Vec<String>) {
    match (ty, v) {
        (_, Value::Null) | (Ty::Any, _) => {}
        (Ty::String, Value::String(_))
        | (Ty::Number, Value::Number(_))
        | (Ty::Bool, Value::Bool(_)) => {}
        (Ty::List(t), Value::Array(items)) => {
            for (i, x) in items.iter().enumerate() {
                conform(x, t, &format!("{at}[{i}]"), problems);
            }
        }
        (Ty::Map(t), Value::Object(m)) => {
            for (k, x) in m {
                conform(x, t, &format!("{at}.{k}"), problems);
            }
        }
        (Ty::Object(attrs), Value::Object(m)) => {
            for (name, t, optional) in attrs {
                match m.get(name) {
                    Some(x) => conform(x, t, &format!("{at}.{name}"), problems),
                    None if *optional => {}
                    None => problems.push(format!("{at}: attribute {name:?} is required")),
                }
            }
            for k in m.keys() {
                if !attrs.iter().any(|(n, _, _)| n == k) {
                    problems.push(format!(
                        "{at}.{k}: not in the variable's type (Terraform would drop it)"
                    ));
                }
            }
        }
        _ => problems.push(format!("{at}: {v} is not a {ty:?}")),
    }
}

fn terraform_file(name: &str) -> String {
    fs::read_to_string(repo().join("nixos/terraform").join(name)).unwrap()
}

#[test]
fn terraform_tfvars_match_the_typed_variable() {
    let ty = variable_type(&terraform_file("variables.tf"), "containers");
    let Ty::Map(container) = &ty else {
        panic!("containers is not a map: {ty:?}")
    };
    let Ty::Object(attrs) = container.as_ref() else {
        panic!("a container is not an object: {container:?}")
    };
    for (set, manifest) in [MAIN, OTHER] {
        let tfvars = nix_eval(&lib_expr(manifest, "{ }", "terraform.tfvars"));
        let keys: Vec<&String> = tfvars.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["containers"],
            "{set}: top-level keys of the tfvars file"
        );
        let mut problems = Vec::new();
        conform(&tfvars["containers"], &ty, "containers", &mut problems);
        assert!(problems.is_empty(), "{set}:\n{}", problems.join("\n"));
        let names: BTreeSet<String> = tfvars["containers"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            names,
            enabled_services(manifest).into_iter().collect(),
            "{set}"
        );
    }
    // The file the README tells to write is that same value.
    assert_eq!(
        nix_eval("import ./nixos/terraform/tfvars.nix"),
        nix_eval(&lib_expr(MAIN.1, "{ }", "terraform.tfvars"))
    );
    let vw = nix_eval(&lib_expr(
        MAIN.1,
        "{ }",
        "terraform.tfvars.containers.vaultwarden",
    ));
    assert_eq!(vw["ipv4_address"], "192.168.99.14/24");
    assert_eq!(vw["ipv4_gateway"], "192.168.99.1");
    assert_eq!(vw["dns_servers"], serde_json::json!(["192.168.99.13"]));
    assert_eq!(vw["vlan_id"], 99);

    // The root module reads only attributes the type has, and all of them.
    let main = terraform_file("main.tf");
    let used: BTreeSet<&str> = main
        .split("each.value.")
        .skip(1)
        .map(|s| {
            s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .next()
                .unwrap()
        })
        .collect();
    let declared: BTreeSet<&str> = attrs.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        used, declared,
        "each.value.* in main.tf vs the variable's attributes"
    );
    // One NixOS LXC per service, as the issue asks of the bpg provider.
    for needed in [
        "resource \"proxmox_virtual_environment_container\" \"service\"",
        "for_each = var.containers",
        "type             = \"nixos\"",
        "nesting = true",
        "unprivileged  = true",
        "ip_config {",
        "servers = each.value.dns_servers",
        "vlan_id = each.value.vlan_id",
        "source  = \"bpg/proxmox\"",
    ] {
        assert!(
            main.contains(needed) || terraform_file("versions.tf").contains(needed),
            "missing {needed:?}"
        );
    }
    assert!(
        !main
            .lines()
            .any(|l| !l.trim_start().starts_with('#') && l.contains("depends_on")),
        "containers are independent"
    );
}

/// `terraform fmt`'s conventions that can be checked without Terraform: two
/// spaces per nesting level, `=` aligned within a run of one-line
/// attributes at the same level (a multi-line value ends the run), no tabs
/// or trailing blanks, one final newline.
#[test]
fn terraform_files_follow_fmt_conventions() {
    let dir = repo().join("nixos/terraform");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tf"))
        .collect();
    files.sort();
    assert!(files.len() >= 3);
    for f in files {
        let text = fs::read_to_string(&f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            text.ends_with('\n') && !text.ends_with("\n\n"),
            "{name}: final newline"
        );
        let mut depth: i64 = 0;
        // A run of one-line attributes: (line, indent, end of key, '=' column).
        let mut run: Vec<(usize, usize, usize, usize)> = Vec::new();
        let check_run = |run: &mut Vec<(usize, usize, usize, usize)>| {
            if let Some(longest) = run.iter().map(|r| r.2).max() {
                for &(line, _, _, col) in run.iter() {
                    assert_eq!(
                        col,
                        longest + 1,
                        "{name}:{line}: '=' not aligned one space after the longest key of its run"
                    );
                }
            }
            run.clear();
        };
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            assert!(
                !line.contains('\t') && !line.ends_with(' '),
                "{name}:{n}: tab or trailing blank"
            );
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            let closes = trimmed.starts_with(['}', ')', ']']);
            let level = depth - i64::from(closes);
            if !trimmed.is_empty() {
                assert_eq!(indent as i64, 2 * level, "{name}:{n}: indentation");
            }
            let opens = trimmed.chars().filter(|c| "{([".contains(*c)).count() as i64;
            let shuts = trimmed.chars().filter(|c| "})]".contains(*c)).count() as i64;
            let attr = trimmed.split_once('=').filter(|(k, v)| {
                let k = k.trim_end();
                !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                    && v.starts_with(' ')
                    && !trimmed.starts_with('#')
            });
            match attr {
                Some((k, _)) if opens == shuts => {
                    if run.last().is_some_and(|r| r.1 != indent) {
                        check_run(&mut run);
                    }
                    run.push((
                        n,
                        indent,
                        indent + k.trim_end().len(),
                        line.find('=').unwrap(),
                    ));
                }
                _ => check_run(&mut run),
            }
            // terraform fmt indents one level per line, however many
            // brackets the line opens (`type = map(object({`).
            depth += (opens - shuts).signum();
        }
        check_run(&mut run);
        assert_eq!(depth, 0, "{name}: unbalanced brackets");
    }
}
