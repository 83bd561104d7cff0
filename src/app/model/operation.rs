//! An operation this console started (deploy, rollback), as its progress
//! events tell it: title, current step, streamed output and how it ended.

use crate::backend::progress::OpEventKind;
use std::collections::VecDeque;
use std::time::SystemTime;

/// Lines of streamed output kept per operation.
pub const OP_OUTPUT_LINES: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub id: u64,
    pub title: String,
    pub started: SystemTime,
    pub step: String,
    pub finished: Option<(SystemTime, bool, String)>,
    pub output: VecDeque<String>,
}

impl Operation {
    /// An operation known only by its first event's time, before it is applied.
    pub fn new(id: u64, started: SystemTime) -> Self {
        Self {
            id,
            title: String::new(),
            started,
            step: "starting".into(),
            finished: None,
            output: VecDeque::new(),
        }
    }

    pub fn running(&self) -> bool {
        self.finished.is_none()
    }

    pub fn apply(&mut self, at: SystemTime, kind: &OpEventKind) {
        match kind {
            OpEventKind::Started { title } => self.title = title.clone(),
            OpEventKind::Step { host, step } => {
                self.step = match host {
                    Some(h) => format!("{h}: {step}"),
                    None => step.to_string(),
                };
                self.push(format!("== {}", self.step));
            }
            OpEventKind::HostDone { service, outcome } => {
                self.step = format!("{service}: {}", outcome.kind());
                self.push(format!("== {}", self.step));
            }
            OpEventKind::Line { line } | OpEventKind::Notice { line } => self.push(line.clone()),
            OpEventKind::Finished { ok, summary } => {
                self.finished = Some((at, *ok, summary.clone()));
                self.push(summary.clone());
            }
        }
    }

    fn push(&mut self, line: String) {
        if self.output.len() == OP_OUTPUT_LINES {
            self.output.pop_front();
        }
        self.output.push_back(line);
    }
}
