//! SSH to the hosts: exactly one multiplexed master connection per host
//! (openssh, native mux), opened lazily, reused by every probe and command,
//! reopened with backoff when it is lost, and closed when the pool goes.
//!
//! Host keys are checked strictly: an unknown or changed key is refused,
//! never added (the crate's default would accept new keys).

use crate::config::SshSettings;
use openssh::{ControlPersist, KnownHosts, Session, SessionBuilder, Stdio};
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::sync::Mutex;

/// Lines of output kept from a remote command for display.
pub const TAIL_LINES: usize = 8;

/// Bytes kept of each of a remote command's stdout and stderr: the end of
/// it (where a failing command says why). The rest is read and dropped, so
/// a host printing 200 MB costs this much memory, not 200 MB.
pub(crate) const OUTPUT_TAIL: usize = 64 * 1024;

/// The watcher every remote command runs under (`$@` is the command): it
/// runs the command in its own session (so its whole process group can be
/// signalled) and kills that group when our end of its stdin closes,
/// which is what happens when nixmox gives up on it (a local timeout) or
/// exits, however it exits. The command itself reads /dev/null, as before.
/// (A background list's stdin is /dev/null in sh: the watcher reads a copy
/// of ours, fd 3.) Once the command has ended the watcher is stopped
/// first: what the command left running on purpose in its group (a
/// detached step still calling `setsid`) is not ours to kill. Without
/// `setsid` only the command's own process is signalled.
const WATCHED: &str = r#"exec 3<&0; if command -v setsid >/dev/null 2>&1; then setsid "$@" < /dev/null & else "$@" < /dev/null & fi; p=$!; (cat <&3 > /dev/null; kill -TERM -"$p" || kill -TERM "$p") > /dev/null 2>&1 & w=$!; exec 3<&-; wait "$p"; s=$?; exec 2> /dev/null; kill "$w"; exit "$s""#;

#[derive(Debug, Clone, thiserror::Error)]
pub enum SshError {
    #[error("cannot connect to {host}: {reason}")]
    Connect { host: String, reason: String },
    #[error("{host}: not retrying yet (next attempt in {retry_in:.1?}); last error: {last}")]
    Backoff {
        host: String,
        retry_in: Duration,
        last: String,
    },
    #[error("{host}: connection lost: {reason}")]
    Lost { host: String, reason: String },
    #[error("{host}: command timed out after {after:?}")]
    TimedOut { host: String, after: Duration },
}

impl SshError {
    /// True when the host itself could not be reached (as opposed to a
    /// command that ran and failed or ran too long).
    pub fn is_unreachable(&self) -> bool {
        !matches!(self, SshError::TimedOut { .. })
    }
}

/// What a remote command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// `None` when the process was killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub latency: Duration,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The last few non-empty lines of stdout then stderr, sanitised for
    /// display (a host's output never reaches a terminal raw).
    pub fn tail(&self) -> Vec<String> {
        let mut lines: Vec<String> = super::sanitize::lines(self.stdout.as_bytes())
            .into_iter()
            .chain(super::sanitize::lines(self.stderr.as_bytes()))
            .map(|l| l.trim_end().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        let cut = lines.len().saturating_sub(TAIL_LINES);
        lines.drain(..cut);
        lines
    }
}

#[derive(Default)]
struct Slot {
    session: Option<Arc<Session>>,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: String,
}

pub struct SshPool {
    builder: SessionBuilder,
    connect_timeout: Duration,
    slots: std::sync::Mutex<HashMap<String, Arc<Mutex<Slot>>>>,
    /// Where the masters' sockets live; removed by `close_all` or on drop.
    control_dir: std::sync::Mutex<Option<control_dir::ControlDir>>,
}

