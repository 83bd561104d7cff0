//! Untyped manifest (JSON as Nix evaluated it) → typed `Manifest`, reporting
//! every problem at once with its attribute path.

use super::attrs::{describe, expect_uint, Attrs};
use super::diagnostic::{AttrPath, Diagnostics};
use super::graph::DepGraph;
use super::model::*;
use super::names::*;
use super::net::{parse_ipv4, Cidr};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

const TOP_KEYS: &[&str] = &["network", "core_services", "services", "deploy"];
const NETWORK_KEYS: &[&str] = &[
    "dns_server",
    "gateway",
    "network_cidr",
    "domain",
    "vlan_tag",
];
const SERVICE_KEYS: &[&str] = &[
    "enable",
    "ip",
    "hostname",
    "depends_on",
    "ports",
    "interface",
];
const INTERFACE_KEYS: &[&str] = &["terraform", "db", "proxy", "auth", "health", "logs"];
const TERRAFORM_KEYS: &[&str] = &["modules", "targets", "variables"];
const DB_KEYS: &[&str] = &["name", "port", "mode", "owner", "extensions"];
const PROXY_KEYS: &[&str] = &["domain", "path", "upstream", "tls", "authz"];
const AUTH_KEYS: &[&str] = &["type", "provider", "oidc"];
const HEALTH_KEYS: &[&str] = &["startup", "liveness", "interval", "timeout", "retries"];
const LOGS_KEYS: &[&str] = &["unit"];

/// The outcome of validation: the typed manifest only when there are no
/// errors; warnings either way.
#[derive(Debug)]
pub struct Report {
    pub manifest: Option<Manifest>,
    pub diagnostics: Diagnostics,
}

pub fn validate(root: &Value) -> Report {
    let mut d = Diagnostics::default();
    let manifest = build(root, &mut d);
    let manifest = if d.has_errors() { None } else { manifest };
    Report {
        manifest,
        diagnostics: d,
    }
}

fn build(root: &Value, d: &mut Diagnostics) -> Option<Manifest> {
    let top = Attrs::new(root, AttrPath::root(), TOP_KEYS, d)?;
    let extra = top.unknown(d);
    let network = top
        .required("network", d)
        .and_then(|v| network(v, top.at("network"), d));

    let mut services = BTreeMap::new();
    let mut facts: Vec<Facts> = Vec::new();
    let mut groups: HashMap<&str, Group> = HashMap::new();
    let mut any_group = false;
    for group in [Group::CoreServices, Group::Services] {
        let Some(value) = top.get(group.attr()) else {
            continue;
        };
        any_group = true;
        let Some(attrs) = Attrs::new(value, top.at(group.attr()), &[], d) else {
            continue;
        };
        for (name, value) in attrs.entries() {
            let path = attrs.at(name);
            if !is_service_name(name) {
                d.error(
                    &path,
                    format!("{name:?} is not a safe service name ({SERVICE_NAME_RULE})"),
                );
                continue;
            }
            if let Some(first) = groups.get(name.as_str()) {
                d.error(
                    &path,
                    format!(
                        "service \"{name}\" is already defined in {}.{name} (names must be unique across core_services and services)",
                        first.attr()
                    ),
                );
                continue;
            }
            groups.insert(name.as_str(), group);
            let (fact, svc) = service(name, group, value, path, network.as_ref(), d);
            facts.extend(fact);
            if let Some(svc) = svc {
                services.insert(name.clone(), svc);
            }
        }
    }
    if !any_group {
        d.error(
            &AttrPath::root(),
            "no services: define core_services and/or services",
        );
    }

    cross_checks(&facts, d);
    if let Some(v) = top.get("deploy") {
        deploy_gate(v, &top.at("deploy"), d);
    }
    Some(Manifest {
        network: network?,
        services,
        deploy: top.get("deploy").cloned(),
        extra,
    })
}

