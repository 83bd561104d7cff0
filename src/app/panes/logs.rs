//! The logs screen's state: a bounded buffer of lines with follow/pause,
//! scrolling, wrap and search, for one log tail: one service's journal,
//! or several merged by time (each line tagged with its service).

use crate::backend::logs::{MergedEvent, TaggedLine};
use crate::backend::sanitize;
use std::collections::VecDeque;

/// Default bound of the log buffer.
pub const DEFAULT_CAP: usize = 10_000;

/// Bound of the log buffer in bytes of text, whatever the line count: lines
/// arrive capped (4 KiB shown), but 10,000 of them could still be 40 MB.
pub const MAX_BYTES: usize = 8 << 20;

/// The widest a service tag gets (longer names are cut).
pub const TAG_MAX: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogView {
    /// The tail this view shows: events of any other (an earlier tail's
    /// queued lines) are dropped.
    pub tail: u64,
    /// The journals shown: one, or the merged ones (the service asked
    /// for first).
    pub sources: Vec<Source>,
    pub lines: VecDeque<String>,
    /// Per line (in step with `lines`), the index in `sources` of the
    /// service it came from.
    pub tags: VecDeque<usize>,
    pub cap: usize,
    /// Lines dropped off the front since the tail started.
    pub dropped: u64,
    pub follow: bool,
    /// Index of the top visible line when not following.
    pub top: usize,
    pub wrap: bool,
    /// Hide each line's journal prefix (time, host, unit[pid]).
    pub bare: bool,
    /// The search text (typed on the search line, used by `n`/`N`).
    pub search: String,
    /// The line index of the current match.
    pub current: Option<usize>,
    pub ended: Option<String>,
    /// Bytes of text in `lines` (kept under [`MAX_BYTES`]).
    pub bytes: usize,
}

/// One journal a view shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub service: String,
    pub unit: String,
}

impl LogView {
    /// A view of one service's journal (the console opens every view
    /// through `merged`, one source or several).
    #[cfg(test)]
    pub fn new(tail: u64, service: &str, unit: &str, cap: usize) -> Self {
        Self::merged(
            tail,
            vec![Source {
                service: service.into(),
                unit: unit.into(),
            }],
            cap,
        )
    }

    /// A view of several journals merged by time; each line is tagged.
    pub fn merged(tail: u64, sources: Vec<Source>, cap: usize) -> Self {
        Self {
            tail,
            sources,
            lines: VecDeque::with_capacity(cap.min(1024)),
            tags: VecDeque::with_capacity(cap.min(1024)),
            cap,
            dropped: 0,
            follow: true,
            top: 0,
            wrap: false,
            bare: false,
            search: String::new(),
            current: None,
            ended: None,
            bytes: 0,
        }
    }

    /// Whether lines carry a service tag (more than one journal).
    pub fn tagged(&self) -> bool {
        self.sources.len() > 1
    }

    /// The service whose journal line `i` is.
    pub fn service_of(&self, i: usize) -> &str {
        let tag = self.tags.get(i).copied().unwrap_or(0);
        self.sources.get(tag).map_or("", |s| s.service.as_str())
    }

    /// Lines of the (first) journal.
    pub fn push(&mut self, batch: Vec<String>) {
        for line in batch {
            self.push_one(0, line);
        }
    }

    /// Lines of merged journals, each with its service.
    pub fn push_tagged(&mut self, batch: Vec<TaggedLine>) {
        for TaggedLine { service, line } in batch {
            let tag = self.tag_of(&service);
            self.push_one(tag, line);
        }
    }

    /// A merged tail's event: its lines, one journal's failure (a line
    /// of that service's; the others go on), or its end.
    pub fn apply(&mut self, event: MergedEvent) {
        match event {
            MergedEvent::Lines(batch) => self.push_tagged(batch),
            MergedEvent::SourceFailed { service, why } => {
                let tag = self.tag_of(&service);
                let why = sanitize::line(why.as_bytes());
                self.push_one(tag, format!("[nixmox] the tail of {service} ended: {why}"));
            }
            MergedEvent::Ended => self.ended = Some("tail ended".into()),
        }
    }

