//! The typed manifest, in the seed's schema. Built only by `validate`, so a
//! value of these types has passed every check.

use super::net::Cidr;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub network: Network,
    /// Core and application services together, by name. Names are unique
    /// across both groups (validation guarantees it).
    pub services: BTreeMap<String, Service>,
    /// Optional extension: operation settings (see README, "Manifest extensions").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Value>,
    /// Top-level keys this tool does not know, kept as written.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

/// What a deploy's health gate waits for (`deploy.gate`): the startup
/// probe (the unit runs), the liveness probe (it answers), or both in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Gate {
    Startup,
    Liveness,
    #[default]
    Both,
}

impl Gate {
    pub const NAMES: [&'static str; 3] = ["startup", "liveness", "both"];

    pub fn parse(s: &str) -> Option<Gate> {
        match s {
            "startup" => Some(Gate::Startup),
            "liveness" => Some(Gate::Liveness),
            "both" => Some(Gate::Both),
            _ => None,
        }
    }
}

impl Manifest {
    /// `deploy.gate`, `both` when unset (validation has refused any other
    /// value, so an unparsable one cannot reach here).
    pub fn gate(&self) -> Gate {
        self.deploy
            .as_ref()
            .and_then(|d| d.get("gate"))
            .and_then(Value::as_str)
            .and_then(Gate::parse)
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Network {
    pub gateway: Ipv4Addr,
    pub network_cidr: Cidr,
    pub domain: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_server: Option<Ipv4Addr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan_tag: Option<u16>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    CoreServices,
    Services,
}

impl Group {
    pub fn attr(self) -> &'static str {
        match self {
            Group::CoreServices => "core_services",
            Group::Services => "services",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub name: String,
    pub group: Group,
    pub enable: bool,
    pub ip: Ipv4Addr,
    pub hostname: String,
    pub depends_on: Vec<String>,
    pub ports: Vec<u16>,
    pub interface: Interface,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

impl Service {
    /// The systemd unit whose logs belong to this service
    /// (extension `interface.logs.unit`, default: the service name).
    pub fn log_unit(&self) -> &str {
        self.interface
            .logs
            .as_ref()
            .map_or(self.name.as_str(), |l| l.unit.as_str())
    }

    /// Attribute path of this service, e.g. `core_services.caddy`.
    pub fn attr_path(&self) -> String {
        format!("{}.{}", self.group.attr(), self.name)
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Interface {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terraform: Option<Terraform>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db: Option<Db>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Proxy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<Auth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<Logs>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Terraform {
    pub modules: Vec<String>,
    pub targets: Vec<String>,
    pub variables: Map<String, Value>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Db {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub extensions: Vec<String>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Proxy {
    pub domain: String,
    pub path: String,
    pub upstream: Upstream,
    pub tls: bool,
    pub authz: bool,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct Upstream {
    pub host: String,
    pub port: u16,
}

impl From<Upstream> for String {
    fn from(u: Upstream) -> String {
        format!("{}:{}", u.host, u.port)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Auth {
    #[serde(rename = "type")]
    pub kind: String,
    pub provider: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc: Option<Value>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

/// Kubernetes probe semantics: `startup` until it passes, then `liveness`
/// every `interval` seconds; each run killed after `timeout` seconds;
/// `retries` consecutive failures mean Down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    pub startup: String,
    pub liveness: String,
    pub interval: u64,
    pub timeout: u64,
    pub retries: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Logs {
    pub unit: String,
}