/// `deploy.gate`, when given, names one of the gates. The rest of `deploy`
/// (command templates) is checked where it is resolved.
fn deploy_gate(v: &Value, path: &AttrPath, d: &mut Diagnostics) {
    let Some(gate) = v.get("gate") else {
        return;
    };
    let ok = gate.as_str().and_then(Gate::parse).is_some();
    if !ok {
        d.error(
            &path.key("gate"),
            format!(
                "{} is not a gate: use \"startup\" (the unit runs), \"liveness\" (it answers) or \"both\" (the default)",
                describe(gate)
            ),
        );
    }
}

fn network(v: &Value, path: AttrPath, d: &mut Diagnostics) -> Option<Network> {
    let a = Attrs::new(v, path, NETWORK_KEYS, d)?;
    let gateway = a
        .string("gateway", true, d)
        .and_then(|s| ip_at(&s, &a.at("gateway"), d));
    let cidr = a.string("network_cidr", true, d).and_then(|s| {
        s.parse::<Cidr>()
            .map_err(|e| d.error(&a.at("network_cidr"), e))
            .ok()
    });
    let domain = a.string("domain", true, d).and_then(|s| {
        if is_dns_name(&s) {
            Some(s)
        } else {
            d.error(&a.at("domain"), format!("{s:?} is not a valid DNS domain"));
            None
        }
    });
    let dns_server = a
        .string("dns_server", false, d)
        .and_then(|s| ip_at(&s, &a.at("dns_server"), d));
    let vlan_tag = a
        .uint("vlan_tag", false, 1, 4094, "a VLAN id", d)
        .map(|n| n as u16);
    let extra = a.unknown(d);
    if let (Some(gw), Some(c)) = (gateway, cidr) {
        if !c.contains(gw) {
            d.error(
                &a.at("gateway"),
                format!("{gw} is not inside network_cidr {c}"),
            );
        }
    }
    if let (Some(dns), Some(c)) = (dns_server, cidr) {
        if !c.contains(dns) {
            d.warn(
                &a.at("dns_server"),
                format!("{dns} is outside network_cidr {c}"),
            );
        }
    }
    Some(Network {
        gateway: gateway?,
        network_cidr: cidr?,
        domain: domain?,
        dns_server,
        vlan_tag,
        extra,
    })
}

fn ip_at(s: &str, path: &AttrPath, d: &mut Diagnostics) -> Option<Ipv4Addr> {
    parse_ipv4(s).map_err(|e| d.error(path, e)).ok()
}

fn service(
    name: &str,
    group: Group,
    v: &Value,
    path: AttrPath,
    network: Option<&Network>,
    d: &mut Diagnostics,
) -> (Option<Facts>, Option<Service>) {
    let Some(a) = Attrs::new(v, path, SERVICE_KEYS, d) else {
        return (None, None);
    };
    let enable = a.boolean("enable", d).unwrap_or(true);
    let ip = a
        .string("ip", true, d)
        .and_then(|s| ip_at(&s, &a.at("ip"), d));
    if let (Some(ip), Some(net)) = (ip, network) {
        check_host_ip(ip, net, &a.at("ip"), d);
    }
    let hostname = a.string("hostname", true, d).and_then(|s| {
        if is_dns_name(&s) {
            Some(s)
        } else {
            d.error(&a.at("hostname"), format!("{s:?} is not a valid host name"));
            None
        }
    });
    let depends_on = a.strings("depends_on", d).unwrap_or_default();
    let ports = ports(&a, d);
    let interface = match a.get("interface") {
        Some(v) => interface(v, a.at("interface"), ip, d),
        None => Some(Interface::default()),
    };
    let extra = a.unknown(d);
    let facts = Facts {
        name: name.to_string(),
        group,
        enable,
        ip,
        hostname: hostname.clone(),
        depends_on: depends_on.clone(),
        auth_provider: v
            .pointer("/interface/auth/provider")
            .and_then(Value::as_str)
            .map(str::to_string),
        has_health: v.pointer("/interface/health").is_some(),
    };
    let svc = build_service(
        name, group, enable, ip, hostname, depends_on, ports, interface, extra,
    );
    (Some(facts), svc)
}

