//! Running a step on a host detached from the ssh connection: the step
//! keeps going if the connection drops or the console closes, so a host is
//! never left half-switched. Its output goes to a file on the host that is
//! polled and streamed back, and its exit status to another.
//!
//! Host-side files live in the private `state_dir` (`mkdir -m 700`), are
//! created with O_EXCL (`set -C`), and are named after the operation:
//! `op-OP-SERVICE-STEP.log|.status|.pid` for a step, and for the activation
//! supervisor (magic rollback) `op-OP-SERVICE.confirm|.verdict`.
//!
//! The supervisor runs the step, then waits for the deployer's confirmation
//! file; without it within the timeout it claims the confirmation file
//! itself (O_EXCL: exactly one of the deployer and the supervisor wins),
//! switches back to the previous generation, and leaves its verdict:
//! `confirmed` | `reverted WHY` | `revert-failed WHY`. They stay on the host
//! (an interrupted operation is reconciled from them) for a week.

use super::exec::quote;
use super::sanitize;
use super::ssh::SshPool;
use std::time::{Duration, Instant};

/// `$1` state dir, `$2` op base name, `$3` step, `$4` confirm timeout (s),
/// `$5` how to detach (auto | setsid | systemd-run), `$6` the step's
/// command line, `$7` the revert's (may be empty), `$8` the supervisor
/// script. Creates the step's files and starts the supervisor detached.
const START: &str = r#"sd=$1; ob="$1/$2"; sb="$ob-$3"; umask 077
mkdir -m 700 -p "$sd" || exit 1
find "$sd" -maxdepth 1 -name 'op-*' -type f -mtime +7 -exec rm -f {} + 2> /dev/null
( set -C; : > "$sb.log" && : > "$sb.status" ) || { echo "cannot create the step files $sb.*"; exit 1; }
case $5 in
  systemd-run) m=systemd ;;
  setsid) m=setsid ;;
  *) if command -v systemd-run > /dev/null 2>&1 && [ -d /run/systemd/system ]; then m=systemd; else m=setsid; fi ;;
esac
if [ "$m" = systemd ]; then
  systemd-run --quiet --collect --no-ask-password --setenv="PATH=$PATH" --unit "nixmox-$2-$3" sh -c "$8" sh "$ob" "$sb" "$4" "$6" "$7" > /dev/null 2>&1 < /dev/null || { echo "systemd-run failed"; exit 1; }
else
  setsid sh -c "$8" sh "$ob" "$sb" "$4" "$6" "$7" > /dev/null 2>&1 < /dev/null &
fi
echo started"#;

/// The detached part: `$1` op base, `$2` step base, `$3` confirm timeout,
/// `$4` step command line, `$5` revert command line.
const SUPERVISE: &str = r#"ob=$1; sb=$2; t=$3
echo $$ >| "$sb.pid"
eval "$4" >> "$sb.log" 2>&1 < /dev/null
echo $? >| "$sb.status"
[ "$t" -gt 0 ] && [ -n "$5" ] || exit 0
i=0
while [ "$i" -lt "$t" ] && [ ! -e "$ob.confirm" ]; do sleep 1; i=$((i + 1)); done
if ( set -C; echo timeout > "$ob.confirm" ) 2> /dev/null; then
  eval "$5" >> "$ob.revert.log" 2>&1 < /dev/null
  rc=$?
  if [ "$rc" = 0 ]; then
    echo "reverted not confirmed within $t s" >| "$ob.verdict"
  else
    echo "revert-failed switching back exited $rc (not confirmed within $t s)" >| "$ob.verdict"
  fi
else
  echo confirmed >| "$ob.verdict"
fi"#;

/// `$1` step base, `$2` bytes of log already seen: prints the status (or
/// nothing), a separator, the offset after this chunk and the log's size,
/// then the chunk (at
/// most 256 KiB; offsets are bytes on the host, whatever the bytes are).
const POLL: &str = r#"cat "$1.status" 2>/dev/null; echo '---nixmox---'
s=$(wc -c < "$1.log" 2>/dev/null || echo 0); n=$(( s - $2 )); [ "$n" -gt 262144 ] && n=262144; [ "$n" -lt 0 ] && n=0
echo "$(( $2 + n )) $s"; [ "$n" -gt 0 ] && tail -c +$(( $2 + 1 )) "$1.log" | head -c "$n"; exit 0"#;

/// `$1` step base: stops the step's whole process group on the host (the
/// external `kill`: dash's builtin cannot signal a group).
const KILL: &str = r#"read -r p < "$1.pid" 2>/dev/null || exit 0; env kill -s TERM -- "-$p" 2>/dev/null; sleep 1; env kill -s KILL -- "-$p" 2>/dev/null; echo 137 >| "$1.status"; exit 0"#;

