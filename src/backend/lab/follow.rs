//! `nixmox lab follow`: what the lab's fake `journalctl -f` runs. Prints the
//! last lines of the unit logs, then follows them, and ends as soon as the
//! reader is gone:
//! - the session's sshd exited (plain `ssh host journalctl -f`, client gone);
//! - the ssh channel was closed while the connection stays (a multiplexed
//!   master): sshd then closes its end of our stdout, which we notice without
//!   writing anything (`tail -f` would only notice at the next log line): a
//!   pipe (Debian's sshd) reports EPOLLERR once it has no reader, a socket
//!   fails a 0-byte write;
//! - any write to stdout fails.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub fn run(lines: usize, cat: bool, files: Vec<PathBuf>) -> std::process::ExitCode {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let watch = Watch::new();

    // The last `lines` lines over all files, in time order (lines start with
    // an ISO timestamp, so a stable sort by it is a sort by time).
    let mut tracked: Vec<(PathBuf, Tracked)> = Vec::new();
    let mut backlog: Vec<String> = Vec::new();
    for f in &files {
        let mut t = Tracked::default();
        // Only the end of a long log is read for the backlog.
        t.start_near_end(f, lines.saturating_mul(1024).saturating_add(4096) as u64);
        backlog.extend(t.complete_lines(f));
        tracked.push((f.clone(), t));
    }
    if files.len() > 1 {
        backlog.sort_by(|a, b| a.split(' ').next().cmp(&b.split(' ').next()));
    }
    let skip = backlog.len().saturating_sub(lines);
    for l in &backlog[skip..] {
        if emit(&mut out, l, cat).is_err() {
            return std::process::ExitCode::SUCCESS;
        }
    }
    if out.flush().is_err() {
        return std::process::ExitCode::SUCCESS;
    }
    loop {
        if watch.gone() {
            return std::process::ExitCode::SUCCESS;
        }
        let mut wrote = false;
        for (f, t) in tracked.iter_mut() {
            for l in t.complete_lines(f) {
                if emit(&mut out, &l, cat).is_err() {
                    return std::process::ExitCode::SUCCESS;
                }
                wrote = true;
            }
        }
        if wrote {
            if out.flush().is_err() {
                return std::process::ExitCode::SUCCESS;
            }
        } else {
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

fn emit(out: &mut impl Write, line: &str, cat: bool) -> std::io::Result<()> {
    let text = if cat {
        // "TIME HOST UNIT[PID]: MESSAGE" -> "MESSAGE"
        line.splitn(3, ' ')
            .nth(2)
            .and_then(|rest| rest.split_once(": ").map(|(_, m)| m))
            .unwrap_or(line)
    } else {
        line
    };
    writeln!(out, "{text}")
}

/// Follows one file across truncation and replacement (log rotation).
#[derive(Default)]
struct Tracked {
    file: Option<File>,
    inode: Option<u64>,
    offset: u64,
    partial: Vec<u8>,
    /// Drop the first (partial) line: reading started mid-file.
    skip_first: bool,
}

impl Tracked {
    fn start_near_end(&mut self, path: &PathBuf, window: u64) {
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.len() > window {
                self.inode = Some(meta.ino());
                self.offset = meta.len() - window;
                self.skip_first = true;
            }
        }
    }

    /// The complete lines appended since the last call.
    fn complete_lines(&mut self, path: &PathBuf) -> Vec<String> {
        let current = std::fs::metadata(path).ok().map(|m| m.ino());
        if current.is_none() {
            return Vec::new();
        }
        if current != self.inode || self.file.is_none() {
            let Ok(f) = File::open(path) else {
                return Vec::new();
            };
            if current != self.inode {
                self.offset = 0;
                self.partial.clear();
                self.skip_first = false;
            }
            self.inode = current;
            self.file = Some(f);
        }
        let Some(f) = self.file.as_mut() else {
            return Vec::new();
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        if len < self.offset {
            // Truncated: start over.
            self.offset = 0;
            self.partial.clear();
        }
        if len == self.offset || f.seek(SeekFrom::Start(self.offset)).is_err() {
            return Vec::new();
        }
        let mut buf = Vec::new();
        let n = f.take(4 << 20).read_to_end(&mut buf).unwrap_or(0);
        self.offset += n as u64;
        self.partial.extend_from_slice(&buf[..n]);
        let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') else {
            return Vec::new();
        };
        let rest = self.partial.split_off(end + 1);
        let done = std::mem::replace(&mut self.partial, rest);
        let mut lines: Vec<String> = String::from_utf8_lossy(&done)
            .lines()
            .map(str::to_string)
            .collect();
        if self.skip_first && !lines.is_empty() {
            lines.remove(0);
            self.skip_first = false;
        }
        lines
    }
}

/// Knows when nobody reads us any more.
struct Watch {
    sshd: Option<super::sys::ProcId>,
    socket: Option<std::mem::ManuallyDrop<std::os::unix::net::UnixStream>>,
    pipe_closed: Arc<AtomicBool>,
}

/// Standard output, for registering with epoll (never closed by us).
struct Stdout1;

impl std::os::unix::io::AsRawFd for Stdout1 {
    fn as_raw_fd(&self) -> std::os::unix::io::RawFd {
        1
    }
}

/// Sets the flag once stdout, a pipe, has no reader left (epoll reports
/// EPOLLERR on a pipe's write end then).
fn watch_pipe(flag: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            use tokio::io::unix::AsyncFd;
            use tokio::io::Interest;
            // SAFETY: fd 1 stays open for the whole process (nothing closes
            // it) and outlives this registration, which never closes it.
            if let Ok(fd) = unsafe { AsyncFd::register_with_interest(Stdout1, Interest::ERROR) } {
                if fd.ready(Interest::ERROR).await.is_ok() {
                    flag.store(true, Ordering::SeqCst);
                }
            }
        });
    });
}