/// What cross-service checks need to know of a service, gathered even when
/// some of its own fields are invalid, so one run reports both kinds.
struct Facts {
    name: String,
    group: Group,
    enable: bool,
    ip: Option<Ipv4Addr>,
    hostname: Option<String>,
    depends_on: Vec<String>,
    auth_provider: Option<String>,
    has_health: bool,
}

impl Facts {
    fn path(&self) -> AttrPath {
        AttrPath::root().key(self.group.attr()).key(&self.name)
    }
}

#[allow(clippy::too_many_arguments)]
fn build_service(
    name: &str,
    group: Group,
    enable: bool,
    ip: Option<Ipv4Addr>,
    hostname: Option<String>,
    depends_on: Vec<String>,
    ports: Option<Vec<u16>>,
    interface: Option<Interface>,
    extra: serde_json::Map<String, Value>,
) -> Option<Service> {
    Some(Service {
        name: name.to_string(),
        group,
        enable,
        ip: ip?,
        hostname: hostname?,
        depends_on,
        ports: ports?,
        interface: interface?,
        extra,
    })
}

fn check_host_ip(ip: Ipv4Addr, net: &Network, path: &AttrPath, d: &mut Diagnostics) {
    let c = net.network_cidr;
    if !c.contains(ip) {
        d.error(path, format!("{ip} is not inside network_cidr {c}"));
    } else if ip == c.network || (c.prefix < 31 && ip == c.broadcast()) {
        d.error(
            path,
            format!("{ip} is the network or broadcast address of {c}"),
        );
    } else if ip == net.gateway {
        d.error(path, format!("{ip} is the network gateway"));
    }
}

fn ports(a: &Attrs, d: &mut Diagnostics) -> Option<Vec<u16>> {
    let Some(v) = a.get("ports") else {
        return Some(Vec::new());
    };
    let path = a.at("ports");
    let Value::Array(items) = v else {
        d.error(
            &path,
            format!("expected a list of port numbers, got {}", describe(v)),
        );
        return None;
    };
    let parsed: Vec<Option<u16>> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            expect_uint(item, &path.index(i), 1, 65535, "a port number", d).map(|n| n as u16)
        })
        .collect();
    parsed.into_iter().collect()
}

fn interface(
    v: &Value,
    path: AttrPath,
    own_ip: Option<Ipv4Addr>,
    d: &mut Diagnostics,
) -> Option<Interface> {
    let a = Attrs::new(v, path, INTERFACE_KEYS, d)?;
    // Each part is parsed even when an earlier one failed, so one run
    // reports all of them; `?` only at the end.
    let terraform = a
        .get("terraform")
        .map(|v| terraform(v, a.at("terraform"), d));
    let db = a.get("db").map(|v| db(v, a.at("db"), d));
    let proxy = a.get("proxy").map(|v| proxy(v, a.at("proxy"), own_ip, d));
    let auth = a.get("auth").map(|v| auth(v, a.at("auth"), d));
    let health = a.get("health").map(|v| health(v, a.at("health"), d));
    let logs = a.get("logs").map(|v| logs(v, a.at("logs"), d));
    let extra = a.unknown(d);
    Some(Interface {
        terraform: optional_part(terraform)?,
        db: optional_part(db)?,
        proxy: optional_part(proxy)?,
        auth: optional_part(auth)?,
        health: optional_part(health)?,
        logs: optional_part(logs)?,
        extra,
    })
}

/// An optional part: absent is fine (`Some(None)`), present but invalid
/// fails the whole (`None`).
fn optional_part<T>(part: Option<Option<T>>) -> Option<Option<T>> {
    match part {
        None => Some(None),
        Some(parsed) => parsed.map(Some),
    }
}

