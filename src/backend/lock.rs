//! One deploy or rollback per host at a time, across consoles and admin
//! boxes: a lock directory ON THE HOST (mkdir is atomic) holding a
//! `holder` file that names who holds it and since when. The holder
//! refreshes it every few seconds; a lock whose holder stopped refreshing is
//! stale and can be broken explicitly.

use super::ssh::{SshError, SshPool};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// How often a holder refreshes its lock.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(5);
/// A lock not refreshed for this long is stale.
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub user: String,
    pub pid: u32,
    pub op: String,
    pub action: String,
    pub since: String,
    /// When the holder's process started (see
    /// [`super::audit::process_start`]): a pid reused since is told apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_start: Option<u64>,
}

impl Holder {
    /// The holder as read from a host, made safe to print: every field is
    /// remote text.
    fn sanitised(self) -> Holder {
        let s = |t: String| super::sanitize::line_capped(t.as_bytes(), 200);
        Holder {
            user: s(self.user),
            op: s(self.op),
            action: s(self.action),
            since: s(self.since),
            ..self
        }
    }

    /// `alice@admin2: deploy grafana (op 77, pid 4242)`.
    pub fn describe(&self) -> String {
        format!(
            "{}: {} (op {}, pid {})",
            self.user, self.action, self.op, self.pid
        )
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum LockError {
    #[error("{host} is locked by {} ({} since {}, op {}, pid {}; heartbeat {}s ago){}", .holder.user, .holder.action, .holder.since, .holder.op, .holder.pid, .age_secs, if *.asked_to_break { ": it is LIVE, and --break-lock breaks only a STALE lock; try again when it finishes" } else { "; try again when it finishes" })]
    Held {
        host: String,
        holder: Holder,
        age_secs: u64,
        asked_to_break: bool,
    },
    #[error("{host} has a STALE lock from {} ({} since {}; no heartbeat for {}s): rerun with --break-lock if that operation is really gone", .holder.user, .holder.action, .holder.since, .age_secs)]
    Stale {
        host: String,
        holder: Holder,
        age_secs: u64,
    },
    #[error("{host} has a STALE lock from {} ({} since {}): its process {} on this machine is gone; rerun with --break-lock", .holder.user, .holder.action, .holder.since, .holder.pid)]
    Orphaned { host: String, holder: Holder },
    #[error("{host}: {dir} exists but is not a nixmox lock ({why}); nothing was taken or removed: check the `lock_dir` setting")]
    NotALock {
        host: String,
        dir: String,
        why: String,
    },
    #[error("{host}: lock: {0}", host = .1)]
    Remote(String, String),
    #[error(transparent)]
    Ssh(#[from] SshError),
}

/// `$1` lock dir, `$2` our holder JSON, `$3` stale seconds, `$4` mode:
/// `take`, `take-break` (take, breaking a stale lock), `break` (only
/// break) or `peek` (change nothing), `$5` the holder a stale verdict was
/// made on, if any (break only that one). Prints ACQUIRED, FREE, BROKEN,
/// FOREIGN <why>, or HELD/STALE <age>, then the holder file that was found.
///
/// A directory is a nixmox lock only if it holds exactly one entry, a
/// `holder` file written by nixmox; anything else (a mistyped `lock_dir`
/// naming a real directory) is FOREIGN and never removed. A stale lock is
/// first renamed away (atomic), so two breakers cannot both remove it; a
/// holder that changed meanwhile is put back; then only its holder file
/// and the empty directory are removed (never `rm -r`).
const ACQUIRE: &str = r#"
d="$1"; new="$2"; stale="$3"; mode="$4"; expected="$5"
take() { mkdir "$d" 2>/dev/null && printf '%s\n' "$new" > "$d/holder"; }
if [ "$mode" = take ] || [ "$mode" = take-break ]; then take && { echo ACQUIRED; exit 0; }; fi
[ -d "$d" ] || { if [ -e "$d" ]; then echo "FOREIGN not a directory"; else echo FREE; fi; exit 0; }
# A lock being taken has its holder file a moment after its directory.
[ -e "$d/holder" ] || sleep 1
old=$(cat "$d/holder" 2>/dev/null)
entries=$(ls -A "$d" 2>/dev/null | wc -l)
case "$old" in *'"op":'*) ;; *)
  if [ -e "$d/holder" ]; then echo "FOREIGN its holder file was not written by nixmox"; else echo "FOREIGN no holder file; $entries entries"; fi
  exit 0 ;;
esac
[ "$entries" -eq 1 ] || { echo "FOREIGN a holder file and other entries ($((entries - 1)))"; exit 0; }
now=$(date +%s); m=$(stat -c %Y "$d/holder" 2>/dev/null || stat -c %Y "$d")
age=$((now - m))
if [ "$mode" != take ] && [ "$mode" != peek ] && [ "$age" -ge "$stale" ] && { [ -z "$expected" ] || [ "$old" = "$expected" ]; }; then
  t="$d.broken.$$"
  if mv -T "$d" "$t" 2>/dev/null; then
    if [ "$(cat "$t/holder" 2>/dev/null)" = "$old" ] && [ "$(ls -A "$t" | wc -l)" -eq 1 ]; then
      rm -f "$t/holder" && rmdir "$t"
      if [ "$mode" = break ] || take; then echo BROKEN; printf '%s\n' "$old"; exit 0; fi
    else
      mv -T "$t" "$d" 2>/dev/null
    fi
  fi
fi
if [ "$age" -ge "$stale" ]; then echo "STALE $age"; else echo "HELD $age"; fi
printf '%s\n' "$old"
"#;

/// `$1` lock dir, `$2` our op id: refresh only our own lock.
const HEARTBEAT_SCRIPT: &str =
    r#"grep -qF "\"op\":\"$2\"" "$1/holder" 2>/dev/null && touch "$1/holder""#;

/// `$1` lock dir, `$2` op id: removes the lock only if it is that
/// operation's nixmox lock. Prints RELEASED, FREE or OTHER.
const RELEASE: &str = r#"
d="$1"
[ -d "$d" ] || { echo FREE; exit 0; }
if grep -qF "\"op\":\"$2\"" "$d/holder" 2>/dev/null && [ "$(ls -A "$d" | wc -l)" -eq 1 ]; then
  rm -f "$d/holder" && rmdir "$d" && { echo RELEASED; exit 0; }
fi
echo OTHER
"#;

/// How long a release keeps trying a host that does not answer: about
/// 12 s over 5 tries, enough for a restarting sshd, short enough that the
/// operator hears about it while still looking.
const RELEASE_TRIES: u32 = 5;
const RELEASE_FIRST_PAUSE: Duration = Duration::from_millis(400);

/// What happened to a lock when its operation let go of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Released {
    Removed,
    /// Not there any more, or someone else's by now: nothing to do.
    Gone,
    /// Could not be removed; why (the host, most likely, is unreachable).
    Left(String),
}

