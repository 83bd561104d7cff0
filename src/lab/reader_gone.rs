//! Knows when nobody reads our standard output any more, without writing
//! anything to it (`tail -f` would only notice at the next log line):
//! - the session's sshd exited (plain `ssh host journalctl -f`, client gone);
//! - the ssh channel was closed while the connection stays (a multiplexed
//!   master): sshd then closes its end of our stdout. A pipe (Debian's sshd)
//!   reports POLLERR once it has no reader; a socket fails a 0-byte write.
//!
//! Entirely safe code: stdout is polled through `rustix::event::poll`, and
//! the socket check writes to a duplicate of fd 1.

use super::sys::{self, ProcId};
use std::io::Write as _;
use std::os::fd::AsFd;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub struct StdoutReader {
    sshd: Option<ProcId>,
    socket: Option<UnixStream>,
    pipe_closed: Arc<AtomicBool>,
}

impl StdoutReader {
    /// Starts watching (a thread, when stdout is a pipe).
    pub fn watch() -> Self {
        let kind = std::fs::metadata("/proc/self/fd/1").map(|m| m.file_type());
        let pipe_closed = Arc::new(AtomicBool::new(false));
        if kind.as_ref().is_ok_and(|k| k.is_fifo()) {
            crate::stdout_reader::watch_pipe(pipe_closed.clone());
        }
        let socket = kind
            .is_ok_and(|k| k.is_socket())
            .then(|| std::io::stdout().as_fd().try_clone_to_owned().ok())
            .flatten()
            .map(UnixStream::from);
        StdoutReader {
            sshd: session_sshd(),
            socket,
            pipe_closed,
        }
    }

    pub fn gone(&self) -> bool {
        if self.pipe_closed.load(Ordering::SeqCst) {
            return true;
        }
        if self.sshd.is_some_and(|p| !p.alive()) {
            return true;
        }
        if let Some(mut s) = self.socket.as_ref() {
            if let Err(e) = s.write(&[]) {
                return matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::NotConnected
                );
            }
        }
        false
    }
}

/// The session's sshd: the nearest ancestor called sshd (or sshd-session).
fn session_sshd() -> Option<ProcId> {
    let mut pid = sys::self_pid();
    for _ in 0..32 {
        pid = sys::stat(pid)?.ppid;
        if pid <= 1 {
            return None;
        }
        let comm = sys::comm(pid);
        if comm == "sshd" || comm == "sshd-session" {
            return ProcId::of(pid);
        }
    }
    None
}
