//! JSON Lines in the comment format: one JSON object per line; blank lines are skipped.

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Position, ReadError, Record, MAX_RECORD_BYTES};

/// Parses one line into a [`crate::engine::Comment`], or a [`crate::engine::BorrowedComment`] that
/// keeps pointing into `text`; `line` is 1-based and only names the place in errors.
pub fn parse_line<'a, T: Deserialize<'a>>(
    text: &'a str,
    file: &Path,
    line: u64,
) -> Result<T, ReadError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    serde_json::from_str(text).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => format!("not a comment: {e}"),
            _ => format!("invalid JSON: {e}"),
        };
        ReadError::invalid(file, Position::Line(line), what)
    })
}

/// Reads raw lines, keeping their numbers; blank lines are skipped. Invalid UTF-8 is reported per line.
pub struct Lines<R> {
    reader: R,
    file: PathBuf,
    line: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> Lines<R> {
    pub fn new(reader: R, file: &Path) -> Self {
        Lines {
            reader,
            file: file.to_owned(),
            line: 0,
            buf: Vec::new(),
        }
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The next non-blank line and its number.
    pub fn next_line(&mut self) -> Option<Result<(u64, String), ReadError>> {
        loop {
            self.buf.clear();
            let limit = MAX_RECORD_BYTES as u64 + 1;
            let io = |source| {
                Some(Err(ReadError::Io {
                    file: self.file.clone(),
                    source,
                }))
            };
            match (&mut self.reader)
                .take(limit)
                .read_until(b'\n', &mut self.buf)
            {
                Ok(0) => return None,
                Ok(_) => {}
                Err(source) => return io(source),
            }
            self.line += 1;
            if self.buf.len() as u64 == limit && self.buf.last() != Some(&b'\n') {
                // Too long to be a comment: the rest of the line is skipped, not held in memory.
                if let Err(source) = self.reader.skip_until(b'\n') {
                    return io(source);
                }
                return Some(Err(ReadError::record_too_long(&self.file, self.line, None)));
            }
            let mut bytes: &[u8] = &self.buf;
            while let [rest @ .., b'\n' | b'\r'] = bytes {
                bytes = rest;
            }
            if bytes.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(match std::str::from_utf8(bytes) {
                Ok(s) => Ok((self.line, s.to_owned())),
                Err(e) => Err(ReadError::invalid_utf8(&self.file, self.line, &e)),
            });
        }
    }
}

/// Reads comments from JSON Lines.
pub struct JsonlReader<R> {
    lines: Lines<R>,
}

impl<R: BufRead> JsonlReader<R> {
    pub fn new(reader: R, file: &Path) -> Self {
        JsonlReader {
            lines: Lines::new(reader, file),
        }
    }
}

impl<R: BufRead> Iterator for JsonlReader<R> {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (line, text) = match self.lines.next_line()? {
            Ok(l) => l,
            Err(e) => return Some(Err(e)),
        };
        Some(
            parse_line(&text, self.lines.file(), line).map(|comment| Record {
                comment,
                position: Position::Line(line),
                status: None,
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_comments_and_reports_bad_lines_with_their_number() {
        let input = "{\"content\":\"a\"}\n\n{\"content\":\"b\",\"label\":\"spam\"}\r\n{oops}\n{\"author\":\"x\"}\n";
        let out: Vec<_> = JsonlReader::new(input.as_bytes(), Path::new("in.jsonl")).collect();
        assert_eq!(out.len(), 4);
        assert!(matches!(&out[1], Ok(r) if r.position == Position::Line(3)));
        let bad = out[2].as_ref().expect_err("invalid JSON").to_string();
        assert!(bad.starts_with("in.jsonl:line 4: invalid JSON"), "{bad}");
        let missing = out[3].as_ref().expect_err("no content").to_string();
        assert!(
            missing.contains("line 5") && missing.contains("content"),
            "{missing}"
        );
    }

    #[test]
    fn an_overlong_line_is_a_skippable_error_and_reading_goes_on() {
        let long = format!("{{\"content\":\"{}\"}}", "x".repeat(MAX_RECORD_BYTES));
        let input = format!("{{\"content\":\"a\"}}\n{long}\n{{\"content\":\"b\"}}\n");
        let out: Vec<_> = JsonlReader::new(input.as_bytes(), Path::new("big.jsonl")).collect();
        assert_eq!(out.len(), 3);
        let err = out[1].as_ref().expect_err("too long");
        assert!(err.is_skippable());
        assert!(
            err.to_string()
                .starts_with("big.jsonl:line 2: a record longer than 16 MiB"),
            "{err}"
        );
        assert!(
            matches!(&out[2], Ok(r) if r.position == Position::Line(3) && r.comment.content == "b")
        );
    }

    #[test]
    fn invalid_utf8_is_an_error_not_a_panic() {
        let input: &[u8] = b"{\"content\":\"\xff\"}\n";
        let out: Vec<_> = JsonlReader::new(input, Path::new("x")).collect();
        assert!(out[0]
            .as_ref()
            .is_err_and(|e| e.to_string().contains("UTF-8")));
    }
}
