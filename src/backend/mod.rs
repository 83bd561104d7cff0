//! Everything that touches the hosts: ssh, probes, operations.
//! Backend tasks take commands and emit events; they never touch the terminal.
//! Operations go through one core, [`fleet::Fleet`].

pub(crate) mod audit;
pub(crate) mod bounded_lines;
pub(crate) mod deploy;
pub mod deploy_preview;
pub(crate) mod exec;
pub mod fleet;
mod gate;
pub mod generations;
pub mod health;
pub mod history;
pub mod lock;
pub mod logs;
pub mod nixos;
mod op_context;
pub mod outcome;
pub mod progress;
pub mod reconcile;
pub(crate) mod remote;
pub(crate) mod rollback;
pub(crate) mod sanitize;
pub(crate) mod shell;
pub mod ssh;
