//! Running a step on a host detached from the ssh connection: the step
//! keeps going if the connection drops or the console closes, so a host is
//! never left half-switched. Its output goes to a file on the host that is
//! polled and streamed back, and its exit status to another.

use super::ssh::SshPool;
use std::time::{Duration, Instant};

/// `$1` base path; the rest is the argv to run. Starts it in its own
/// session and returns at once.
const START: &str = r#"b="$1"; shift; rm -f "$b.status" "$b.log"; setsid sh -c 'b="$1"; shift; "$@" > "$b.log" 2>&1 < /dev/null; echo $? > "$b.status"' sh "$b" "$@" > /dev/null 2>&1 < /dev/null & echo started"#;

/// `$1` base path, `$2` bytes of log already seen: prints the status (or
/// nothing), a separator, then the new log bytes.
const POLL: &str = r#"cat "$1.status" 2>/dev/null; echo '---nixmox---'; tail -c +$(( $2 + 1 )) "$1.log" 2>/dev/null"#;

pub(crate) struct Finished {
    pub code: i32,
    pub tail: Vec<String>,
}

/// Runs `argv` detached on `host` and waits for it, calling `on_line` for
/// each line of its output. Connection trouble while waiting is retried
/// until `limit`; the step itself keeps running on the host regardless.
pub(crate) async fn run_detached(
    pool: &SshPool,
    host: &str,
    base: &str,
    argv: &[String],
    limit: Duration,
    mut on_line: impl FnMut(String),
) -> Result<Finished, String> {
    let mut start: Vec<&str> = vec!["sh", "-c", START, "sh", base];
    start.extend(argv.iter().map(String::as_str));
    let out = pool
        .run(host, &start, Duration::from_secs(30))
        .await
        .map_err(|e| format!("could not start: {e}"))?;
    if out.stdout.trim() != "started" {
        return Err(format!("could not start: {}", out.tail().join(" / ")));
    }
    let began = Instant::now();
    let mut seen: usize = 0;
    let mut partial = String::new();
    let mut tail: Vec<String> = Vec::new();
    let mut last_error: Option<(Instant, String)> = None;
    loop {
        if began.elapsed() > limit {
            return Err(match last_error {
                Some((_, e)) => {
                    format!("lost contact while it ran ({e}); it may have finished on the host")
                }
                None => format!("did not finish within {limit:?}"),
            });
        }
        let seen_s = seen.to_string();
        match pool
            .run(
                host,
                &["sh", "-c", POLL, "sh", base, &seen_s],
                Duration::from_secs(15),
            )
            .await
        {
            Err(e) => {
                // Give a dropped connection a while to come back before
                // calling the step lost.
                let since = last_error.get_or_insert_with(|| (Instant::now(), e.to_string()));
                since.1 = e.to_string();
                if since.0.elapsed() > Duration::from_secs(15) {
                    return Err(format!(
                        "lost contact while it ran ({e}); it may have finished on the host"
                    ));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            Ok(o) => {
                last_error = None;
                let (status, log) = o
                    .stdout
                    .split_once("---nixmox---\n")
                    .unwrap_or((o.stdout.as_str(), ""));
                seen += log.len();
                partial.push_str(log);
                while let Some(i) = partial.find('\n') {
                    let line: String = partial.drain(..=i).collect();
                    let line = line.trim_end().to_string();
                    tail.push(line.clone());
                    if tail.len() > super::ssh::TAIL_LINES {
                        tail.remove(0);
                    }
                    on_line(line);
                }
                if let Ok(code) = status.trim().parse::<i32>() {
                    if !partial.is_empty() {
                        tail.push(partial.clone());
                        on_line(std::mem::take(&mut partial));
                    }
                    // Best effort: the step's files are no longer needed.
                    let _ = pool
                        .run(
                            host,
                            &["sh", "-c", r#"rm -f "$1.log" "$1.status""#, "sh", base],
                            Duration::from_secs(10),
                        )
                        .await;
                    return Ok(Finished { code, tail });
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