/// Told about a held lock's life: a cancel request while it is held, and
/// how it was released. Lets the operation audit both.
pub(crate) trait LockWatcher: Send + Sync + 'static {
    fn cancel_requested(&self);
    fn released(&self, how: &Released);
}

pub(crate) struct Lock {
    pool: Arc<SshPool>,
    host: String,
    dir: String,
    op: String,
    heartbeat: tokio::task::JoinHandle<()>,
    broke: Option<Holder>,
    watcher: Arc<dyn LockWatcher>,
}

/// What a lock directory holds, as read without changing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockState {
    Free,
    Held {
        holder: Holder,
        age_secs: u64,
        /// No heartbeat for [`STALE_AFTER`], or its process on this admin
        /// box is gone.
        stale: bool,
    },
    /// The directory exists but is not a nixmox lock (why).
    Foreign(String),
}

/// What the lock script found.
enum Found {
    Acquired,
    Broken(Holder),
    Free,
    Foreign(String),
    /// `raw`: the holder file as found, to break exactly that one.
    Held {
        holder: Holder,
        raw: String,
        age: u64,
    },
    Stale {
        holder: Holder,
        age: u64,
    },
}

async fn run_script(
    pool: &SshPool,
    host: &str,
    dir: &str,
    ours: &str,
    stale_secs: u64,
    mode: &str,
    expected: &str,
) -> Result<Found, LockError> {
    let stale = stale_secs.to_string();
    let out = pool
        .run(
            host,
            &["sh", "-c", ACQUIRE, "sh", dir, ours, &stale, mode, expected],
            Duration::from_secs(20),
        )
        .await?;
    let mut lines = out.stdout.lines();
    let first = lines.next().unwrap_or("");
    let raw: String = lines.collect::<Vec<_>>().join("\n").trim().to_string();
    let holder = serde_json::from_str::<Holder>(&raw)
        .unwrap_or(Holder {
            user: "unknown".into(),
            pid: 0,
            op: "?".into(),
            action: "?".into(),
            since: format!("? (unreadable holder: {raw})"),
            pid_start: None,
        })
        .sanitised();
    let age = |s: &str| s.trim().parse().unwrap_or(0);
    Ok(match first {
        "ACQUIRED" => Found::Acquired,
        "BROKEN" => Found::Broken(holder),
        "FREE" => Found::Free,
        _ if first.starts_with("FOREIGN ") => {
            Found::Foreign(super::sanitize::line(&first.as_bytes()[8..]))
        }
        _ if first.starts_with("STALE ") => Found::Stale {
            holder,
            age: age(&first[6..]),
        },
        _ if first.starts_with("HELD ") => Found::Held {
            holder,
            raw,
            age: age(&first[5..]),
        },
        _ => {
            return Err(LockError::Remote(
                format!(
                    "unexpected answer: {}",
                    super::sanitize::line(
                        format!("{} {}", out.stdout.trim(), out.stderr.trim()).as_bytes()
                    )
                ),
                host.into(),
            ))
        }
    })
}

