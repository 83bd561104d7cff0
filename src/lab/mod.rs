//! The lab: real, isolated test hosts for any manifest on one Linux machine
//! (as root). Each enabled service becomes a host: a network namespace with
//! the manifest's ip, one real sshd, real Nix system generations, and the
//! service as a real process (`nixmox lab serve`) started by its generation's
//! switch-to-configuration. All of it lives in a private world (network +
//! mount namespaces held by a keeper process) with no route off the machine.
//!
//! The lab uses only the manifest and the config: plain functions with typed
//! results and `LabError`; it never prints (the CLI does), except where
//! writing is the job (`follow` writes to the writer it is given, `serve` to
//! its unit's journal).
//!
//! `up` builds a lab (`up`, `systems`, `processes`), `down` removes it
//! (`teardown`); a running lab is operated through `status`, `inject` (faults)
//! and `exec_command`. `serve`, `follow`, `wait_for_banners` and
//! `hold_namespaces` are what the lab's own hidden subcommands run on its hosts.

mod error;
mod exec;
mod fault;
mod files;
mod follow;
mod gen_manifest;
mod journal;
mod preflight;
mod processes;
mod reader_gone;
mod serve;
mod state;
mod status;
mod sys;
mod systems;
mod teardown;
mod up;

pub use error::{LabError, Leftover, MissingTools, ProcDesc};
pub use exec::exec_command;
pub use fault::{inject, BreakMode, Fault, Injected};
pub use follow::follow;
pub use gen_manifest::{gen_manifest, MAX_HOSTS};
pub use preflight::{preflight, sbin_on_path, Tools};
pub use processes::{hold_namespaces, wait_for_banners};
pub use reader_gone::StdoutReader;
pub use serve::{serve, ServeArgs};
pub use state::{resolve_dir, HostState, LabState, RunningLab};
pub use status::{status, HostStatus, LabStatus};
pub use sys::ProcId;
pub use teardown::{down, Down, Teardown};
pub use up::{up, Ready, Step, Timings, UpEvent};