impl SshPool {
    pub fn new(settings: &SshSettings) -> std::io::Result<Self> {
        let mut b = SessionBuilder::default();
        b.known_hosts_check(KnownHosts::Strict)
            .connect_timeout(Duration::from_secs(settings.connect_timeout_secs.max(1)))
            .server_alive_interval(Duration::from_secs(
                settings.server_alive_interval_secs.max(1),
            ))
            // A master left behind by a crashed console exits by itself.
            .control_persist(ControlPersist::IdleFor(
                NonZeroUsize::MIN.saturating_add(299),
            ));
        if let Some(f) = &settings.config_file {
            b.config_file(f);
        }
        if let Some(f) = &settings.known_hosts {
            b.user_known_hosts_file(f);
        }
        if let Some(k) = &settings.identity {
            b.keyfile(k);
        }
        if let Some(u) = &settings.user {
            b.user(u.clone());
        }
        if let Some(p) = settings.port {
            b.port(p);
        }
        let dir = control_dir::ControlDir::create(settings.control_dir.as_deref())?;
        b.control_directory(dir.path());
        Ok(Self {
            builder: b,
            connect_timeout: Duration::from_secs(settings.connect_timeout_secs.max(1)),
            slots: std::sync::Mutex::new(HashMap::new()),
            control_dir: std::sync::Mutex::new(Some(dir)),
        })
    }

    /// The directory holding the control sockets, until `close_all` removed it.
    pub fn control_dir(&self) -> Option<std::path::PathBuf> {
        let dir = self.control_dir.lock().unwrap_or_else(|p| p.into_inner());
        dir.as_ref().map(|d| d.path().to_path_buf())
    }

    fn slot(&self, host: &str) -> Arc<Mutex<Slot>> {
        // A poisoned lock only means another thread panicked mid-insert;
        // the map itself is still usable.
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry(host.to_string()).or_default().clone()
    }

    /// The master connection to `host`, opening it if needed. Concurrent
    /// callers for one host wait for a single connection attempt.
    pub async fn session(&self, host: &str) -> Result<Arc<Session>, SshError> {
        let slot = self.slot(host);
        let mut slot = slot.lock().await;
        if let Some(s) = &slot.session {
            return Ok(s.clone());
        }
        if let Some(at) = slot.retry_at {
            let now = Instant::now();
            if now < at {
                return Err(SshError::Backoff {
                    host: host.to_string(),
                    retry_in: at - now,
                    last: slot.last_error.clone(),
                });
            }
        }
        // ssh's own ConnectTimeout covers TCP; this also bounds the key
        // exchange and authentication of a host that accepts and stalls.
        let attempt = tokio::time::timeout(
            self.connect_timeout + Duration::from_secs(2),
            self.builder.connect_mux(host),
        )
        .await;
        let result = match attempt {
            Ok(Ok(session)) => Ok(session),
            Ok(Err(e)) => Err(explain_connect_error(host, &describe_error(&e))),
            Err(_) => Err(format!(
                "no answer within {:?}",
                self.connect_timeout + Duration::from_secs(2)
            )),
        };
        match result {
            Ok(session) => {
                let session = Arc::new(session);
                slot.session = Some(session.clone());
                slot.failures = 0;
                slot.retry_at = None;
                tracing::info!(host, "ssh master connected");
                Ok(session)
            }
            Err(reason) => {
                slot.failures += 1;
                let backoff = Duration::from_millis(500 * (1u64 << slot.failures.min(4)))
                    .min(Duration::from_secs(5));
                slot.retry_at = Some(Instant::now() + backoff);
                slot.last_error = reason.clone();
                tracing::warn!(host, %reason, "ssh connect failed");
                Err(SshError::Connect {
                    host: host.to_string(),
                    reason,
                })
            }
        }
    }

