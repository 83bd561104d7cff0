//! The last deploy or rollback of a service: from the audit log at start,
//! then from this console's operations.

use crate::backend::outcome::OutcomeKind;
use std::time::SystemTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastDeploy {
    pub at: SystemTime,
    /// What happened: deployed, rolled back, failed, ...
    pub outcome: OutcomeKind,
    /// The operation, e.g. "deploy vaultwarden" or "rollback grafana to gen 2".
    pub what: String,
    /// How it ended in words, with the step and reason of a failure (known
    /// for this console's operations; the audit log's give none).
    pub detail: Option<String>,
}
