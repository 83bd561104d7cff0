//! Everything that touches the world: ssh, probes, operations, the lab.
//! Backend tasks take commands and emit events; they never touch the terminal.

pub mod health;
pub mod lab;
pub mod logs;
pub mod nixos;
pub mod ssh;