/// A holder recorded by a process on this admin box that no longer runs:
/// its lock is stale at once, whatever its heartbeat says.
pub(crate) fn orphaned_here(holder: &Holder) -> bool {
    let here = super::audit::local_user();
    let host_of = |u: &str| u.rsplit_once('@').map(|(_, h)| h.to_string());
    holder.pid != 0
        && host_of(&holder.user).is_some()
        && host_of(&holder.user) == host_of(&here)
        && !super::audit::process_alive(holder.pid, holder.pid_start)
}

/// What `dir` on `host` holds now; nothing is changed.
pub(crate) async fn peek(pool: &SshPool, host: &str, dir: &str) -> Result<LockState, LockError> {
    let stale = STALE_AFTER.as_secs();
    Ok(
        match run_script(pool, host, dir, "", stale, "peek", "").await? {
            Found::Free | Found::Acquired | Found::Broken(_) => LockState::Free,
            Found::Foreign(why) => LockState::Foreign(why),
            Found::Held { holder, age, .. } => LockState::Held {
                stale: orphaned_here(&holder),
                holder,
                age_secs: age,
            },
            Found::Stale { holder, age } => LockState::Held {
                holder,
                age_secs: age,
                stale: true,
            },
        },
    )
}

/// Breaks the lock in `dir` on `host` if it is stale; `Ok(None)` when
/// there is none, an error naming the holder when it is live, or saying
/// the directory is not a nixmox lock (then nothing is removed).
pub(crate) async fn break_stale(
    pool: &SshPool,
    host: &str,
    dir: &str,
) -> Result<Option<Holder>, LockError> {
    let stale = STALE_AFTER.as_secs();
    match run_script(pool, host, dir, "", stale, "break", "").await? {
        Found::Broken(h) => Ok(Some(h)),
        Found::Free | Found::Acquired => Ok(None),
        Found::Held { holder, raw, .. } if orphaned_here(&holder) => {
            match run_script(pool, host, dir, "", 0, "break", &raw).await? {
                Found::Broken(h) => Ok(Some(h)),
                Found::Free | Found::Acquired => Ok(None),
                other => Err(refusal(host, dir, other, true)),
            }
        }
        other => Err(refusal(host, dir, other, true)),
    }
}

/// Removes operation `op`'s lock in `dir` on `host`, if it is still there
/// and still that operation's (used for a lock its operation left behind).
pub(crate) async fn release_of(
    pool: &SshPool,
    host: &str,
    dir: &str,
    op: &str,
) -> Result<Released, SshError> {
    let out = pool
        .run(
            host,
            &["sh", "-c", RELEASE, "sh", dir, op],
            Duration::from_secs(10),
        )
        .await?;
    Ok(match out.stdout.trim() {
        "RELEASED" => Released::Removed,
        "FREE" | "OTHER" => Released::Gone,
        other => Released::Left(format!(
            "unexpected answer: {}",
            super::sanitize::line(other.as_bytes())
        )),
    })
}