    /// Forgets `session` for `host` when it is still the current one, so the
    /// next call reconnects. Dropping the last handle shuts the master down.
    pub async fn invalidate(&self, host: &str, session: &Arc<Session>) {
        let slot = self.slot(host);
        let mut slot = slot.lock().await;
        if slot
            .session
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, session))
        {
            slot.session = None;
            tracing::info!(host, "ssh master dropped");
        }
    }

    /// Drops the backoff for `host` so the next call tries at once
    /// (an operator asked to re-probe).
    pub async fn retry_now(&self, host: &str) {
        let slot = self.slot(host);
        slot.lock().await.retry_at = None;
    }

    /// Runs `argv` on `host` (each argument quoted by the crate, so values
    /// reach the remote shell as single words), capturing its output, bounded
    /// by `limit` locally. Use [`remote_timeout`] to also bound it on the host.
    pub async fn run(
        &self,
        host: &str,
        argv: &[&str],
        limit: Duration,
    ) -> Result<Output, SshError> {
        let Some((program, args)) = argv.split_first() else {
            return Err(SshError::Lost {
                host: host.to_string(),
                reason: "empty command".into(),
            });
        };
        let session = self.session(host).await?;
        let started = Instant::now();
        // `exec` is for a login shell; under the watcher it is `sh` that runs it.
        let argv = if *program == "exec" { args } else { argv };
        let fut = async {
            let mut child = session
                .command("sh")
                .args(["-c", WATCHED, "sh"])
                .args(argv.iter().copied())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .await?;
            let piped = || openssh::Error::ChildIo(std::io::Error::other("output not piped"));
            // Held until the command ends: closing it is what tells the
            // watcher on the host to kill the command (we gave up, or exited).
            let _stdin = child.stdin().take().ok_or_else(piped)?;
            let mut stdout = child.stdout().take().ok_or_else(piped)?;
            let mut stderr = child.stderr().take().ok_or_else(piped)?;
            let (out, err) = tokio::join!(
                read_tail(&mut stdout, OUTPUT_TAIL),
                read_tail(&mut stderr, OUTPUT_TAIL)
            );
            let out = out.map_err(openssh::Error::ChildIo)?;
            let err = err.map_err(openssh::Error::ChildIo)?;
            let status = child.wait().await?;
            Ok::<_, openssh::Error>((status.code(), out, err))
        };
        match tokio::time::timeout(limit, fut).await {
            Err(_) => {
                // The master may be wedged (e.g. a partition): check it, so a
                // dead one is replaced rather than reused.
                if tokio::time::timeout(Duration::from_secs(2), session.check())
                    .await
                    .map_or(true, |r| r.is_err())
                {
                    self.invalidate(host, &session).await;
                    return Err(SshError::Lost {
                        host: host.to_string(),
                        reason: "no answer from the master connection".into(),
                    });
                }
                Err(SshError::TimedOut {
                    host: host.to_string(),
                    after: limit,
                })
            }
            Ok(Ok((code, out, err))) => Ok(Output {
                code,
                stdout: String::from_utf8_lossy(&out).into_owned(),
                stderr: String::from_utf8_lossy(&err).into_owned(),
                latency: started.elapsed(),
            }),
            Ok(Err(e)) => {
                // The mux protocol cannot tell a killed remote process from
                // a dropped connection; ask the master.
                let alive = session.check().await.is_ok();
                if alive && matches!(e, openssh::Error::RemoteProcessTerminated) {
                    return Ok(Output {
                        code: None,
                        stdout: String::new(),
                        stderr: "remote process was terminated by a signal".into(),
                        latency: started.elapsed(),
                    });
                }
                if !alive {
                    self.invalidate(host, &session).await;
                }
                Err(SshError::Lost {
                    host: host.to_string(),
                    reason: describe_error(&e),
                })
            }
        }
    }

    /// Closes every master and removes the control directory. Call before
    /// exit: masters otherwise outlive us (until their idle timeout).
    pub async fn close_all(&self) {
        let slots: Vec<Arc<Mutex<Slot>>> = {
            let mut map = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            map.drain().map(|(_, v)| v).collect()
        };
        let mut still_shared = false;
        for slot in slots {
            let session = slot.lock().await.session.take();
            if let Some(s) = session {
                match Arc::try_unwrap(s) {
                    Ok(s) => {
                        let _ = s.close().await;
                    }
                    // Still borrowed by a task: dropping our handle lets the
                    // last holder's drop shut the master down.
                    Err(shared) => {
                        still_shared = true;
                        drop(shared);
                    }
                }
            }
        }
        // That last holder shuts its master down through the socket in this
        // directory, so it stays until the pool goes.
        if !still_shared {
            self.control_dir
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
        }
    }

    /// Number of hosts with an open master (for tests and the status bar).
    pub async fn open_masters(&self) -> usize {
        let slots: Vec<Arc<Mutex<Slot>>> = {
            let map = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            map.values().cloned().collect()
        };
        let mut n = 0;
        for s in slots {
            n += usize::from(s.lock().await.session.is_some());
        }
        n
    }
}