/// `$1` op base: the deployer's confirmation, O_EXCL. Prints `won`, or
/// what the confirmation file already says (`timeout`: the supervisor gave
/// up waiting and is switching back).
const CONFIRM: &str = r#"if ( set -C; echo "$2" > "$1.confirm" ) 2> /dev/null; then echo won; else cat "$1.confirm"; fi"#;

/// The host-side rollback that guards an activation.
pub(crate) struct Supervision {
    /// The command that switches back to the previous generation.
    pub revert: Vec<String>,
    pub timeout_secs: u64,
}

/// A step to run detached on a host, and where its files go.
pub(crate) struct Detached<'a> {
    pub state_dir: &'a str,
    /// `op-OP-SERVICE`.
    pub op_base: String,
    pub step: &'a str,
    pub argv: &'a [String],
    pub supervise: Option<Supervision>,
    /// auto | setsid | systemd-run.
    pub detach: &'a str,
}

impl Detached<'_> {
    fn step_base(&self) -> String {
        format!("{}/{}-{}", self.state_dir, self.op_base, self.step)
    }

    pub(crate) fn op_path(&self) -> String {
        format!("{}/{}", self.state_dir, self.op_base)
    }
}

pub(crate) struct Finished {
    pub code: i32,
    pub tail: Vec<String>,
}

/// Why a detached step has no exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StepError {
    /// It was not started (nothing ran on the host).
    NotStarted(String),
    /// It ran past its limit and was killed on the host.
    TimedOut(String),
    /// The host stopped answering while it ran: its state is unknown.
    LostContact(String),
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::NotStarted(e) => write!(f, "could not start: {e}"),
            StepError::TimedOut(e) | StepError::LostContact(e) => f.write_str(e),
        }
    }
}