    fn tag_of(&mut self, service: &str) -> usize {
        match self.sources.iter().position(|s| s.service == service) {
            Some(i) => i,
            // Not asked for (cannot happen with start_many): shown anyway.
            None => {
                self.sources.push(Source {
                    service: service.into(),
                    unit: String::new(),
                });
                self.sources.len() - 1
            }
        }
    }

    fn push_one(&mut self, tag: usize, line: String) {
        while !self.lines.is_empty()
            && (self.lines.len() >= self.cap || self.bytes + line.len() > MAX_BYTES)
        {
            if let Some(old) = self.lines.pop_front() {
                self.bytes -= old.len();
            }
            self.tags.pop_front();
            self.dropped += 1;
            // Keep a paused view on the same text as lines scroll off.
            self.top = self.top.saturating_sub(1);
            self.current = self.current.and_then(|c| c.checked_sub(1));
        }
        self.bytes += line.len();
        self.lines.push_back(line);
        self.tags.push_back(tag);
    }

    /// Columns of the service tag (the name, cut to [`TAG_MAX`]); 0 when
    /// lines are not tagged.
    pub fn tag_width(&self) -> usize {
        if !self.tagged() {
            return 0;
        }
        self.sources
            .iter()
            .map(|s| s.service.chars().count())
            .max()
            .unwrap_or(0)
            .min(TAG_MAX)
    }

    pub fn scroll(&mut self, delta: isize, height: usize) {
        if self.follow {
            self.top = self.lines.len().saturating_sub(height);
            self.follow = false;
        }
        let max = self.lines.len().saturating_sub(1);
        self.top = self.top.saturating_add_signed(delta).min(max);
    }

    /// The first visible line for a window of `height`.
    pub fn first_visible(&self, height: usize) -> usize {
        if self.follow {
            self.lines.len().saturating_sub(height)
        } else {
            self.top.min(self.lines.len().saturating_sub(1))
        }
    }

    /// Where the search text occurs in `line` (byte ranges), smart-case:
    /// ignoring case unless the search has an upper-case letter.
    pub fn matches(&self, line: &str) -> Vec<(usize, usize)> {
        find_all(line, &self.search)
    }

    /// (the current match's number, how many lines match), for the title.
    pub fn match_count(&self) -> (Option<usize>, usize) {
        if self.search.is_empty() {
            return (None, 0);
        }
        let mut total = 0;
        let mut at = None;
        for (i, l) in self.lines.iter().enumerate() {
            if !self.matches(l).is_empty() {
                total += 1;
                if Some(i) == self.current {
                    at = Some(total);
                }
            }
        }
        (at, total)
    }

    /// What is shown of a line: all of it, or without its journal prefix.
    pub fn shown<'a>(&self, line: &'a str) -> &'a str {
        if self.bare {
            strip_prefix(line)
        } else {
            line
        }
    }

    /// The first line of a window of `height` rows `width` wide: when
    /// following with wrap on, as many of the newest lines as their
    /// wrapped rows allow, so the newest is always whole on screen.
    pub fn first_for_rows(&self, height: usize, width: usize) -> usize {
        if !(self.follow && self.wrap) {
            return self.first_visible(height);
        }
        let width = width.max(1);
        let mut rows = 0;
        let mut first = self.lines.len();
        for l in self.lines.iter().rev() {
            let n = self.shown(l).chars().count().div_ceil(width).max(1);
            if rows + n > height && first < self.lines.len() {
                break;
            }
            rows += n;
            first -= 1;
            if rows >= height {
                break;
            }
        }
        first
    }

    /// Jumps to the next (or previous) line containing the search text,
    /// wrapping around; pauses following so the match stays in view.
    pub fn find(&mut self, forward: bool, height: usize) -> bool {
        if self.search.is_empty() || self.lines.is_empty() {
            return false;
        }
        let n = self.lines.len();
        let from = self.current.unwrap_or(if forward {
            self.first_visible(height).wrapping_sub(1)
        } else {
            self.first_visible(height) + height.min(n)
        });
        for step in 1..=n {
            let i = if forward {
                (from.wrapping_add(step)) % n
            } else {
                (from + n * 2 - step % n) % n
            };
            if !self.matches(&self.lines[i]).is_empty() {
                self.current = Some(i);
                self.follow = false;
                self.top = i.saturating_sub(height / 2);
                return true;
            }
        }
        self.current = None;
        false
    }
}

