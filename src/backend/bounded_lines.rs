//! Reading a stream line by line when the other end is not trusted: bytes,
//! not UTF-8 (an invalid byte never ends the read), and each line kept to a
//! cap while the rest of it is counted and discarded, so a 50 MB line
//! without a newline costs the cap, not 50 MB.

use tokio::io::{AsyncRead, AsyncReadExt};

/// One line as read: at most the cap's bytes, and how many were dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawLine {
    pub bytes: Vec<u8>,
    pub dropped: usize,
}

impl RawLine {
    /// The line made safe to show (see `sanitize`), with the dropped bytes
    /// counted at its end.
    pub(crate) fn shown(&self) -> String {
        let mut s = super::sanitize::line_capped(&self.bytes, usize::MAX);
        if self.dropped > 0 {
            s.push_str(&format!(" … [{} more bytes]", self.dropped));
        }
        s
    }
}

pub(crate) struct BoundedLines<R> {
    reader: R,
    cap: usize,
    buf: Box<[u8]>,
    /// `buf[pos..len]` is read but not yet consumed.
    pos: usize,
    len: usize,
    current: Vec<u8>,
    dropped: usize,
    eof: bool,
}

impl<R: AsyncRead + Unpin> BoundedLines<R> {
    pub(crate) fn new(reader: R, cap: usize) -> Self {
        Self {
            reader,
            cap,
            buf: vec![0; 16 * 1024].into_boxed_slice(),
            pos: 0,
            len: 0,
            current: Vec::new(),
            dropped: 0,
            eof: false,
        }
    }

    /// The next line (without its `\n`), `None` at the end of the stream. A
    /// last line without a newline is returned too. Cancel-safe: a line
    /// half read when the future is dropped is kept for the next call.
    pub(crate) async fn next_line(&mut self) -> std::io::Result<Option<RawLine>> {
        loop {
            if let Some(line) = self.consume() {
                return Ok(Some(line));
            }
            if self.eof {
                if self.current.is_empty() && self.dropped == 0 {
                    return Ok(None);
                }
                return Ok(Some(self.finish()));
            }
            let n = self.reader.read(&mut self.buf).await?;
            self.pos = 0;
            self.len = n;
            self.eof = n == 0;
        }
    }

    /// Moves buffered bytes into the current line; returns it once its
    /// newline is seen.
    fn consume(&mut self) -> Option<RawLine> {
        let chunk = &self.buf[self.pos..self.len];
        let (part, newline) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (&chunk[..i], Some(i)),
            None => (chunk, None),
        };
        let room = self.cap.saturating_sub(self.current.len());
        let keep = part.len().min(room);
        self.current.extend_from_slice(&part[..keep]);
        self.dropped += part.len() - keep;
        match newline {
            Some(i) => {
                self.pos += i + 1;
                Some(self.finish())
            }
            None => {
                self.pos = self.len;
                None
            }
        }
    }

    fn finish(&mut self) -> RawLine {
        RawLine {
            bytes: std::mem::take(&mut self.current),
            dropped: std::mem::take(&mut self.dropped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn all(input: &[u8], cap: usize) -> Vec<RawLine> {
        let mut r = BoundedLines::new(input, cap);
        let mut out = Vec::new();
        while let Some(l) = r.next_line().await.unwrap() {
            out.push(l);
        }
        out
    }

    fn raw(b: &[u8], dropped: usize) -> RawLine {
        RawLine {
            bytes: b.to_vec(),
            dropped,
        }
    }

    #[tokio::test]
    async fn splits_caps_and_survives_invalid_utf8() {
        assert_eq!(
            all(b"a\n\xff\xfe\nlast", 100).await,
            vec![raw(b"a", 0), raw(b"\xff\xfe", 0), raw(b"last", 0)]
        );
        assert_eq!(
            all(b"abcdef\nxy\n", 3).await,
            vec![raw(b"abc", 3), raw(b"xy", 0)]
        );
        assert!(all(b"", 3).await.is_empty());
        assert_eq!(all(b"\n\n", 3).await, vec![raw(b"", 0), raw(b"", 0)]);
    }

    #[tokio::test]
    async fn a_huge_line_costs_only_the_cap() {
        // 50 MB without a newline, then a short line.
        let mut big = vec![b'x'; 50 << 20];
        big.extend_from_slice(b"\nend\n");
        let lines = all(&big, 4096).await;
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].bytes.len(), 4096);
        assert_eq!(lines[0].dropped, (50 << 20) - 4096);
        assert!(lines[0].bytes.capacity() < 64 * 1024);
        assert_eq!(lines[1], raw(b"end", 0));
        assert!(lines[0]
            .shown()
            .ends_with(&format!("[{} more bytes]", (50 << 20) - 4096)));
    }
}