fn command_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| quote(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// How long the host may stay silent while a step runs before it is
/// called lost.
const SILENCE: Duration = Duration::from_secs(15);

/// Runs `step` detached on `host` and waits for it, calling `on_line` for
/// each (sanitised) line of its output. Connection trouble while waiting is
/// retried for a while; the step itself keeps running on the host
/// regardless. Past `limit` the step is killed on the host.
pub(crate) async fn run_detached(
    pool: &SshPool,
    host: &str,
    step: &Detached<'_>,
    limit: Duration,
    mut on_line: impl FnMut(String),
) -> Result<Finished, StepError> {
    let base = step.step_base();
    let (timeout, revert) = match &step.supervise {
        Some(s) => (s.timeout_secs.to_string(), command_line(&s.revert)),
        None => ("0".to_string(), String::new()),
    };
    let run = command_line(step.argv);
    let start = [
        "sh",
        "-c",
        START,
        "sh",
        step.state_dir,
        &step.op_base,
        step.step,
        &timeout,
        step.detach,
        &run,
        &revert,
        SUPERVISE,
    ];
    let out = pool
        .run(host, &start, Duration::from_secs(30))
        .await
        .map_err(|e| StepError::NotStarted(e.to_string()))?;
    if out.stdout.trim() != "started" {
        return Err(StepError::NotStarted(out.tail().join(" / ")));
    }
    let began = Instant::now();
    let mut seen: u64 = 0;
    let mut partial: Vec<u8> = Vec::new();
    let mut tail: Vec<String> = Vec::new();
    let mut last_error: Option<(Instant, String)> = None;
    let mut emit = |bytes: &[u8], tail: &mut Vec<String>| {
        let line = sanitize::line(bytes).trim_end().to_string();
        tail.push(line.clone());
        if tail.len() > super::ssh::TAIL_LINES {
            tail.remove(0);
        }
        on_line(line);
    };
    loop {
        if began.elapsed() > limit {
            if let Some((_, e)) = last_error {
                return Err(StepError::LostContact(format!(
                    "lost contact during {} ({e}); host state unknown until it answers",
                    step.step
                )));
            }
            let killed = pool
                .run(
                    host,
                    &["sh", "-c", KILL, "sh", &base],
                    Duration::from_secs(10),
                )
                .await;
            return Err(StepError::TimedOut(match killed {
                Ok(_) => format!(
                    "{} did not finish within {} s; killed on the host",
                    step.step,
                    limit.as_secs()
                ),
                Err(e) => format!(
                    "{} did not finish within {} s; killing it on the host failed: {e}",
                    step.step,
                    limit.as_secs()
                ),
            }));
        }
        let seen_s = seen.to_string();
        match pool
            .run(
                host,
                &["sh", "-c", POLL, "sh", &base, &seen_s],
                Duration::from_secs(15),
            )
            .await
        {
            Err(e) => {
                // Give a dropped connection a while to come back before
                // calling the step lost.
                let since = last_error.get_or_insert_with(|| (Instant::now(), e.to_string()));
                since.1 = e.to_string();
                if since.0.elapsed() > SILENCE {
                    return Err(StepError::LostContact(format!(
                        "lost contact during {} ({e}); host state unknown until it answers",
                        step.step
                    )));
                }
                pool.retry_now(host).await;
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            Ok(o) => {
                last_error = None;
                let (status, rest) = o
                    .stdout
                    .split_once("---nixmox---\n")
                    .unwrap_or((o.stdout.as_str(), ""));
                let (offsets, chunk) = rest.split_once('\n').unwrap_or((rest, ""));
                let mut offsets = offsets.split_whitespace().map(str::parse::<u64>);
                let mut drained = false;
                if let (Some(Ok(next)), Some(Ok(size))) = (offsets.next(), offsets.next()) {
                    seen = next.max(seen);
                    drained = next >= size;
                    partial.extend_from_slice(chunk.as_bytes());
                }
                while let Some(i) = partial.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = partial.drain(..=i).collect();
                    emit(&line[..line.len() - 1], &mut tail);
                }
                if partial.len() > sanitize::MAX_LINE {
                    let line: Vec<u8> = std::mem::take(&mut partial);
                    emit(&line, &mut tail);
                }
                let finished = status.trim().parse::<i32>().ok();
                // The log may still hold bytes past this chunk: drain first.
                if let (Some(code), true) = (finished, drained) {
                    if !partial.is_empty() {
                        let line = std::mem::take(&mut partial);
                        emit(&line, &mut tail);
                    }
                    // Best effort: the step's files are no longer needed.
                    let _ = pool
                        .run(
                            host,
                            &[
                                "sh",
                                "-c",
                                r#"rm -f "$1.log" "$1.status" "$1.pid""#,
                                "sh",
                                &base,
                            ],
                            Duration::from_secs(10),
                        )
                        .await;
                    return Ok(Finished { code, tail });
                }
                if finished.is_some() {
                    continue;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What the deployer's confirmation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Confirmation {
    /// Ours: the supervisor will not switch back.
    Won,
    /// The supervisor gave up waiting first and is switching back.
    TooLate,
}

/// Writes the confirmation file for `op_path` (`word`: `confirmed`, or
/// `deployer-rollback` when the deployer takes the switch back over).
pub(crate) async fn confirm(
    pool: &SshPool,
    host: &str,
    op_path: &str,
    word: &str,
) -> Result<Confirmation, String> {
    let out = pool
        .run(
            host,
            &["sh", "-c", CONFIRM, "sh", op_path, word],
            Duration::from_secs(10),
        )
        .await
        .map_err(|e| e.to_string())?;
    match out.stdout.trim() {
        "won" => Ok(Confirmation::Won),
        "timeout" => Ok(Confirmation::TooLate),
        other => Err(format!(
            "unexpected confirmation state on the host: {:?}",
            sanitize::line(other.as_bytes())
        )),
    }
}

/// The supervisor's verdict, as the host left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Confirmed,
    Reverted(String),
    RevertFailed(String),
}

pub(crate) fn parse_verdict(text: &str) -> Option<Verdict> {
    let line = sanitize::line(text.trim().as_bytes());
    let (word, why) = line.split_once(' ').unwrap_or((line.as_str(), ""));
    match word {
        "confirmed" => Some(Verdict::Confirmed),
        "reverted" => Some(Verdict::Reverted(why.to_string())),
        "revert-failed" => Some(Verdict::RevertFailed(why.to_string())),
        _ => None,
    }
}

/// Waits until `deadline` for the supervisor of `op_path` to leave its
/// verdict, retrying a host that does not answer. `None`: no verdict
/// before the deadline (the host did not answer, or is still deciding).
pub(crate) async fn await_verdict(
    pool: &SshPool,
    host: &str,
    op_path: &str,
    deadline: Instant,
) -> Option<Verdict> {
    loop {
        pool.retry_now(host).await;
        let verdict = pool
            .run(
                host,
                &[
                    "sh",
                    "-c",
                    r#"cat "$1.verdict" 2>/dev/null; exit 0"#,
                    "sh",
                    op_path,
                ],
                Duration::from_secs(5),
            )
            .await;
        if let Ok(o) = verdict {
            if let Some(v) = parse_verdict(&o.stdout) {
                return Some(v);
            }
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_parse_as_the_contract_says() {
        assert_eq!(parse_verdict("confirmed\n"), Some(Verdict::Confirmed));
        assert_eq!(
            parse_verdict("reverted not confirmed within 60 s\n"),
            Some(Verdict::Reverted("not confirmed within 60 s".into()))
        );
        assert_eq!(
            parse_verdict("revert-failed switching back exited 4\n"),
            Some(Verdict::RevertFailed("switching back exited 4".into()))
        );
        assert_eq!(parse_verdict(""), None);
        assert_eq!(parse_verdict("maybe"), None);
    }
}