/// Byte ranges of `needle` in `hay`, smart-case (ASCII case folding, so
/// byte offsets stay those of `hay`).
pub fn find_all(hay: &str, needle: &str) -> Vec<(usize, usize)> {
    if needle.is_empty() {
        return Vec::new();
    }
    let fold = !needle.chars().any(char::is_uppercase);
    let (h, n) = if fold {
        (hay.to_ascii_lowercase(), needle.to_ascii_lowercase())
    } else {
        (hay.to_string(), needle.to_string())
    };
    h.match_indices(&n).map(|(i, m)| (i, i + m.len())).collect()
}

/// A journal line without its `short-iso` prefix (`2026-11-25T19:12:30+0000
/// host unit[pid]: `); a line without one is left as it is.
pub fn strip_prefix(line: &str) -> &str {
    let dated = line.as_bytes().first().is_some_and(u8::is_ascii_digit);
    match line.split_once(": ") {
        Some((head, rest)) if dated && head.split(' ').count() >= 3 => rest,
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(n: usize, cap: usize) -> LogView {
        let mut v = LogView::new(1, "web", "web", cap);
        v.push((0..n).map(|i| format!("line {i}")).collect());
        v
    }

    #[test]
    fn buffer_is_bounded_and_counts_drops() {
        let v = view(25, 10);
        assert_eq!(v.lines.len(), 10);
        assert_eq!(v.dropped, 15);
        assert_eq!(v.lines.front().unwrap(), "line 15");
    }

    #[test]
    fn buffer_is_bounded_in_bytes_too() {
        let mut v = LogView::new(1, "web", "web", DEFAULT_CAP);
        let big = "x".repeat(4096);
        v.push((0..5000).map(|_| big.clone()).collect());
        assert!(v.bytes <= MAX_BYTES);
        assert_eq!(v.bytes, v.lines.iter().map(String::len).sum::<usize>());
        assert_eq!(v.lines.len(), MAX_BYTES / 4096);
        assert_eq!(v.dropped, 5000 - (MAX_BYTES / 4096) as u64);
    }

    #[test]
    fn search_wraps_both_ways() {
        let mut v = view(100, 1000);
        v.search = "line 4".into();
        assert!(v.find(true, 10));
        let first = v.current.unwrap();
        assert!(v.lines[first].contains("line 4"));
        assert!(!v.follow);
        assert!(v.find(true, 10));
        assert!(v.current.unwrap() > first);
        assert!(v.find(false, 10));
        assert_eq!(v.current, Some(first));
        v.search = "nope".into();
        assert!(!v.find(true, 10));
    }

    #[test]
    fn search_is_smart_case_and_counts_matches() {
        let mut v = view(0, 100);
        v.push(vec!["Error one".into(), "error two".into(), "fine".into()]);
        v.search = "error".into();
        assert_eq!(v.match_count(), (None, 2));
        v.search = "Error".into();
        assert_eq!(
            v.match_count(),
            (None, 1),
            "an upper-case letter: exact case"
        );
        v.search = "error".into();
        assert!(v.find(true, 10));
        assert_eq!(v.match_count(), (Some(1), 2));
        assert_eq!(find_all("Error error", "error"), vec![(0, 5), (6, 11)]);
    }

    #[test]
    fn the_prefix_can_be_hidden() {
        let line = "2026-11-25T19:12:30+0000 grafana grafana[812]: listening on :3000";
        assert_eq!(strip_prefix(line), "listening on :3000");
        assert_eq!(strip_prefix("plain: text"), "plain: text");
    }

    #[test]
    fn follow_with_wrap_keeps_the_newest_line_whole() {
        let mut v = view(0, 100);
        v.wrap = true;
        v.push(vec!["short".into(), "x".repeat(25), "y".repeat(25)]);
        // 10 wide, 5 rows: the last two lines take 3 rows each.
        assert_eq!(v.first_for_rows(5, 10), 2);
        assert_eq!(v.first_for_rows(6, 10), 1);
        assert_eq!(v.first_for_rows(7, 10), 0);
    }

    #[test]
    fn scrolling_pauses_follow() {
        let mut v = view(100, 1000);
        assert_eq!(v.first_visible(10), 90);
        v.scroll(-5, 10);
        assert!(!v.follow);
        assert_eq!(v.first_visible(10), 85);
        v.push(vec!["new".into()]);
        assert_eq!(v.first_visible(10), 85, "a paused view does not move");
    }

    fn tagged(service: &str, line: &str) -> TaggedLine {
        TaggedLine {
            service: service.into(),
            line: line.into(),
        }
    }

    fn two(cap: usize) -> LogView {
        let src = |n: &str| Source {
            service: n.into(),
            unit: n.into(),
        };
        LogView::merged(2, vec![src("authentik"), src("postgresql")], cap)
    }

    #[test]
    fn merged_lines_keep_their_service_as_they_scroll_off() {
        let mut v = two(3);
        assert!(v.tagged());
        assert_eq!(v.tag_width(), "postgresql".len());
        v.apply(MergedEvent::Lines(vec![
            tagged("postgresql", "p1"),
            tagged("authentik", "a1"),
            tagged("postgresql", "p2"),
            tagged("authentik", "a2"),
        ]));
        assert_eq!(v.lines, ["a1", "p2", "a2"]);
        assert_eq!(v.tags.len(), v.lines.len());
        let who: Vec<&str> = (0..3).map(|i| v.service_of(i)).collect();
        assert_eq!(who, ["authentik", "postgresql", "authentik"]);
        assert_eq!(v.dropped, 1);
    }

    #[test]
    fn one_source_failing_is_a_line_of_its_own_and_the_view_goes_on() {
        let mut v = two(100);
        v.apply(MergedEvent::SourceFailed {
            service: "postgresql".into(),
            why: "lost \u{1b}[31mconnection".into(),
        });
        assert_eq!(v.service_of(0), "postgresql");
        assert!(v.lines[0].contains("the tail of postgresql ended"));
        assert!(
            !v.lines[0].contains('\u{1b}'),
            "sanitised: {:?}",
            v.lines[0]
        );
        assert_eq!(v.ended, None);
        v.apply(MergedEvent::Lines(vec![tagged("authentik", "still here")]));
        assert_eq!(v.service_of(1), "authentik");
        v.apply(MergedEvent::Ended);
        assert!(v.ended.is_some());
    }

    #[test]
    fn search_on_merged_lines_finds_their_text() {
        let mut v = two(100);
        v.push_tagged(vec![
            tagged("authentik", "Login failed"),
            tagged("postgresql", "checkpoint"),
            tagged("postgresql", "FATAL: login failed"),
        ]);
        v.search = "login".into();
        assert_eq!(v.match_count(), (None, 2));
        assert!(v.find(true, 10));
        assert!(v.find(true, 10));
        assert_eq!(v.current, Some(2));
        assert_eq!(v.service_of(2), "postgresql");
    }

    #[test]
    fn a_single_view_is_untagged_and_names_cap_the_tag_column() {
        assert_eq!(view(1, 10).tag_width(), 0);
        let long = |n: &str| Source {
            service: n.into(),
            unit: n.into(),
        };
        let v = LogView::merged(1, vec![long("a"), long("a-very-long-service-name")], 10);
        assert_eq!(v.tag_width(), TAG_MAX);
    }
}