impl Watch {
    fn new() -> Self {
        // The session's sshd: the nearest ancestor called sshd (or sshd-session).
        let mut sshd = None;
        let mut pid = std::process::id();
        for _ in 0..32 {
            let Some(st) = super::sys::stat(pid) else {
                break;
            };
            pid = st.ppid;
            if pid <= 1 {
                break;
            }
            let comm = super::sys::comm(pid);
            if comm == "sshd" || comm == "sshd-session" {
                sshd = super::sys::ProcId::of(pid);
                break;
            }
        }
        let kind = std::fs::metadata("/proc/self/fd/1").map(|m| m.file_type());
        let is_socket = kind.as_ref().map(|k| k.is_socket()).unwrap_or(false);
        let pipe_closed = Arc::new(AtomicBool::new(false));
        if kind.map(|k| k.is_fifo()).unwrap_or(false) {
            watch_pipe(pipe_closed.clone());
        }
        let socket = is_socket.then(|| {
            use std::os::unix::io::FromRawFd;
            // SAFETY: fd 1 stays open for the life of the process; ManuallyDrop
            // never closes it, and the stream is only used for 0-byte writes.
            std::mem::ManuallyDrop::new(unsafe { std::os::unix::net::UnixStream::from_raw_fd(1) })
        });
        Watch {
            sshd,
            socket,
            pipe_closed,
        }
    }

    fn gone(&self) -> bool {
        if self.pipe_closed.load(Ordering::SeqCst) {
            return true;
        }
        if let Some(p) = &self.sshd {
            if !p.alive() {
                return true;
            }
        }
        if let Some(s) = &self.socket {
            let mut s: &std::os::unix::net::UnixStream = s;
            if let Err(e) = s.write(&[]) {
                return e.kind() == std::io::ErrorKind::BrokenPipe
                    || e.kind() == std::io::ErrorKind::ConnectionReset
                    || e.kind() == std::io::ErrorKind::NotConnected;
            }
        }
        false
    }
}
