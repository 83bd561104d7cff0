//! What an operation did to each host, as typed values. The backend decides
//! an outcome once; the CLI (text and JSON), the console and the audit log
//! only render it, so no front end ever guesses from a string.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// A step of an operation on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Deciding whether the host takes part (dependencies, cancellation).
    Plan,
    Lock,
    /// Reading the host's generations (where it is before a change).
    Generations,
    Build,
    /// Comparing the built system with what the host runs (`--changed`).
    Compare,
    Copy,
    Activate,
    Health,
    /// Deploy's automatic switch back after a failed health gate.
    Rollback,
    /// A requested switch to a chosen generation (manual rollback).
    Switch,
    /// Reading back what the host runs after a switch.
    Verify,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Plan => "plan",
            Step::Lock => "lock",
            Step::Generations => "generations",
            Step::Build => "build",
            Step::Compare => "compare",
            Step::Copy => "copy",
            Step::Activate => "activate",
            Step::Health => "health",
            Step::Rollback => "rollback",
            Step::Switch => "switch",
            Step::Verify => "verify",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one host's part of an operation ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Outcome {
    /// The new generation runs and passed the health gate.
    Deployed {
        generation_before: Option<u64>,
        generation_after: Option<u64>,
    },
    /// Nothing was switched: the host already runs what would be deployed.
    Unchanged { generation: Option<u64> },
    /// The host was switched back (after a failed gate, or on request) and
    /// its health checked again.
    RolledBack {
        reason: String,
        /// The profile's current generation as read back after the switch
        /// (`None`: it could not be read, so it is not verified).
        to_generation: Option<u64>,
        healthy_again: bool,
        /// The health gate's last failure after the switch, when not healthy.
        #[serde(skip_serializing_if = "Option::is_none")]
        health_error: Option<String>,
    },
    /// Switching back did not work; the host is where it was read to be.
    RollbackFailed {
        reason: String,
        error: String,
        /// The profile's current generation as read back, if it answered.
        profile_generation: Option<u64>,
        /// The generation the host runs as read back, if it answered and
        /// one matches.
        running_generation: Option<u64>,
    },
    Failed {
        step: Step,
        reason: String,
        output: Vec<String>,
    },
    /// Not attempted because what it depends on did not deploy.
    Skipped {
        /// Also written as a sentence, `reason`, for the JSON's readers.
        #[serde(flatten, serialize_with = "skipped_fields")]
        because: Vec<String>,
    },
    /// Stopped by the operator; `after` is the last step that completed.
    Cancelled { after: Option<Step> },
    /// The process running the operation went away; `found` is what the
    /// host was seen in afterwards.
    Interrupted { found: String },
}

/// An outcome without its details: what history, counters and styles need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeKind {
    Deployed,
    Unchanged,
    RolledBack,
    /// Rolled back, but the health check still fails.
    RolledBackUnhealthy,
    RollbackFailed,
    Failed,
    Skipped,
    Cancelled,
    Interrupted,
}

impl OutcomeKind {
    const ALL: [OutcomeKind; 9] = [
        OutcomeKind::Deployed,
        OutcomeKind::Unchanged,
        OutcomeKind::RolledBack,
        OutcomeKind::RolledBackUnhealthy,
        OutcomeKind::RollbackFailed,
        OutcomeKind::Failed,
        OutcomeKind::Skipped,
        OutcomeKind::Cancelled,
        OutcomeKind::Interrupted,
    ];

    /// The kind whose [`label`](Self::label) is `word` (the audit log's
    /// `done` entries written before they carried the kind itself).
    pub fn from_label(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.label() == word)
    }

    pub fn label(self) -> &'static str {
        match self {
            OutcomeKind::Deployed => "deployed",
            OutcomeKind::Unchanged => "unchanged",
            OutcomeKind::RolledBack => "rolled back",
            OutcomeKind::RolledBackUnhealthy => "rolled back, NOT healthy",
            OutcomeKind::RollbackFailed => "rollback failed",
            OutcomeKind::Failed => "failed",
            OutcomeKind::Skipped => "skipped",
            OutcomeKind::Cancelled => "cancelled",
            OutcomeKind::Interrupted => "interrupted",
        }
    }

    /// The host ended on a whole, healthy generation (the intended one or
    /// the one it came from).
    pub fn healthy_end(self) -> bool {
        matches!(
            self,
            OutcomeKind::Deployed | OutcomeKind::Unchanged | OutcomeKind::RolledBack
        )
    }
}

