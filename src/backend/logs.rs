//! Log tails over ssh: `journalctl -u UNIT [-f] -n N -o short-iso` on the
//! host, streamed line by line. Stopping a tail ends the remote process: it
//! runs under a tiny wrapper that kills it when our end of its stdin closes,
//! so nothing keeps following after the console stops looking.

use super::bounded_lines::BoundedLines;
use super::sanitize::MAX_LINE;
use super::ssh::{SshError, SshPool};
use openssh::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// `$1` unit, `$2` line count, `$3` "-f" or "". The unit and count arrive as
/// positional arguments, quoted by the ssh layer, never pasted into the script.
/// Without `-f` it is journalctl alone: it ends when the journal output
/// ends. With `-f`, a watcher kills journalctl when our end of stdin closes;
/// the watcher's output goes nowhere, so the stream ends with journalctl.
/// (A background list's stdin is /dev/null in sh: the watcher reads a copy
/// of ours, fd 3.)
const FOLLOW_SCRIPT: &str = r#"if [ "$3" != -f ]; then exec journalctl -u "$1" -n "$2" -o short-iso --no-pager < /dev/null; fi; exec 3<&0; journalctl -u "$1" -n "$2" -o short-iso --no-pager -f < /dev/null & p=$!; (cat <&3 > /dev/null; kill $p 2>/dev/null) > /dev/null 2>&1 & exec 3<&-; wait $p; exit 0"#;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEvent {
    /// A batch of lines, in order (batched so a fast writer costs one
    /// event per batch, not per line).
    Lines(Vec<String>),
    /// The tail ended: by request, or because the connection or the remote
    /// command ended (with why).
    Ended(Option<String>),
}

/// A running tail; `stop()` (or drop) ends it and its remote process.
pub struct Tail {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Tail {
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub fn start(
    pool: Arc<SshPool>,
    host: String,
    unit: String,
    lines: usize,
    follow: bool,
    tx: mpsc::UnboundedSender<LogEvent>,
) -> Tail {
    let (stop_tx, stop_rx) = oneshot::channel();
    let task = tokio::spawn(async move {
        let why = tail(&pool, &host, &unit, lines, follow, &tx, stop_rx).await;
        let _ = tx.send(LogEvent::Ended(why.err().map(|e| e.to_string())));
    });
    Tail {
        stop: Some(stop_tx),
        task,
    }
}

async fn tail(
    pool: &SshPool,
    host: &str,
    unit: &str,
    lines: usize,
    follow: bool,
    tx: &mpsc::UnboundedSender<LogEvent>,
    mut stop: oneshot::Receiver<()>,
) -> Result<(), SshError> {
    let lost = |e: openssh::Error| SshError::Lost {
        host: host.to_string(),
        reason: super::ssh::describe_error(&e),
    };
    let session = pool.session(host).await?;
    let count = lines.to_string();
    let mut child = session
        .command("sh")
        .args([
            "-c",
            FOLLOW_SCRIPT,
            "sh",
            unit,
            &count,
            if follow { "-f" } else { "" },
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .await
        .map_err(lost)?;
    let stdin = child.stdin().take();
    let stdout = child.stdout().take().ok_or_else(|| SshError::Lost {
        host: host.to_string(),
        reason: "no output stream".into(),
    })?;
    // Bytes, capped per line: an invalid byte or a line without end never
    // stops the tail or fills memory; what is shown is sanitised here, once.
    let mut reader = BoundedLines::new(stdout, MAX_LINE);
    let mut batch = Vec::new();
    let flush_every = Duration::from_millis(15);
    let mut flush = tokio::time::interval(flush_every);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let result = loop {
        tokio::select! {
            _ = &mut stop => break Ok(()),
            line = reader.next_line() => match line {
                Ok(Some(l)) => {
                    batch.push(l.shown());
                    if batch.len() >= 2048 {
                        let _ = tx.send(LogEvent::Lines(std::mem::take(&mut batch)));
                    }
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(SshError::Lost { host: host.to_string(), reason: e.to_string() }),
            },
            _ = flush.tick(), if !batch.is_empty() => {
                let _ = tx.send(LogEvent::Lines(std::mem::take(&mut batch)));
            }
        }
    };
    if !batch.is_empty() {
        let _ = tx.send(LogEvent::Lines(batch));
    }
    // Closing stdin makes the wrapper kill journalctl on the host.
    drop(stdin);
    drop(reader);
    let _ = tokio::time::timeout(Duration::from_secs(3), child.wait()).await;
    result
}
