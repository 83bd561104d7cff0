//! The one gate between text a host sends and a terminal. A host may be
//! compromised, or just a service that logs colours: whatever it sends, the
//! operator's terminal must never receive an escape sequence, a carriage
//! return that overwrites what nixmox printed, or a line long enough to
//! exhaust memory. Every remote string that is shown (CLI and console)
//! goes through [`line`]; JSON output does not (serde escapes it exactly).

/// Bytes of one line shown; the rest is counted, not kept.
pub(crate) const MAX_LINE: usize = 4096;

const TAB_STOP: usize = 8;

/// One line of remote output made safe to print: invalid UTF-8 replaced,
/// colour sequences (SGR) dropped, every other control character or escape
/// shown visibly (`\e`, `\r`, `\x07`, `\u{202e}`), tabs expanded, and at
/// most [`MAX_LINE`] bytes kept with the rest counted.
pub(crate) fn line(bytes: &[u8]) -> String {
    line_capped(bytes, MAX_LINE)
}

/// [`line`] with a chosen cap (in bytes of the input).
pub(crate) fn line_capped(bytes: &[u8], cap: usize) -> String {
    // A CRLF line ending is harmless (nothing follows to overwrite).
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    let (head, cut) = if bytes.len() > cap {
        (&bytes[..cap], bytes.len() - cap)
    } else {
        (bytes, 0)
    };
    let text = String::from_utf8_lossy(head);
    let mut out = String::with_capacity(text.len() + 16);
    let mut column = 0usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\t' => {
                let n = TAB_STOP - column % TAB_STOP;
                out.extend(std::iter::repeat_n(' ', n));
                column += n;
                continue;
            }
            '\u{1b}' if chars.peek() == Some(&'[') => {
                // A CSI sequence: drop it if it only sets colours (SGR),
                // show it escaped otherwise.
                let mut seq = String::new();
                let mut lookahead = chars.clone();
                lookahead.next();
                let mut fin = None;
                for d in lookahead.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&d) {
                        fin = Some(d);
                        break;
                    }
                    if !('\u{20}'..='\u{3f}').contains(&d) || seq.len() > 64 {
                        break;
                    }
                    seq.push(d);
                }
                if fin == Some('m') && seq.bytes().all(|b| b.is_ascii_digit() || b == b';') {
                    chars = lookahead;
                    continue;
                }
                out.push_str("\\e");
                column += 2;
                continue;
            }
            c if is_unsafe(c) => {
                let shown = visible(c);
                column += shown.len();
                out.push_str(&shown);
                continue;
            }
            c => out.push(c),
        }
        column += 1;
    }
    if cut > 0 {
        out.push_str(&format!(" … [{cut} more bytes]"));
    }
    out
}

/// Splits remote text into sanitised lines (a trailing newline does not
/// make an empty last line).
pub(crate) fn lines(bytes: &[u8]) -> Vec<String> {
    let mut parts: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    if parts.last().is_some_and(|l| l.is_empty()) {
        parts.pop();
    }
    parts.into_iter().map(line).collect()
}

/// [`line`] for text already decoded (lossily or not) into a `String`.
pub(crate) fn text(s: &str) -> String {
    line(s.as_bytes())
}

/// Characters a terminal would act on rather than show, and the ones that
/// reorder what is shown (bidirectional overrides).
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

fn visible(c: char) -> String {
    match c {
        '\u{1b}' => "\\e".into(),
        '\r' => "\\r".into(),
        '\n' => "\\n".into(),
        c if (c as u32) < 0x100 => format!("\\x{:02x}", c as u32),
        c => format!("\\u{{{:x}}}", c as u32),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_control(s: &str) -> bool {
        s.chars().any(is_unsafe)
    }

    #[test]
    fn escapes_every_hostile_sequence() {
        let hostile: &[&[u8]] = &[
            b"\x1b]0;PWNED\x07",
            b"\x1b]52;c;cHduZWQ=\x07",
            b"\x1b[2J",
            b"\x1b[?1049l",
            b"2026-11-30 fake\rforged line",
            b"\x9b31m c1 csi",
            "\u{202e}txt.exe".as_bytes(),
            b"\x1bP+q\x1b\\",
            b"bell\x07 and del\x7f",
        ];
        for h in hostile {
            let s = line(h);
            assert!(!has_control(&s), "{h:?} -> {s:?}");
        }
        assert_eq!(line(b"\x1b]0;PWNED\x07"), "\\e]0;PWNED\\x07");
        assert_eq!(line(b"a\rb"), "a\\rb");
        assert_eq!(line(b"\x1b[2J"), "\\e[2J");
    }

    #[test]
    fn drops_colours_keeps_text() {
        assert_eq!(line(b"\x1b[1;31merror\x1b[0m: x"), "error: x");
        assert_eq!(line(b"\x1b[m plain"), " plain");
    }

    #[test]
    fn expands_tabs_to_stops() {
        assert_eq!(line(b"a\tb"), "a       b");
        assert_eq!(line(b"\tx"), "        x");
        assert_eq!(line(b"abcdefgh\ty"), "abcdefgh        y");
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        assert_eq!(line(b"ok \xff\xfe end"), "ok \u{fffd}\u{fffd} end");
    }

    #[test]
    fn caps_long_lines_and_counts_the_rest() {
        let big = vec![b'x'; MAX_LINE + 1000];
        let s = line(&big);
        assert!(
            s.ends_with(" … [1000 more bytes]"),
            "{}",
            &s[s.len() - 40..]
        );
        assert!(s.len() < MAX_LINE + 40);
    }

    #[test]
    fn sanitised_text_passes_unchanged() {
        let inputs: &[&[u8]] = &[
            b"A\x1b]0;PWNED\x07B\x1b[2J\rFORGED\tTAB\xff\xc2\x9b",
            "\u{202e}x\u{7f}".as_bytes(),
            &[b'y'; MAX_LINE + 10],
        ];
        for input in inputs {
            let once = line(input);
            assert_eq!(line_capped(once.as_bytes(), 2 * MAX_LINE), once);
        }
    }

    #[test]
    fn splits_lines() {
        assert_eq!(lines(b"a\nb\r\n"), vec!["a".to_string(), "b".to_string()]);
        assert_eq!(line(b"a\rb\r"), "a\\rb");
        assert!(lines(b"").is_empty());
    }
}