fn terraform(v: &Value, path: AttrPath, d: &mut Diagnostics) -> Option<Terraform> {
    let a = Attrs::new(v, path, TERRAFORM_KEYS, d)?;
    let modules = a.strings("modules", d);
    let targets = a.strings("targets", d);
    let variables = a.object("variables", d).cloned();
    let bad = (a.get("modules").is_some() && modules.is_none())
        || (a.get("targets").is_some() && targets.is_none())
        || (a.get("variables").is_some() && variables.is_none());
    let extra = a.unknown(d);
    (!bad).then(|| Terraform {
        modules: modules.unwrap_or_default(),
        targets: targets.unwrap_or_default(),
        variables: variables.unwrap_or_default(),
        extra,
    })
}

fn db(v: &Value, path: AttrPath, d: &mut Diagnostics) -> Option<Db> {
    let a = Attrs::new(v, path, DB_KEYS, d)?;
    let name = a.string("name", true, d).and_then(|s| {
        if is_pg_ident(&s) {
            Some(s)
        } else {
            d.error(
                &a.at("name"),
                format!("{s:?} is not a safe database name (lowercase letters, digits and \"_\", at most 63)"),
            );
            None
        }
    });
    let port = a.uint("port", false, 1, 65535, "a port number", d);
    let port_ok = a.get("port").is_none() || port.is_some();
    let mode = a.string("mode", false, d);
    let owner = a.string("owner", false, d);
    let owner_ok = match &owner {
        Some(o) if !is_pg_ident(o) => {
            d.error(
                &a.at("owner"),
                format!("{o:?} is not a safe role name (lowercase letters, digits and \"_\", at most 63)"),
            );
            false
        }
        _ => a.get("owner").is_none() || owner.is_some(),
    };
    let extensions = a.strings("extensions", d);
    let mut ext_ok = a.get("extensions").is_none() || extensions.is_some();
    for (i, e) in extensions.iter().flatten().enumerate() {
        if !is_pg_extension(e) {
            d.error(
                &a.at("extensions").index(i),
                format!("{e:?} is not a valid extension name"),
            );
            ext_ok = false;
        }
    }
    let extra = a.unknown(d);
    let port = port.map(|p| p as u16);
    (port_ok && owner_ok && ext_ok).then_some(())?;
    Some(Db {
        name: name?,
        port,
        mode,
        owner,
        extensions: extensions.unwrap_or_default(),
        extra,
    })
}

fn proxy(
    v: &Value,
    path: AttrPath,
    own_ip: Option<Ipv4Addr>,
    d: &mut Diagnostics,
) -> Option<Proxy> {
    let a = Attrs::new(v, path, PROXY_KEYS, d)?;
    let domain = a.string("domain", true, d).and_then(|s| {
        if is_dns_name(&s) {
            Some(s)
        } else {
            d.error(&a.at("domain"), format!("{s:?} is not a valid domain"));
            None
        }
    });
    let path_value = match a.string("path", false, d) {
        Some(p) if p.starts_with('/') && !p.chars().any(char::is_whitespace) => Some(p),
        Some(p) => {
            d.error(
                &a.at("path"),
                format!("{p:?} must start with \"/\" and contain no spaces"),
            );
            None
        }
        None if a.get("path").is_some() => None,
        None => Some("/".to_string()),
    };
    let upstream = a
        .string("upstream", true, d)
        .and_then(|s| upstream(&s, &a.at("upstream"), own_ip, d));
    let tls = a.boolean("tls", d);
    let authz = a.boolean("authz", d);
    let bools_ok =
        (a.get("tls").is_none() || tls.is_some()) && (a.get("authz").is_none() || authz.is_some());
    let extra = a.unknown(d);
    bools_ok.then_some(())?;
    Some(Proxy {
        domain: domain?,
        path: path_value?,
        upstream: upstream?,
        tls: tls.unwrap_or(true),
        authz: authz.unwrap_or(false),
        extra,
    })
}