pub use control_dir::remove_control_dirs_on_termination;

mod control_dir {
    //! The directory for the masters' control sockets: private (0700), with
    //! an unpredictable name, short (a socket path must fit in 108 bytes and
    //! ssh adds `/.ssh-connectionXXXXXX/master` plus a temporary suffix), and
    //! removed however the process ends short of SIGKILL.

    use std::path::{Path, PathBuf};
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    /// Every control directory that exists now, for the signal path.
    static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

    pub(super) struct ControlDir(tempfile::TempDir);

    impl ControlDir {
        /// `/tmp/nmx-XXXXXX`, or `pXXXXXX` inside the configured directory.
        pub(super) fn create(parent: Option<&Path>) -> std::io::Result<Self> {
            use std::os::unix::fs::PermissionsExt;
            let mut builder = tempfile::Builder::new();
            // tempfile leaves directories to the umask (often 0755); this
            // mode is set by mkdir itself, so there is no moment it is open.
            builder.permissions(std::fs::Permissions::from_mode(0o700));
            let dir = match parent {
                Some(parent) => {
                    std::fs::create_dir_all(parent)?;
                    builder.prefix("p").tempdir_in(parent)?
                }
                // Not $TMPDIR: it may be long.
                None => builder.prefix("nmx-").tempdir_in("/tmp")?,
            };
            live().push(dir.path().to_path_buf());
            Ok(Self(dir))
        }

        pub(super) fn path(&self) -> &Path {
            self.0.path()
        }
    }

    impl Drop for ControlDir {
        fn drop(&mut self) {
            live().retain(|p| p != self.0.path());
            // The TempDir removes the directory itself.
        }
    }

