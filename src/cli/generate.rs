//! `nixmox completions SHELL` and `nixmox man`: generated from the clap
//! definition itself, so they never disagree with `--help`.

use super::Cli;
use clap::CommandFactory;
use color_eyre::eyre::{eyre, Result};
use color_eyre::Section;
use std::io::Write;

/// The completion script for `shell`, on stdout.
pub(super) fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "nixmox", &mut script);
    emit(&script, "the completion script")
}

/// The man page (roff), on stdout.
pub(super) fn man() -> Result<()> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(|e| eyre!("cannot render the man page: {e}"))?;
    emit(&page, "the man page")
}

/// Writes all of `bytes` to stdout. A reader that stops early (`| head`)
/// is not an error.
fn emit(bytes: &[u8], what: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(eyre!("cannot write {what} to standard output: {e}")
                .suggestion("check where standard output goes (a full disk, a closed file)"))
        }
        _ => Ok(()),
    }
}