impl fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl Outcome {
    /// Whether the operation did what was asked on this host.
    pub fn ok(&self) -> bool {
        matches!(self, Outcome::Deployed { .. } | Outcome::Unchanged { .. })
    }

    pub fn kind(&self) -> OutcomeKind {
        match self {
            Outcome::Deployed { .. } => OutcomeKind::Deployed,
            Outcome::Unchanged { .. } => OutcomeKind::Unchanged,
            Outcome::RolledBack {
                healthy_again: true,
                ..
            } => OutcomeKind::RolledBack,
            Outcome::RolledBack { .. } => OutcomeKind::RolledBackUnhealthy,
            Outcome::RollbackFailed { .. } => OutcomeKind::RollbackFailed,
            Outcome::Failed { .. } => OutcomeKind::Failed,
            Outcome::Skipped { .. } => OutcomeKind::Skipped,
            Outcome::Cancelled { .. } => OutcomeKind::Cancelled,
            Outcome::Interrupted { .. } => OutcomeKind::Interrupted,
        }
    }

    /// The short word for summaries and the audit log's `done` entries.
    pub fn label(&self) -> &'static str {
        match self.kind() {
            // Counted together in summaries; the detail says if unhealthy.
            OutcomeKind::RolledBackUnhealthy => "rolled back",
            k => k.label(),
        }
    }
}

fn skipped_fields<S: Serializer>(because: &[String], s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(2))?;
    m.serialize_entry("because", because)?;
    m.serialize_entry("reason", &format!("{} did not deploy", because.join(", ")))?;
    m.end()
}

/// One line counting how the hosts of an operation ended.
pub fn summary_line(results: &[HostResult]) -> String {
    let count = |k: &[OutcomeKind]| {
        results
            .iter()
            .filter(|r| k.contains(&r.outcome.kind()))
            .count()
    };
    let mut line = format!(
        "{} deployed, {} rolled back, {} failed, {} skipped",
        count(&[OutcomeKind::Deployed]),
        count(&[OutcomeKind::RolledBack, OutcomeKind::RolledBackUnhealthy]),
        count(&[OutcomeKind::Failed]),
        count(&[OutcomeKind::Skipped]),
    );
    for kind in [
        OutcomeKind::Unchanged,
        OutcomeKind::Cancelled,
        OutcomeKind::RollbackFailed,
        OutcomeKind::Interrupted,
    ] {
        match count(&[kind]) {
            0 => {}
            n => line.push_str(&format!(", {n} {kind}")),
        }
    }
    line
}

/// One host's result in an operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostResult {
    pub service: String,
    pub host: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_read_back_from_its_label() {
        for k in OutcomeKind::ALL {
            assert_eq!(OutcomeKind::from_label(k.label()), Some(k));
        }
        assert_eq!(OutcomeKind::from_label("refused"), None);
    }

    #[test]
    fn json_keeps_the_fields_scripts_read() {
        let r = HostResult {
            service: "grafana".into(),
            host: "192.168.99.20".into(),
            outcome: Outcome::Skipped {
                because: vec!["prometheus".into()],
            },
            seconds: 0.0,
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["result"], "skipped");
        assert_eq!(v["because"], serde_json::json!(["prometheus"]));
        assert_eq!(v["reason"], "prometheus did not deploy");
        let back = Outcome::RolledBack {
            reason: "requested".into(),
            to_generation: Some(1),
            healthy_again: true,
            health_error: None,
        };
        let v = serde_json::to_value(&back).unwrap();
        assert_eq!(v["result"], "rolled-back");
        assert_eq!(v["to_generation"], 1);
        assert_eq!(v["healthy_again"], true);
        assert!(v.get("health_error").is_none());
    }

    #[test]
    fn summary_counts_every_kind_that_happened() {
        let r = |outcome| HostResult {
            service: "s".into(),
            host: "h".into(),
            outcome,
            seconds: 0.0,
        };
        let line = summary_line(&[
            r(Outcome::Cancelled { after: None }),
            r(Outcome::RollbackFailed {
                reason: "r".into(),
                error: "e".into(),
                profile_generation: None,
                running_generation: None,
            }),
        ]);
        assert_eq!(
            line,
            "0 deployed, 0 rolled back, 0 failed, 0 skipped, 1 cancelled, 1 rollback failed"
        );
    }
}
