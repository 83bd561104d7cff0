//! One deploy or rollback per host at a time, across consoles and admin
//! boxes: a lock directory ON THE HOST (mkdir is atomic) holding a
//! `holder` file that names who holds it and since when. The holder
//! refreshes it every few seconds; a lock whose holder stopped refreshing is
//! stale and can be broken explicitly.

use super::ssh::{SshError, SshPool};
use serde::{Deserialize, Serialize};
use std::path::Path;
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
}

#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum LockError {
    #[error("{host} is locked by {} ({} since {}, op {}); try again when it finishes", .holder.user, .holder.action, .holder.since, .holder.op)]
    Held { host: String, holder: Holder },
    #[error("{host} has a STALE lock from {} ({} since {}; no heartbeat for {}s): rerun with --break-lock if that operation is really gone", .holder.user, .holder.action, .holder.since, .age_secs)]
    Stale {
        host: String,
        holder: Holder,
        age_secs: u64,
    },
    #[error("{host} has a STALE lock from {} ({} since {}): its process {} on this machine is gone; rerun with --break-lock", .holder.user, .holder.action, .holder.since, .holder.pid)]
    Orphaned { host: String, holder: Holder },
    #[error("{host}: lock: {0}", host = .1)]
    Remote(String, String),
    #[error(transparent)]
    Ssh(#[from] SshError),
}

/// `$1` lock dir, `$2` our holder JSON, `$3` stale seconds, `$4` mode:
/// `take`, `take-break` (take, breaking a stale lock) or `break` (only
/// break), `$5` the holder a stale verdict was made on, if any (break only
/// that one). Prints ACQUIRED, FREE, BROKEN or HELD/STALE <age>, then the
/// holder file that was found.
///
/// Only a stale lock whose directory holds a nixmox holder file is ever
/// removed, and it is first renamed away (atomic), so two breakers cannot
/// both remove it; a holder that changed meanwhile is put back.
const ACQUIRE: &str = r#"
d="$1"; new="$2"; stale="$3"; mode="$4"; expected="$5"
take() { mkdir "$d" 2>/dev/null && printf '%s\n' "$new" > "$d/holder"; }
if [ "$mode" != break ] && take; then echo ACQUIRED; exit 0; fi
[ -d "$d" ] || { echo FREE; exit 0; }
old=$(cat "$d/holder" 2>/dev/null)
now=$(date +%s); m=$(stat -c %Y "$d/holder" 2>/dev/null || stat -c %Y "$d")
age=$((now - m))
case "$old" in *'"op":'*) by_nixmox=1 ;; *) by_nixmox= ;; esac
if [ "$mode" != take ] && [ "$age" -ge "$stale" ] && [ -n "$by_nixmox" ] && { [ -z "$expected" ] || [ "$old" = "$expected" ]; }; then
  t="$d.broken.$$"
  if mv -T "$d" "$t" 2>/dev/null; then
    if [ "$(cat "$t/holder" 2>/dev/null)" = "$old" ]; then
      rm -rf "$t"
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
const RELEASE: &str = r#"grep -qF "\"op\":\"$2\"" "$1/holder" 2>/dev/null && rm -rf "$1"; exit 0"#;

pub(crate) struct Lock {
    pool: Arc<SshPool>,
    host: String,
    dir: String,
    op: String,
    heartbeat: tokio::task::JoinHandle<()>,
    broke: Option<Holder>,
}

/// What the lock script found.
enum Found {
    Acquired,
    Broken(Holder),
    Free,
    /// `raw`: the holder file as found, to break exactly that one.
    Held {
        holder: Holder,
        raw: String,
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
    let holder = serde_json::from_str::<Holder>(&raw).unwrap_or(Holder {
        user: "unknown".into(),
        pid: 0,
        op: "?".into(),
        action: "?".into(),
        since: format!("? (unreadable holder: {raw})"),
    });
    let age = |s: &str| s.trim().parse().unwrap_or(0);
    Ok(match first {
        "ACQUIRED" => Found::Acquired,
        "BROKEN" => Found::Broken(holder),
        "FREE" => Found::Free,
        _ if first.starts_with("STALE ") => Found::Stale {
            holder,
            age: age(&first[6..]),
        },
        _ if first.starts_with("HELD ") => Found::Held { holder, raw },
        _ => {
            return Err(LockError::Remote(
                format!(
                    "unexpected answer: {} {}",
                    out.stdout.trim(),
                    out.stderr.trim()
                ),
                host.into(),
            ))
        }
    })
}

/// A holder recorded by a process on this admin box that no longer runs:
/// its lock is stale at once, whatever its heartbeat says.
fn orphaned_here(holder: &Holder) -> bool {
    let here = super::audit::local_user();
    let host_of = |u: &str| u.rsplit_once('@').map(|(_, h)| h.to_string());
    holder.pid != 0
        && host_of(&holder.user).is_some()
        && host_of(&holder.user) == host_of(&here)
        && !Path::new(&format!("/proc/{}", holder.pid)).exists()
}

/// Breaks the lock in `dir` on `host` if it is stale; `Ok(None)` when
/// there is none, an error naming the holder when it is live.
pub(crate) async fn break_stale(
    pool: &SshPool,
    host: &str,
    dir: &str,
) -> Result<Option<Holder>, LockError> {
    let stale = STALE_AFTER.as_secs();
    match run_script(pool, host, dir, "", stale, "break", "").await? {
        Found::Broken(h) => Ok(Some(h)),
        Found::Free | Found::Acquired => Ok(None),
        Found::Held { holder, raw } if orphaned_here(&holder) => {
            match run_script(pool, host, dir, "", 0, "break", &raw).await? {
                Found::Broken(h) => Ok(Some(h)),
                Found::Free | Found::Acquired => Ok(None),
                other => Err(refusal(host, other)),
            }
        }
        other => Err(refusal(host, other)),
    }
}

fn refusal(host: &str, found: Found) -> LockError {
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
        Found::Held { holder, .. } => LockError::Held {
            host: host.into(),
            holder,
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
    pub(crate) async fn acquire(
        pool: Arc<SshPool>,
        host: &str,
        dir: &str,
        holder: Holder,
        break_stale: bool,
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
        if let Found::Held { holder: h, raw } = &found {
            if break_stale && orphaned_here(h) {
                found = run_script(&pool, host, dir, &json, 0, mode, raw).await?;
            }
        }
        let broke = match found {
            Found::Acquired => None,
            Found::Broken(old) => Some(old),
            other => return Err(refusal(host, other)),
        };
        let heartbeat = {
            let pool = pool.clone();
            let host = host.to_string();
            let dir = dir.to_string();
            let op = holder.op.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(HEARTBEAT).await;
                    let _ = pool
                        .run(
                            &host,
                            &["sh", "-c", HEARTBEAT_SCRIPT, "sh", &dir, &op],
                            Duration::from_secs(10),
                        )
                        .await;
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
        })
    }

    /// The stale holder this lock was taken over from, if one was broken.
    pub(crate) fn broke(&self) -> Option<&Holder> {
        self.broke.as_ref()
    }

    /// Removes the lock (only if it is still ours). Best effort: a host that
    /// cannot be reached keeps a lock that goes stale without heartbeats.
    pub(crate) async fn release(self) {
        self.heartbeat.abort();
        let _ = self
            .pool
            .run(
                &self.host,
                &["sh", "-c", RELEASE, "sh", &self.dir, &self.op],
                Duration::from_secs(10),
            )
            .await;
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
        assert!(script(&d, "", 30, "break", "")[0].starts_with("STALE "));
        assert!(d.exists());
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
