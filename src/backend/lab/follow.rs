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

use std::collections::BTreeMap;
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
    // an ISO timestamp, so a stable sort by text is a sort by time).
    let mut tracked: BTreeMap<PathBuf, Tracked> = BTreeMap::new();
    let mut backlog: Vec<String> = Vec::new();
    for f in &files {
        let mut t = Tracked::default();
        let text = t.read_new(f);
        backlog.extend(text.lines().map(str::to_string));
        tracked.insert(f.clone(), t);
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
        std::thread::sleep(Duration::from_millis(100));
        if watch.gone() {
            return std::process::ExitCode::SUCCESS;
        }
        let mut wrote = false;
        for (f, t) in tracked.iter_mut() {
            let text = t.read_new(f);
            let complete = match text.rfind('\n') {
                Some(i) => {
                    t.partial.push_str(&text[..=i]);
                    let done = std::mem::take(&mut t.partial);
                    t.partial = text[i + 1..].to_string();
                    done
                }
                None => {
                    t.partial.push_str(&text);
                    continue;
                }
            };
            for l in complete.lines() {
                if emit(&mut out, l, cat).is_err() {
                    return std::process::ExitCode::SUCCESS;
                }
                wrote = true;
            }
        }
        if wrote && out.flush().is_err() {
            return std::process::ExitCode::SUCCESS;
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

/// Follows one file across truncation and replacement.
#[derive(Default)]
struct Tracked {
    inode: Option<u64>,
    offset: u64,
    partial: String,
}

impl Tracked {
    fn read_new(&mut self, path: &PathBuf) -> String {
        let Ok(mut f) = File::open(path) else {
            return String::new();
        };
        let Ok(meta) = f.metadata() else {
            return String::new();
        };
        if self.inode != Some(meta.ino()) || meta.len() < self.offset {
            self.inode = Some(meta.ino());
            self.offset = 0;
            self.partial.clear();
        }
        if meta.len() == self.offset || f.seek(SeekFrom::Start(self.offset)).is_err() {
            return String::new();
        }
        let mut buf = Vec::new();
        let n = f.take(16 << 20).read_to_end(&mut buf).unwrap_or(0);
        self.offset += n as u64;
        String::from_utf8_lossy(&buf).into_owned()
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
