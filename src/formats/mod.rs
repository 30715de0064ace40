//! Streaming readers and writers for exported comments.
//!
//! Every reader yields [`Record`]s one at a time, so memory does not grow with the number of comments
//! (the Disqus reader keeps each thread's title and link, to give them to the thread's posts), and
//! reports a record it cannot read with the file and the position (line, or byte offset) and what was
//! expected.

pub mod csv;
pub mod disqus;
pub mod jsonl;
pub mod wxr;
pub mod xml;

use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::engine::Comment;

/// The longest record accepted (a JSONL line, a CSV record).
pub const MAX_RECORD_BYTES: usize = 16 << 20;

/// Where a record sits in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// 1-based line number.
    Line(u64),
    /// Byte offset from the start of the file, and the 1-based line it is on where that is known
    /// (XML: not when a pipe held the file and an error came up).
    Byte { byte: u64, line: Option<u64> },
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Line(n) => write!(f, "line {n}"),
            Position::Byte {
                byte,
                line: Some(line),
            } => write!(f, "line {line} (byte {byte})"),
            Position::Byte { byte, line: None } => write!(f, "byte {byte}"),
        }
    }
}

/// A comment read from a file, with where it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub comment: Comment,
    pub position: Position,
    /// The site's own moderation status, where the export keeps one (approved, pending, spam, trash,
    /// deleted).
    pub status: Option<&'static str>,
}

/// A record that could not be read, or a file that could not be opened.
#[derive(Debug, Error)]
pub enum ReadError {
    #[error("{file}:{position}: {message}")]
    Invalid {
        file: PathBuf,
        position: Position,
        message: String,
    },
    /// The file cannot be read past this point (malformed or truncated XML): never skipped.
    #[error("{file}:{position}: {message}")]
    Malformed {
        file: PathBuf,
        position: Position,
        message: String,
    },
    #[error("{file}: {source}")]
    Io {
        file: PathBuf,
        source: std::io::Error,
    },
}

impl Clone for ReadError {
    fn clone(&self) -> Self {
        match self {
            ReadError::Invalid {
                file,
                position,
                message,
            } => ReadError::Invalid {
                file: file.clone(),
                position: *position,
                message: message.clone(),
            },
            ReadError::Malformed {
                file,
                position,
                message,
            } => ReadError::Malformed {
                file: file.clone(),
                position: *position,
                message: message.clone(),
            },
            ReadError::Io { file, source } => ReadError::Io {
                file: file.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
        }
    }
}

impl ReadError {
    pub fn invalid(file: &Path, position: Position, message: impl Into<String>) -> Self {
        ReadError::Invalid {
            file: file.to_owned(),
            position,
            message: message.into(),
        }
    }

    /// A line that is not UTF-8, with the column (in bytes, from 1) where it stops being so.
    pub fn invalid_utf8(file: &Path, line: u64, error: &std::str::Utf8Error) -> Self {
        Self::invalid(
            file,
            Position::Line(line),
            format!("invalid UTF-8 at column {}", error.valid_up_to() + 1),
        )
    }

    /// A record over [`MAX_RECORD_BYTES`] at `line`, with a `hint` at the likely cause: a bad record
    /// like any other, which `--skip-invalid` skips.
    pub fn record_too_long(file: &Path, line: u64, hint: Option<&str>) -> Self {
        let mut message = format!("a record longer than {} MiB", MAX_RECORD_BYTES >> 20);
        if let Some(hint) = hint {
            message = format!("{message} ({hint})");
        }
        Self::invalid(file, Position::Line(line), message)
    }

    /// The rest of the file cannot be read.
    pub fn malformed(file: &Path, position: Position, message: impl Into<String>) -> Self {
        ReadError::Malformed {
            file: file.to_owned(),
            position,
            message: message.into(),
        }
    }

    /// Whether skipping this record (with `--skip-invalid`) lets reading go on.
    pub fn is_skippable(&self) -> bool {
        matches!(self, ReadError::Invalid { .. })
    }
}

/// The export formats saring reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON comment per line.
    Jsonl,
    /// Comma- (or other-) separated values with a header; columns mapped with --map.
    Csv,
    /// WordPress WXR export (also Disqus' WXR-like import format).
    Wxr,
    /// Disqus' native XML export.
    Disqus,
}

impl Format {
    /// Guesses the format from the first bytes of a file.
    pub fn detect(head: &[u8]) -> Format {
        let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
        let first = head.iter().find(|b| !b.is_ascii_whitespace());
        match first {
            Some(b'{') => Format::Jsonl,
            Some(b'<') => {
                let text = String::from_utf8_lossy(head);
                if text.contains("wordpress.org/export/") {
                    Format::Wxr
                } else if text.contains("<disqus") {
                    Format::Disqus
                } else {
                    Format::Wxr
                }
            }
            _ => Format::Csv,
        }
    }
}
