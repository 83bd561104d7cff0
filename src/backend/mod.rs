//! Everything that touches the hosts: ssh, probes, operations.
//! Backend tasks take commands and emit events; they never touch the terminal.
//! Operations go through one core, [`fleet::Fleet`].

pub mod audit;
pub mod bounded_lines;
pub mod deploy;
pub mod exec;
pub mod fleet;
mod gate;
pub mod generations;
pub mod health;
pub mod lock;
pub mod logs;
pub mod nixos;
mod op_context;
pub mod outcome;
pub mod progress;
pub mod remote;
pub mod rollback;
pub mod sanitize;
pub mod ssh;
