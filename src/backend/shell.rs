//! An interactive shell (or one command) on a service's host, over the
//! pool's existing master: no second connection, no second authentication,
//! and the host key was already checked strictly when the master opened.

use super::ssh::{SshError, SshPool};
use crate::config::SshSettings;
use std::borrow::Cow;
use std::process::Command;
use std::sync::Arc;

/// A local `ssh` that runs `remote` (a login shell when empty) on `host`
/// through its master's control socket. Hold the returned session until
/// the command ends: the master lives as long as it does.
pub(crate) async fn command(
    pool: &SshPool,
    settings: &SshSettings,
    host: &str,
    remote: &[String],
    tty: bool,
) -> Result<(Command, Arc<openssh::Session>), SshError> {
    let session = pool.session(host).await?;
    let mut c = Command::new("ssh");
    // Should the master be gone by now, ssh must not fall back to a
    // connection with weaker checks: the same config, known hosts and
    // strict checking the pool uses, and never a new master.
    if let Some(f) = &settings.config_file {
        c.arg("-F").arg(f);
    }
    if let Some(f) = &settings.known_hosts {
        c.arg("-o")
            .arg(format!("UserKnownHostsFile={}", f.display()));
    }
    c.args(["-o", "StrictHostKeyChecking=yes", "-o", "ControlMaster=no"]);
    c.arg("-S").arg(session.control_socket());
    c.arg(if tty { "-t" } else { "-T" });
    c.arg(host);
    if !remote.is_empty() {
        // ssh joins its arguments with spaces for the remote shell: quote
        // each word so it arrives as written.
        c.arg("--");
        c.args(
            remote
                .iter()
                .map(|w| shell_escape::unix::escape(Cow::Borrowed(w.as_str())).into_owned()),
        );
    }
    Ok((c, session))
}
