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
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// A lock not refreshed for this long is stale.
pub const STALE_AFTER: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub user: String,
    pub pid: u32,
    pub op: String,
    pub action: String,
    pub since: String,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum LockError {
    #[error("{host} is locked by {} ({} since {}, op {}); try again when it finishes", .holder.user, .holder.action, .holder.since, .holder.op)]
    Held { host: String, holder: Holder },
    #[error("{host} has a STALE lock from {} ({} since {}; no heartbeat for {}s): rerun with --break-lock if that operation is really gone", .holder.user, .holder.action, .holder.since, .age_secs)]
    Stale {
        host: String,
        holder: Holder,
        age_secs: u64,
    },
    #[error("{host}: lock: {0}", host = .1)]
    Remote(String, String),
    #[error(transparent)]
    Ssh(#[from] SshError),
}

/// `$1` lock dir, `$2` holder JSON, `$3` stale seconds, `$4` "break" or "".
/// Prints ACQUIRED, or HELD/STALE <age> followed by the holder file.
const ACQUIRE: &str = r#"
d="$1"
if [ "$4" = break ]; then rm -rf "$d"; fi
if mkdir "$d" 2>/dev/null; then printf '%s\n' "$2" > "$d/holder" && echo ACQUIRED; exit 0; fi
now=$(date +%s); m=$(stat -c %Y "$d/holder" 2>/dev/null || stat -c %Y "$d")
age=$((now - m))
if [ "$age" -ge "$3" ]; then echo "STALE $age"; else echo "HELD $age"; fi
cat "$d/holder" 2>/dev/null
"#;

/// `$1` lock dir, `$2` our op id: refresh only our own lock.
const HEARTBEAT_SCRIPT: &str =
    r#"grep -qF "\"op\":\"$2\"" "$1/holder" 2>/dev/null && touch "$1/holder""#;
const RELEASE: &str = r#"grep -qF "\"op\":\"$2\"" "$1/holder" 2>/dev/null && rm -rf "$1"; exit 0"#;

pub struct Lock {
    pool: Arc<SshPool>,
    host: String,
    dir: String,
    op: String,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl Lock {
    pub async fn acquire(
        pool: Arc<SshPool>,
        host: &str,
        dir: &str,
        holder: Holder,
        break_lock: bool,
    ) -> Result<Lock, LockError> {
        let json = serde_json::to_string(&holder)
            .map_err(|e| LockError::Remote(e.to_string(), host.into()))?;
        let stale = STALE_AFTER.as_secs().to_string();
        let out = pool
            .run(
                host,
                &[
                    "sh",
                    "-c",
                    ACQUIRE,
                    "sh",
                    dir,
                    &json,
                    &stale,
                    if break_lock { "break" } else { "" },
                ],
                Duration::from_secs(20),
            )
            .await?;
        let mut lines = out.stdout.lines();
        let first = lines.next().unwrap_or("");
        let rest: String = lines.collect::<Vec<_>>().join("\n");
        let parsed = || {
            serde_json::from_str::<Holder>(rest.trim()).unwrap_or(Holder {
                user: "unknown".into(),
                pid: 0,
                op: "?".into(),
                action: "?".into(),
                since: format!("? (unreadable holder: {})", rest.trim()),
            })
        };
        if first == "ACQUIRED" {
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
            return Ok(Lock {
                pool,
                host: host.into(),
                dir: dir.into(),
                op: holder.op,
                heartbeat,
            });
        }
        if let Some(age) = first.strip_prefix("STALE ") {
            return Err(LockError::Stale {
                host: host.into(),
                holder: parsed(),
                age_secs: age.trim().parse().unwrap_or(0),
            });
        }
        if first.starts_with("HELD") {
            return Err(LockError::Held {
                host: host.into(),
                holder: parsed(),
            });
        }
        Err(LockError::Remote(
            format!(
                "unexpected answer: {} {}",
                out.stdout.trim(),
                out.stderr.trim()
            ),
            host.into(),
        ))
    }

    /// Removes the lock (only if it is still ours). Best effort: a host that
    /// cannot be reached keeps a lock that goes stale without heartbeats.
    pub async fn release(self) {
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
