//! The lab: real isolated hosts from any manifest (owned by the lab work).

use clap::Args;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct LabArgs {}

pub fn run(_args: LabArgs, _manifest: &std::path::Path) -> ExitCode {
    eprintln!("nixmox lab: not built yet");
    ExitCode::from(1)
}