fn refusal(host: &str, dir: &str, found: Found, asked_to_break: bool) -> LockError {
    match found {
        Found::Stale { holder, age } => LockError::Stale {
            host: host.into(),
            holder,
            age_secs: age,
        },
        Found::Held { holder, .. } if orphaned_here(&holder) => LockError::Orphaned {
            host: host.into(),
            holder,
        },
        Found::Held { holder, age, .. } => LockError::Held {
            host: host.into(),
            holder,
            age_secs: age,
            asked_to_break,
        },
        Found::Foreign(why) => LockError::NotALock {
            host: host.into(),
            dir: super::sanitize::line(dir.as_bytes()),
            why,
        },
        Found::Free => LockError::Remote("cannot create the lock directory".into(), host.into()),
        Found::Acquired | Found::Broken(_) => {
            LockError::Remote("the lock changed while it was read".into(), host.into())
        }
    }
}

impl Lock {
    /// Takes the lock on `host`. With `break_stale`, a STALE lock (never a
    /// live one) is broken first; [`Lock::broke`] then names its holder.
    /// `cancel` turning true while it is held is told to `watcher`.
    pub(crate) async fn acquire(
        pool: Arc<SshPool>,
        host: &str,
        dir: &str,
        holder: Holder,
        break_stale: bool,
        mut cancel: tokio::sync::watch::Receiver<bool>,
        watcher: Arc<dyn LockWatcher>,
    ) -> Result<Lock, LockError> {
        let json = serde_json::to_string(&holder)
            .map_err(|e| LockError::Remote(e.to_string(), host.into()))?;
        let mode = if break_stale { "take-break" } else { "take" };
        let stale = STALE_AFTER.as_secs();
        let mut found = run_script(&pool, host, dir, &json, stale, mode, "").await?;
        if let Found::Free = found {
            // Released between our mkdir and our look: try once more.
            found = run_script(&pool, host, dir, &json, stale, mode, "").await?;
        }
        if let Found::Held { holder: h, raw, .. } = &found {
            if break_stale && orphaned_here(h) {
                found = run_script(&pool, host, dir, &json, 0, mode, raw).await?;
            }
        }
        let broke = match found {
            Found::Acquired => None,
            Found::Broken(old) => Some(old),
            other => return Err(refusal(host, dir, other, break_stale)),
        };
        let heartbeat = {
            let pool = pool.clone();
            let host = host.to_string();
            let dir = dir.to_string();
            let op = holder.op.clone();
            let watcher = watcher.clone();
            tokio::spawn(async move {
                let mut told = *cancel.borrow();
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(HEARTBEAT) => {
                            let _ = pool
                                .run(
                                    &host,
                                    &["sh", "-c", HEARTBEAT_SCRIPT, "sh", &dir, &op],
                                    Duration::from_secs(10),
                                )
                                .await;
                        }
                        changed = cancel.changed(), if !told => {
                            if changed.is_err() {
                                // The operation is gone: only heartbeats left.
                                told = true;
                            } else if *cancel.borrow() {
                                told = true;
                                watcher.cancel_requested();
                            }
                        }
                    }
                }
            })
        };
        Ok(Lock {
            pool,
            host: host.into(),
            dir: dir.into(),
            op: holder.op,
            heartbeat,
            broke,
            watcher,
        })
    }

    /// The stale holder this lock was taken over from, if one was broken.
    pub(crate) fn broke(&self) -> Option<&Holder> {
        self.broke.as_ref()
    }

    /// Removes the lock (only if it is still ours), trying again with
    /// backoff while the host does not answer. A lock that could not be
    /// removed is told to the watcher (audited and reported as left); it
    /// goes stale without heartbeats, and the next nixmox that reaches the
    /// host removes it.
    pub(crate) async fn release(self) -> Released {
        self.heartbeat.abort();
        let mut pause = RELEASE_FIRST_PAUSE;
        let mut last = String::new();
        for attempt in 1..=RELEASE_TRIES {
            match release_of(&self.pool, &self.host, &self.dir, &self.op).await {
                Ok(Released::Left(why)) => last = why,
                Ok(done) => {
                    self.watcher.released(&done);
                    return done;
                }
                Err(e) => last = e.to_string(),
            }
            if attempt < RELEASE_TRIES {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
        let left = Released::Left(format!(
            "{}: could not release the lock after {RELEASE_TRIES} tries: {last}",
            self.host
        ));
        self.watcher.released(&left);
        left
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::Command;

    /// The lock script run locally, as the host's `sh` would run it.
    fn script(dir: &Path, ours: &str, stale: u64, mode: &str, expected: &str) -> Vec<String> {
        let out = Command::new("sh")
            .args(["-c", ACQUIRE, "sh"])
            .arg(dir)
            .args([ours, &stale.to_string(), mode, expected])
            .output()
            .expect("sh runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn age(dir: &Path, secs: u64) {
        let ok = Command::new("touch")
            .args(["-d", &format!("-{secs} seconds")])
            .arg(dir.join("holder"))
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "touch -d ages the holder");
    }

    #[test]
    fn only_a_stale_nixmox_lock_is_ever_broken() {
        let base = std::env::temp_dir().join(format!("nmx-lock-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        let d = base.join("lock");
        let (a, b) = (r#"{"op":"1"}"#, r#"{"op":"2"}"#);
        assert_eq!(script(&d, a, 30, "take", ""), ["ACQUIRED"]);
        assert_eq!(
            std::fs::read_to_string(d.join("holder")).unwrap(),
            format!("{a}\n")
        );
        // Live: refused, even when asked to break.
        assert_eq!(script(&d, b, 30, "take-break", "")[1], a);
        assert!(script(&d, b, 30, "take-break", "")[0].starts_with("HELD "));
        assert!(script(&d, "", 30, "break", "")[0].starts_with("HELD "));
        // Stale: reported, and broken only when asked.
        age(&d, 120);
        assert!(script(&d, b, 30, "take", "")[0].starts_with("STALE "));
        // A verdict made on another holder breaks nothing.
        assert!(script(&d, b, 30, "take-break", r#"{"op":"9"}"#)[0].starts_with("STALE "));
        assert_eq!(script(&d, b, 30, "take-break", ""), ["BROKEN", a]);
        assert_eq!(
            std::fs::read_to_string(d.join("holder")).unwrap(),
            format!("{b}\n")
        );
        // Not a nixmox holder: never removed.
        std::fs::write(d.join("holder"), "something else\n").unwrap();
        age(&d, 120);
        assert!(script(&d, "", 30, "break", "")[0].starts_with("FOREIGN "));
        assert!(d.exists());
        // A nixmox holder beside anything else (a mistyped `lock_dir`
        // naming a real directory): never removed, nor what is in it.
        std::fs::write(d.join("holder"), format!("{a}\n")).unwrap();
        std::fs::write(d.join("system-3-link"), "x").unwrap();
        age(&d, 120);
        for mode in ["break", "take-break", "take", "peek"] {
            assert_eq!(
                script(&d, b, 30, mode, "")[0],
                "FOREIGN a holder file and other entries (1)"
            );
        }
        assert!(d.join("system-3-link").exists());
        std::fs::remove_file(d.join("system-3-link")).unwrap();
        std::fs::remove_file(d.join("holder")).unwrap();
        assert_eq!(
            script(&d, b, 30, "take-break", ""),
            ["FOREIGN no holder file; 0 entries"]
        );
        // Peek never changes anything.
        std::fs::write(d.join("holder"), format!("{a}\n")).unwrap();
        age(&d, 120);
        assert!(script(&d, "", 30, "peek", "")[0].starts_with("STALE "));
        assert!(d.join("holder").exists());
        std::fs::remove_dir_all(&d).unwrap();
        assert_eq!(script(&d, "", 30, "break", ""), ["FREE"]);
        let left: Vec<_> = std::fs::read_dir(&base).unwrap().collect();
        assert!(left.is_empty(), "no renamed lock left behind: {left:?}");
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn a_holder_gone_from_this_box_is_orphaned_at_once() {
        let here = crate::backend::audit::local_user();
        let Some((_, host)) = here.rsplit_once('@') else {
            return; // no hostname here: nothing can be told apart
        };
        let mut child = Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        let holder = |user: String, pid: u32| Holder {
            user,
            pid,
            op: "1".into(),
            action: "deploy x".into(),
            since: "now".into(),
            pid_start: None,
        };
        assert!(orphaned_here(&holder(format!("bob@{host}"), gone)));
        assert!(!orphaned_here(&holder(
            format!("bob@{host}"),
            std::process::id()
        )));
        assert!(!orphaned_here(&holder(
            "bob@elsewhere.invalid".into(),
            gone
        )));
    }
}
