//! `nixmox lab gen-manifest`: a valid manifest of N hosts for benchmarks and
//! scale tests. A few core services with no dependencies, then application
//! services that each depend on one or two earlier services (a tree of
//! fan-out 4, so a few deploy waves), every one with an HTTP liveness probe.

use super::error::LabError;
use serde_json::{json, Map, Value};

/// The most hosts a generated manifest has (the /16's addresses).
pub const MAX_HOSTS: usize = 60_000;

/// `nixmox lab gen-manifest`: a valid manifest (JSON) with `hosts` hosts.
pub fn gen_manifest(hosts: usize) -> Result<Value, LabError> {
    if hosts == 0 || hosts > MAX_HOSTS {
        return Err(LabError::HostCount {
            hosts,
            max: MAX_HOSTS,
        });
    }
    Ok(manifest(hosts))
}

fn manifest(n: usize) -> Value {
    // A /24 holds up to 240 hosts (.10 - .249); more go into a /16.
    let small = n <= 240;
    let (cidr, gateway, domain) = if small {
        ("192.168.99.0/24", "192.168.99.1", "lab.test")
    } else {
        ("10.99.0.0/16", "10.99.0.1", "lab.test")
    };
    let ip = |i: usize| -> String {
        if small {
            format!("192.168.99.{}", 10 + i)
        } else {
            format!("10.99.{}.{}", 1 + i / 250, 2 + i % 250)
        }
    };
    let width = n.to_string().len().max(2);
    let name = |i: usize| format!("svc{:0width$}", i + 1);
    let core_count = n.div_ceil(10).max(1).min(n);
    let mut core = Map::new();
    let mut apps = Map::new();
    for i in 0..n {
        let nm = name(i);
        let port = 8000 + (i % 1000) as u16;
        let mut deps: Vec<String> = Vec::new();
        if i >= core_count {
            deps.push(name((i - core_count) / 4));
            let second = i % core_count;
            if !deps.contains(&name(second)) {
                deps.push(name(second));
            }
        }
        let svc = json!({
            "enable": true,
            "ip": ip(i),
            "hostname": format!("{nm}.{domain}"),
            "depends_on": deps,
            "ports": [port],
            "interface": {
                "proxy": {
                    "domain": format!("{nm}.{domain}"),
                    "path": "/",
                    "upstream": format!("{}:{port}", ip(i)),
                    "tls": true,
                    "authz": false
                },
                "health": {
                    "startup": format!("systemctl is-active --quiet {nm}"),
                    "liveness": format!("curl -f -s http://localhost:{port}/health"),
                    "interval": 10,
                    "timeout": 5,
                    "retries": 3
                },
                "logs": { "unit": nm }
            }
        });
        if i < core_count {
            core.insert(nm, svc);
        } else {
            apps.insert(nm, svc);
        }
    }
    json!({
        "network": {
            "gateway": gateway,
            "network_cidr": cidr,
            "domain": domain,
            "dns_server": ip(0)
        },
        "core_services": core,
        "services": apps
    })
}