fn upstream(
    s: &str,
    path: &AttrPath,
    own_ip: Option<Ipv4Addr>,
    d: &mut Diagnostics,
) -> Option<Upstream> {
    let parsed = s.rsplit_once(':').and_then(|(host, port)| {
        let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
        (is_dns_name(host) || parse_ipv4(host).is_ok()).then(|| Upstream {
            host: host.to_string(),
            port,
        })
    });
    match parsed {
        Some(u) => {
            if let (Ok(ip), Some(own)) = (parse_ipv4(&u.host), own_ip) {
                if ip != own {
                    d.warn(
                        path,
                        format!("upstream {ip} is not this service's own ip {own}"),
                    );
                }
            }
            Some(u)
        }
        None => {
            d.error(
                path,
                format!("{s:?} is not host:port (e.g. \"192.168.99.14:8080\")"),
            );
            None
        }
    }
}

fn auth(v: &Value, path: AttrPath, d: &mut Diagnostics) -> Option<Auth> {
    let a = Attrs::new(v, path, AUTH_KEYS, d)?;
    let kind = a.string("type", true, d);
    let provider = a.string("provider", true, d);
    let oidc = a.get("oidc").and_then(|v| {
        if v.is_object() {
            Some(v.clone())
        } else {
            d.error(
                &a.at("oidc"),
                format!("expected an attribute set, got {}", describe(v)),
            );
            None
        }
    });
    let oidc_ok = a.get("oidc").is_none() || oidc.is_some();
    let extra = a.unknown(d);
    oidc_ok.then_some(())?;
    Some(Auth {
        kind: kind?,
        provider: provider?,
        oidc,
        extra,
    })
}

fn health(v: &Value, path: AttrPath, d: &mut Diagnostics) -> Option<Health> {
    let a = Attrs::new(v, path, HEALTH_KEYS, d)?;
    let mut command = |key: &str| {
        let s = a.string(key, true, d)?;
        if s.trim().is_empty() {
            d.error(&a.at(key), "health command is empty");
            return None;
        }
        Some(s)
    };
    let startup = command("startup");
    let liveness = command("liveness");
    let interval = a.uint(
        "interval",
        true,
        1,
        86_400,
        "a positive number of seconds",
        d,
    );
    let timeout = a.uint(
        "timeout",
        true,
        1,
        86_400,
        "a positive number of seconds",
        d,
    );
    let retries = a.uint("retries", true, 1, 1000, "a positive count", d);
    a.unknown(d);
    Some(Health {
        startup: startup?,
        liveness: liveness?,
        interval: interval?,
        timeout: timeout?,
        retries: retries? as u32,
    })
}

fn logs(v: &Value, path: AttrPath, d: &mut Diagnostics) -> Option<Logs> {
    let a = Attrs::new(v, path, LOGS_KEYS, d)?;
    let unit = a.string("unit", true, d).and_then(|u| {
        if is_unit_name(&u) {
            Some(u)
        } else {
            d.error(&a.at("unit"), format!("{u:?} is not a systemd unit name"));
            None
        }
    });
    a.unknown(d);
    Some(Logs { unit: unit? })
}

