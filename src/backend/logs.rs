//! Log tails over ssh: `journalctl -u UNIT [-f] -n N -o short-iso` on the
//! host, streamed line by line. Stopping a tail ends the remote process: it
//! runs under a tiny wrapper that kills it when our end of its stdin closes,
//! so nothing keeps following after the console stops looking.

use super::bounded_lines::BoundedLines;
use super::sanitize::MAX_LINE;
use super::ssh::{SshError, SshPool};
use openssh::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
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

/// One journal of several tailed at once (see [`start_many`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSource {
    pub service: String,
    pub host: String,
    pub unit: String,
}

/// A line of an aggregated tail, tagged with the service it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedLine {
    pub service: String,
    /// Sanitised, as single tails give it.
    pub line: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergedEvent {
    /// Lines of all the sources, in time order (within [`MERGE_WINDOW`]).
    Lines(Vec<TaggedLine>),
    /// One source's tail ended on an error; the others go on.
    SourceFailed { service: String, why: String },
    /// Every tail ended (by request, or each on its own). The last event.
    Ended,
}

/// How long a line waits for earlier lines from other hosts before it is
/// shown: their streams arrive separately, their timestamps order them.
pub const MERGE_WINDOW: Duration = Duration::from_millis(200);

/// The longest the first lines wait for every source to answer: the past
/// lines of each journal merge with the others', not before them.
const FIRST_ANSWER_WAIT: Duration = Duration::from_secs(3);