    fn live() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
        LIVE.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// For commands that leave SIGTERM and SIGHUP at their default, dying at
    /// once (the console handles both and closes its pool): on either signal
    /// the live control directories are removed first, their masters asked
    /// to exit, and then the process dies by that signal as before.
    pub fn remove_control_dirs_on_termination() -> std::io::Result<()> {
        use signal_hook::consts::{SIGHUP, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP])?;
        std::thread::Builder::new()
            .name("nmx-termination".into())
            .spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    for dir in live().drain(..) {
                        stop_masters(&dir);
                        let _ = std::fs::remove_dir_all(&dir);
                    }
                    let _ = signal_hook::low_level::emulate_default_handler(sig);
                    std::process::exit(128 + sig);
                }
            })?;
        Ok(())
    }

    /// `ssh -O exit` to every master socket under `dir`, waiting at most 2 s
    /// in all: masters otherwise stay connected until their idle timeout.
    fn stop_masters(dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut children: Vec<std::process::Child> = entries
            .flatten()
            .map(|e| e.path().join("master"))
            .filter(|socket| socket.exists())
            .filter_map(|socket| {
                std::process::Command::new("ssh")
                    .arg("-S")
                    .arg(&socket)
                    .args(["-O", "exit", "nixmox-master"])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .ok()
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(2);
        while !children.is_empty() && Instant::now() < deadline {
            children.retain_mut(|c| matches!(c.try_wait(), Ok(None)));
            std::thread::sleep(Duration::from_millis(20));
        }
        for mut c in children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Wraps a shell snippet so the HOST kills it (and its children) after
/// `secs` seconds: coreutils `timeout` runs it in its own process group and
/// signals the whole group. A snippet that is just words (no quoting,
/// expansion, redirection or operators) means the same without a shell, so
/// it runs directly, saving a process per probe.
pub fn remote_timeout(secs: u64, script: &str) -> Vec<String> {
    // The login shell replaces itself instead of forking once more.
    let mut argv: Vec<String> = vec![
        "exec".into(),
        "timeout".into(),
        "-k".into(),
        "1".into(),
        secs.to_string(),
    ];
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./:=,@%+-".contains(c);
    let words: Vec<&str> = script.split_whitespace().collect();
    let just_words = !words.is_empty()
        && script.chars().all(|c| plain(c) || c == ' ')
        // A leading `VAR=value` is an assignment to a shell, not a program.
        && !words[0].contains('=');
    if just_words {
        argv.extend(words.iter().map(|w| w.to_string()));
    } else {
        argv.extend(["sh".into(), "-c".into(), script.into()]);
    }
    argv
}

/// Reads `r` to its end keeping only its last `cap` bytes (cut at a line
/// start when something was dropped, so no half line is shown).
async fn read_tail<R: tokio::io::AsyncRead + Unpin>(
    r: &mut R,
    cap: usize,
) -> std::io::Result<Vec<u8>> {
    let mut kept: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    let mut dropped = false;
    loop {
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&chunk[..n]);
        // Trimming only past twice the cap keeps the copying amortised.
        if kept.len() > 2 * cap {
            kept.drain(..kept.len() - cap);
            dropped = true;
        }
    }
    if kept.len() > cap {
        kept.drain(..kept.len() - cap);
        dropped = true;
    }
    if dropped {
        let start = kept.iter().position(|b| *b == b'\n').map_or(0, |i| i + 1);
        kept.drain(..start);
    }
    Ok(kept)
}

/// Turns ssh's host-key refusals (a screenful of @@@@) into one line that
/// says what happened and what to do.
fn explain_connect_error(host: &str, raw: &str) -> String {
    if raw.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        || raw.contains("has changed and you have requested strict checking")
    {
        let fix = raw
            .split("remove with:")
            .nth(1)
            .and_then(|rest| rest.split("Host key for").next())
            .map(|cmd| format!(" If the change is expected: {}", cmd.trim()))
            .unwrap_or_default();
        return format!(
            "host key of {host} has CHANGED since it was recorded in known_hosts (a reinstalled host, or a man-in-the-middle); refusing to connect.{fix}"
        );
    }
    if raw.contains("host key is known") && raw.contains("strict checking") {
        return format!(
            "host key of {host} is unknown: it is not in known_hosts, and strict checking refuses to learn it; add the host's key to known_hosts first"
        );
    }
    raw.to_string()
}

/// An error with its causes, one line, e.g. "failed to connect to the remote
/// host: Host key verification failed."
pub fn describe_error(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let part = s.to_string();
        if !part.is_empty() && !text.contains(&part) {
            text.push_str(": ");
            text.push_str(part.trim());
        }
        cur = s.source();
    }
    // ssh's own messages may quote what the host sent (a banner, a key
    // comment): shown through the one gate for remote text.
    super::sanitize::text(&text.replace('\n', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(dir: &std::path::Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(dir)
            .expect("control dir")
            .permissions()
            .mode()
            & 0o777
    }

    #[tokio::test]
    async fn the_control_dir_is_private_short_and_gone_after_close() {
        let pool = SshPool::new(&SshSettings::default()).expect("pool");
        let dir = pool.control_dir().expect("a control dir");
        let name = dir.to_string_lossy().into_owned();
        assert!(name.starts_with("/tmp/nmx-"), "{name}");
        assert!(name.len() <= 20, "short enough for socket paths: {name}");
        assert_eq!(mode_of(&dir), 0o700);
        let other = SshPool::new(&SshSettings::default()).expect("pool");
        assert_ne!(
            other.control_dir(),
            Some(dir.clone()),
            "names are not reused"
        );
        pool.close_all().await;
        assert!(!dir.exists(), "{name} left behind");
        assert_eq!(pool.control_dir(), None);
        let other_dir = other.control_dir().expect("a control dir");
        drop(other);
        assert!(!other_dir.exists(), "dropping the pool removes it too");
    }

    #[tokio::test]
    async fn a_configured_control_dir_gets_a_private_subdirectory() {
        let parent = std::env::temp_dir().join(format!("nmx-ctl-test-{}", std::process::id()));
        let settings = SshSettings {
            control_dir: Some(parent.clone()),
            ..SshSettings::default()
        };
        let pool = SshPool::new(&settings).expect("pool");
        let dir = pool.control_dir().expect("a control dir");
        assert_eq!(dir.parent(), Some(parent.as_path()));
        assert_eq!(mode_of(&dir), 0o700);
        pool.close_all().await;
        assert!(!dir.exists());
        assert!(parent.exists(), "the configured directory itself stays");
        let _ = std::fs::remove_dir(&parent);
    }

    #[test]
    fn output_tail_keeps_last_lines() {
        let o = Output {
            code: Some(1),
            stdout: (1..=20).map(|i| format!("line {i}\n")).collect(),
            stderr: "boom\n".into(),
            latency: Duration::ZERO,
        };
        let t = o.tail();
        assert_eq!(t.len(), TAIL_LINES);
        assert_eq!(t.last().unwrap(), "boom");
    }

    #[tokio::test]
    async fn output_keeps_only_its_tail() {
        let mut big: Vec<u8> = Vec::new();
        for i in 0..100_000 {
            big.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        big.extend_from_slice(b"the reason");
        let kept = read_tail(&mut big.as_slice(), 1024).await.unwrap();
        assert!(kept.len() <= 1024);
        assert!(kept.starts_with(b"line "), "whole lines only");
        assert!(kept.ends_with(b"line 99999\nthe reason"));
        let small = read_tail(&mut &b"a\nb\n"[..], 1024).await.unwrap();
        assert_eq!(small, b"a\nb\n");
    }

    #[test]
    fn host_key_refusals_read_clearly() {
        let changed = "failed to connect: @@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@ Offending ED25519 key in /k:1   remove with:   ssh-keygen -f \"/k\" -R \"10.0.0.2\" Host key for 10.0.0.2 has changed and you have requested strict checking. Host key verification failed.";
        let msg = explain_connect_error("10.0.0.2", changed);
        assert!(msg.starts_with("host key of 10.0.0.2 has CHANGED"), "{msg}");
        assert!(
            msg.ends_with("ssh-keygen -f \"/k\" -R \"10.0.0.2\""),
            "{msg}"
        );
        let unknown = "No ED25519 host key is known for 10.0.0.3 and you have requested strict checking. Host key verification failed.";
        assert!(explain_connect_error("10.0.0.3", unknown)
            .starts_with("host key of 10.0.0.3 is unknown"));
    }

    #[test]
    fn remote_timeout_passes_a_script_as_one_word() {
        let argv = remote_timeout(5, "curl -f http://localhost:8080/alive; echo $HOME");
        assert_eq!(argv[5..7], ["sh".to_string(), "-c".into()]);
        assert_eq!(argv[7], "curl -f http://localhost:8080/alive; echo $HOME");
        for script in ["test -d '/tmp'", "A=1 true", "grep x *", "a && b", "echo ~"] {
            assert_eq!(remote_timeout(5, script)[5], "sh", "{script} needs a shell");
        }
    }

    #[test]
    fn remote_timeout_runs_plain_words_directly() {
        let argv = remote_timeout(5, "curl -f -s http://localhost:8080/alive");
        assert_eq!(
            argv,
            [
                "exec",
                "timeout",
                "-k",
                "1",
                "5",
                "curl",
                "-f",
                "-s",
                "http://localhost:8080/alive"
            ]
        );
        assert_eq!(
            remote_timeout(3, "systemctl is-active --quiet caddy")[5..],
            ["systemctl", "is-active", "--quiet", "caddy"]
        );
    }
}