/// Checks that relate services to each other: references, uniqueness, cycles.
fn cross_checks(facts: &[Facts], d: &mut Diagnostics) {
    let by_name: HashMap<&str, &Facts> = facts.iter().map(|f| (f.name.as_str(), f)).collect();
    // Core services first, so "already used by" names the earlier definition.
    let mut ordered: Vec<&Facts> = facts.iter().collect();
    ordered.sort_by_key(|f| (f.group, f.name.clone()));

    let mut ips: HashMap<Ipv4Addr, &Facts> = HashMap::new();
    let mut hostnames: HashMap<String, &Facts> = HashMap::new();
    for svc in &ordered {
        if let Some(ip) = svc.ip {
            match ips.get(&ip) {
                Some(first) => d.error(
                    &svc.path().key("ip"),
                    format!("{ip} is already used by {}", first.path()),
                ),
                None => {
                    ips.insert(ip, svc);
                }
            }
        }
        if let Some(hostname) = &svc.hostname {
            match hostnames.get(&hostname.to_ascii_lowercase()) {
                Some(first) => d.error(
                    &svc.path().key("hostname"),
                    format!("{hostname:?} is already used by {}", first.path()),
                ),
                None => {
                    hostnames.insert(hostname.to_ascii_lowercase(), svc);
                }
            }
        }
    }

    for svc in &ordered {
        let deps_path = svc.path().key("depends_on");
        let mut seen = Vec::new();
        for (i, dep) in svc.depends_on.iter().enumerate() {
            let at = deps_path.index(i);
            if seen.contains(&dep) {
                d.warn(&at, format!("\"{dep}\" is listed twice"));
                continue;
            }
            seen.push(dep);
            match by_name.get(dep.as_str()) {
                None => d.error(&at, format!("unknown service {dep:?}")),
                Some(_) if dep == &svc.name => d.error(&at, "a service cannot depend on itself"),
                Some(target) if svc.enable && !target.enable => d.warn(
                    &at,
                    format!("depends on \"{dep}\", which is disabled (enable = false)"),
                ),
                Some(_) => {}
            }
        }
        if let Some(provider) = &svc.auth_provider {
            let at = svc.path().key("interface").key("auth").key("provider");
            match by_name.get(provider.as_str()) {
                None => d.error(
                    &at,
                    format!(
                        "unknown service {provider:?} (an auth provider must be a service in this manifest)"
                    ),
                ),
                Some(p) if p.name == svc.name => {
                    d.error(&at, "a service cannot be its own auth provider")
                }
                Some(p) => {
                    if svc.enable && !p.enable {
                        d.warn(
                            &at,
                            format!("auth provider \"{}\" is disabled (enable = false)", p.name),
                        );
                    }
                    if !svc.depends_on.contains(&p.name) {
                        d.warn(
                            &at,
                            format!(
                                "auth provider \"{}\" is not in depends_on, so deploys will not wait for it",
                                p.name
                            ),
                        );
                    }
                }
            }
        }
        if !svc.has_health && svc.enable {
            d.warn(
                &svc.path().key("interface").key("health"),
                "no health check: status will stay unknown and deploys have no health gate",
            );
        }
    }

    // Cycles are judged over every service, enabled or not: the manifest is
    // wrong either way, and enabling one later must not surprise anyone.
    let graph = DepGraph::new(facts.iter().map(|f| (f.name.clone(), f.depends_on.clone())));
    for cycle in graph.cycles() {
        let first = by_name[cycle[0].as_str()];
        let mut text = cycle.join(" -> ");
        text.push_str(" -> ");
        text.push_str(&cycle[0]);
        d.error(
            &first.path().key("depends_on"),
            format!("dependency cycle: {text}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with_deploy(deploy: Value) -> Report {
        validate(&json!({
            "network": {
                "gateway": "10.20.0.1",
                "network_cidr": "10.20.0.0/24",
                "domain": "lab.test"
            },
            "services": {
                "web": { "enable": true, "ip": "10.20.0.11", "hostname": "web.lab.test" }
            },
            "deploy": deploy
        }))
    }

    #[test]
    fn the_gate_defaults_to_both_and_takes_each_name() {
        let m = with_deploy(json!({})).manifest.unwrap();
        assert_eq!(m.gate(), Gate::Both);
        for (name, gate) in Gate::NAMES
            .iter()
            .zip([Gate::Startup, Gate::Liveness, Gate::Both])
        {
            let m = with_deploy(json!({ "gate": name })).manifest.unwrap();
            assert_eq!(m.gate(), gate);
        }
    }

    #[test]
    fn an_unknown_gate_is_an_error_at_its_path() {
        let r = with_deploy(json!({ "gate": "http" }));
        assert!(r.manifest.is_none());
        let errors = |r: &Report| -> Vec<String> {
            r.diagnostics.errors.iter().map(|d| d.to_string()).collect()
        };
        let text = errors(&r).join("\n");
        assert!(
            text.contains("deploy.gate") && text.contains("a string (\"http\") is not a gate"),
            "{text}"
        );
        let r = with_deploy(json!({ "gate": 3 }));
        let text = errors(&r).join("\n");
        assert!(text.contains("an integer (3) is not a gate"), "{text}");
    }
}