/// Several tails at once; `stop()` (or drop) ends them all.
pub struct MultiTail {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl MultiTail {
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for MultiTail {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Tails every source (one [`start`] each, over the pool's masters) and
/// emits their lines interleaved by journal timestamp, each tagged with
/// its service. Ends with [`MergedEvent::Ended`].
pub fn start_many(
    pool: Arc<SshPool>,
    sources: Vec<LogSource>,
    lines: usize,
    follow: bool,
    tx: mpsc::UnboundedSender<MergedEvent>,
) -> MultiTail {
    let (stop_tx, stop_rx) = oneshot::channel();
    let task = tokio::spawn(merge_tails(pool, sources, lines, follow, tx, stop_rx));
    MultiTail {
        stop: Some(stop_tx),
        task,
    }
}

async fn merge_tails(
    pool: Arc<SshPool>,
    sources: Vec<LogSource>,
    lines: usize,
    follow: bool,
    tx: mpsc::UnboundedSender<MergedEvent>,
    mut stop: oneshot::Receiver<()>,
) {
    let (in_tx, mut in_rx) = mpsc::unbounded_channel::<(usize, LogEvent)>();
    let mut tails = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        let (one_tx, mut one_rx) = mpsc::unbounded_channel();
        let (host, unit) = (s.host.clone(), s.unit.clone());
        tails.push(start(pool.clone(), host, unit, lines, follow, one_tx));
        let in_tx = in_tx.clone();
        tokio::spawn(async move {
            while let Some(ev) = one_rx.recv().await {
                if in_tx.send((i, ev)).is_err() {
                    break;
                }
            }
        });
    }
    drop(in_tx);
    let mut merger = Merger::new(sources.len(), Instant::now());
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let tag = |out: Vec<(usize, String)>| -> Vec<TaggedLine> {
        out.into_iter()
            .map(|(i, line)| TaggedLine {
                service: sources[i].service.clone(),
                line,
            })
            .collect()
    };
    while !merger.all_ended() {
        tokio::select! {
            _ = &mut stop => break,
            ev = in_rx.recv() => match ev {
                Some((i, LogEvent::Lines(batch))) => merger.push(i, batch, Instant::now()),
                Some((i, LogEvent::Ended(why))) => {
                    merger.end(i);
                    if let Some(why) = why {
                        let service = sources[i].service.clone();
                        let _ = tx.send(MergedEvent::SourceFailed { service, why });
                    }
                }
                None => break,
            },
            _ = tick.tick() => {
                let out = merger.ready(Instant::now());
                if !out.is_empty() {
                    let _ = tx.send(MergedEvent::Lines(tag(out)));
                }
            }
        }
    }
    let rest = merger.drain();
    if !rest.is_empty() {
        let _ = tx.send(MergedEvent::Lines(tag(rest)));
    }
    for t in tails {
        t.stop().await;
    }
    let _ = tx.send(MergedEvent::Ended);
}

/// Orders lines of several sources by their journal timestamps: a line is
/// let out once it has waited [`MERGE_WINDOW`] for earlier ones.
struct Merger {
    pending: Vec<Pending>,
    /// Per source: the last timestamp seen (a line without one, like a
    /// continuation, sorts with the line before it).
    last_ts: Vec<Option<i64>>,
    heard: Vec<bool>,
    ended: Vec<bool>,
    seq: u64,
    started: Instant,
}

struct Pending {
    ts: Option<i64>,
    seq: u64,
    arrived: Instant,
    source: usize,
    line: String,
}

impl Merger {
    fn new(sources: usize, now: Instant) -> Self {
        Merger {
            pending: Vec::new(),
            last_ts: vec![None; sources],
            heard: vec![false; sources],
            ended: vec![false; sources],
            seq: 0,
            started: now,
        }
    }

    fn push(&mut self, source: usize, lines: Vec<String>, now: Instant) {
        self.heard[source] = true;
        for line in lines {
            if let Some(ts) = journal_time(&line) {
                self.last_ts[source] = Some(ts);
            }
            self.seq += 1;
            self.pending.push(Pending {
                ts: self.last_ts[source],
                seq: self.seq,
                arrived: now,
                source,
                line,
            });
        }
    }

    fn end(&mut self, source: usize) {
        self.heard[source] = true;
        self.ended[source] = true;
    }

    fn all_ended(&self) -> bool {
        self.ended.iter().all(|e| *e)
    }

    /// The lines that waited long enough, in time order.
    fn ready(&mut self, now: Instant) -> Vec<(usize, String)> {
        let everyone = self.heard.iter().all(|h| *h);
        if !everyone && now.duration_since(self.started) < FIRST_ANSWER_WAIT {
            return Vec::new();
        }
        let waited = |p: &Pending| now.duration_since(p.arrived) >= MERGE_WINDOW;
        let (mut out, mut keep): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(waited);
        // A line still in its window may be older than lines that are out
        // of theirs (a host that answered late sends its past at once):
        // nothing newer than it goes before it.
        if let Some(hold) = keep.iter().filter_map(|p| p.ts).min() {
            let (go, wait): (Vec<Pending>, Vec<Pending>) = out
                .into_iter()
                .partition(|p| p.ts.is_none_or(|t| t <= hold));
            out = go;
            keep.extend(wait);
        }
        self.pending = keep;
        sorted(out)
    }

    /// Everything still waiting, in time order.
    fn drain(&mut self) -> Vec<(usize, String)> {
        sorted(std::mem::take(&mut self.pending))
    }
}

fn sorted(mut lines: Vec<Pending>) -> Vec<(usize, String)> {
    // Same second (short-iso's resolution): arrival order, which keeps each
    // journal's own order.
    lines.sort_by_key(|p| (p.ts, p.seq));
    lines.into_iter().map(|p| (p.source, p.line)).collect()
}

/// Seconds since the epoch of a `-o short-iso` line's timestamp
/// (`2026-11-30T12:51:25+0000`, or `+00:00`, or `Z`); `None` for a line
/// without one.
fn journal_time(line: &str) -> Option<i64> {
    let b = line.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let s = line.get(from..from + len)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (h, mi, s) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let offset = match b[19] {
        b'Z' => 0,
        sign @ (b'+' | b'-') => {
            let oh = num(20, 2)?;
            let om = if b.get(22) == Some(&b':') {
                num(23, 2)?
            } else {
                num(22, 2)?
            };
            let o = oh * 3600 + om * 60;
            if sign == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return None,
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_timestamps_are_read_in_every_offset_form() {
        let t = |l: &str| journal_time(l);
        assert_eq!(t("1970-01-01T00:00:00+00:00 h u: x"), Some(0));
        assert_eq!(t("2000-02-29T00:00:00+0000 h u: x"), Some(951_782_400));
        assert_eq!(t("2025-11-25T19:22:30Z h u: x"), Some(1_764_098_550));
        assert_eq!(t("2025-11-25T20:22:30+01:00 h u: x"), Some(1_764_098_550));
        assert_eq!(t("2025-11-25T18:22:30-0100 h u: x"), Some(1_764_098_550));
        assert_eq!(t("-- No entries --"), None);
        assert_eq!(t("2025-11-25T1"), None);
        assert_eq!(t("2025-11-25Tab:22:30+0000 x"), None);
    }

    #[test]
    fn lines_merge_by_time_after_the_window_and_keep_each_source_in_order() {
        let t0 = Instant::now();
        let mut m = Merger::new(2, t0);
        let l = |s: &str, msg: &str| format!("2026-11-30T12:00:{s}+00:00 h u: {msg}");
        m.push(
            0,
            vec![l("01", "a1"), l("03", "a3"), "  continued".into()],
            t0,
        );
        // Until the other source answers, nothing comes out.
        assert!(m.ready(t0 + MERGE_WINDOW).is_empty());
        m.push(1, vec![l("02", "b2"), l("03", "b3")], t0 + MERGE_WINDOW);
        let out = m.ready(t0 + MERGE_WINDOW);
        let msgs: Vec<&str> = out
            .iter()
            .map(|(_, l)| l.rsplit(' ').next().unwrap_or(""))
            .collect();
        // b's lines still wait, and a's newer than b's oldest wait with them:
        // b2 must not come after a3.
        assert_eq!(msgs, ["a1"]);
        let out = m.ready(t0 + MERGE_WINDOW * 2);
        let msgs: Vec<&str> = out
            .iter()
            .map(|(_, l)| l.rsplit(' ').next().unwrap_or(""))
            .collect();
        assert_eq!(msgs, ["b2", "a3", "continued", "b3"]);
        m.push(1, vec![l("00", "late")], t0);
        m.end(0);
        m.end(1);
        assert!(m.all_ended());
        assert_eq!(m.drain(), vec![(1, l("00", "late"))]);
    }

    #[test]
    fn a_silent_source_holds_the_first_lines_only_so_long() {
        let t0 = Instant::now();
        let mut m = Merger::new(2, t0);
        m.push(0, vec!["2026-11-30T12:00:01+00:00 h u: a".into()], t0);
        assert!(m.ready(t0 + Duration::from_secs(1)).is_empty());
        assert_eq!(m.ready(t0 + FIRST_ANSWER_WAIT).len(), 1);
    }
}
