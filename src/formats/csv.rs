//! CSV (RFC 4180, any delimiter) with a header; columns are mapped to comment fields.
//!
//! `--map content=CONTENT --map label=CLASS --spam-value 1`: a column is named by its header or by its
//! 0-based index. Without a mapping, headers that match a field's usual names are used
//! (`content`, `comment`, `comment_content`, `text`, `message`; `label`, `class`, …).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Position, ReadError, Record};
use crate::engine::{Comment, Label};

/// The comment fields a column can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Id,
    Content,
    Author,
    AuthorEmail,
    AuthorUrl,
    Type,
    UserIp,
    UserAgent,
    Referrer,
    Permalink,
    PostTitle,
    Lang,
    Label,
}

impl Field {
    const ALL: [Field; 13] = [
        Field::Id,
        Field::Content,
        Field::Author,
        Field::AuthorEmail,
        Field::AuthorUrl,
        Field::Type,
        Field::UserIp,
        Field::UserAgent,
        Field::Referrer,
        Field::Permalink,
        Field::PostTitle,
        Field::Lang,
        Field::Label,
    ];

    pub fn parse(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.names()[0] == name)
    }

    /// The field's name first, then header names that mean it.
    fn names(self) -> &'static [&'static str] {
        match self {
            Field::Id => &["id", "comment_id"],
            Field::Content => &[
                "content",
                "comment_content",
                "comment",
                "text",
                "message",
                "body",
            ],
            Field::Author => &["author", "comment_author", "name"],
            Field::AuthorEmail => &["author_email", "comment_author_email", "email"],
            Field::AuthorUrl => &["author_url", "comment_author_url", "url", "website"],
            Field::Type => &["type", "comment_type"],
            Field::UserIp => &["user_ip", "comment_author_ip", "ip"],
            Field::UserAgent => &["user_agent", "comment_agent"],
            Field::Referrer => &["referrer"],
            Field::Permalink => &["permalink"],
            Field::PostTitle => &["post_title", "title"],
            Field::Lang => &["lang", "language"],
            Field::Label => &["label", "class", "is_spam", "spam"],
        }
    }
}

/// How to read a CSV file.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    pub delimiter: u8,
    pub has_header: bool,
    /// Honour RFC 4180 quotes (turn off for tab-separated text that holds stray quotes).
    pub quoting: bool,
    /// Field and column (header name or 0-based index).
    pub map: Vec<(Field, String)>,
    /// Label values meaning spam; any other non-empty label is ham.
    pub spam_values: Vec<String>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: b',',
            has_header: true,
            quoting: true,
            map: Vec::new(),
            spam_values: vec!["spam".into(), "1".into(), "true".into()],
        }
    }
}

/// The input as the csv crate reads it, noting where its lines end. The crate's own line count falls
/// short by one at each CRLF line end (RFC 4180's own) and blank line (BurntSushi/rust-csv#395 and
/// #208), and counts no line end at all in a file whose lines end with a lone `\r`; the line names a
/// record in errors and is its id in `batch`'s output when it has none.
struct Lines<R> {
    inner: R,
    read: u64,
    /// Where the `\r` and `\n` read but not yet passed by a record are, each as its offset times 2,
    /// plus 1 for a `\n` (8 bytes a line end: a quote left open over a huge file holds them all).
    ends: RefCell<VecDeque<u64>>,
    /// Line ends before the last record asked about.
    passed: Cell<u64>,
}

impl<R: Read> Read for Lines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let ends = self.ends.get_mut();
        let read = self.read;
        ends.extend(
            memchr::memchr2_iter(b'\n', b'\r', &buf[..n])
                .map(|i| (read + i as u64) << 1 | u64::from(buf[i] == b'\n')),
        );
        self.read += n as u64;
        Ok(n)
    }
}

impl<R> Lines<R> {
    fn new(inner: R) -> Self {
        Lines {
            inner,
            read: 0,
            ends: RefCell::new(VecDeque::new()),
            passed: Cell::new(0),
        }
    }

    /// The 1-based line of the record the csv crate says starts at byte `byte` (asked in increasing
    /// order). The crate may place a record's start on the line end before it, or on a blank line
    /// before it: line ends there are skipped, as no record starts with one.
    fn line_at(&self, byte: u64) -> u64 {
        let mut ends = self.ends.borrow_mut();
        let mut start = byte;
        while let Some(&end) = ends.front() {
            let (at, newline) = (end >> 1, end & 1 == 1);
            if at > start {
                break;
            }
            if at == start {
                start += 1;
            }
            ends.pop_front();
            // A `\n` ends a line, and so does a `\r` not followed by one (old Mac files, and
            // Excel's "CSV (Macintosh)"). What follows a line end passed here has been read: the
            // crate has read the whole record that starts at or after it.
            let crlf = !newline && ends.front() == Some(&((at + 1) << 1 | 1));
            if !crlf {
                self.passed.set(self.passed.get() + 1);
            }
        }
        // Once a long run of line ends is passed, its room is given back.
        if ends.capacity() > 1 << 16 && ends.len() < ends.capacity() / 4 {
            let keep = ends.len() * 2;
            ends.shrink_to(keep);
        }
        self.passed.get() + 1
    }
}

/// Reads comments from CSV.
pub struct CsvReader<R> {
    inner: csv::Reader<Lines<R>>,
    columns: Vec<(Field, usize)>,
    spam_values: Vec<String>,
    file: PathBuf,
    record: csv::StringRecord,
}

impl<R: Read> CsvReader<R> {
    pub fn new(reader: R, file: &Path, options: &CsvOptions) -> Result<Self, ReadError> {
        let mut inner = csv::ReaderBuilder::new()
            .delimiter(options.delimiter)
            .has_headers(options.has_header)
            .quoting(options.quoting)
            // A row with more or fewer fields than the header is a bad record (with its line): a
            // stray delimiter in an unquoted field would otherwise shift the label to another column.
            .flexible(false)
            .from_reader(Lines::new(reader));
        let headers: Vec<String> = if options.has_header {
            match inner.headers() {
                Ok(headers) => headers
                    .iter()
                    .map(|h| h.trim_start_matches('\u{FEFF}').trim().to_owned())
                    .collect(),
                Err(e) => return Err(csv_error(file, e, inner.get_ref())),
            }
        } else {
            Vec::new()
        };
        let find = |column: &str| -> Option<usize> {
            headers
                .iter()
                .position(|h| h == column)
                .or_else(|| headers.iter().position(|h| h.eq_ignore_ascii_case(column)))
                .or_else(|| column.parse().ok())
        };
        let mut columns = Vec::new();
        for (field, column) in &options.map {
            let index = find(column).ok_or_else(|| {
                ReadError::invalid(
                    file,
                    Position::Line(1),
                    format!(
                        "no column {column:?} in the header ({})",
                        headers.join(", ")
                    ),
                )
            })?;
            columns.push((*field, index));
        }
        for field in Field::ALL {
            if columns.iter().any(|(f, _)| *f == field) {
                continue;
            }
            if let Some(i) = field
                .names()
                .iter()
                .find_map(|n| headers.iter().position(|h| h.eq_ignore_ascii_case(n)))
            {
                if !columns.iter().any(|(_, c)| *c == i) {
                    columns.push((field, i));
                }
            }
        }
        if !columns.iter().any(|(f, _)| *f == Field::Content) {
            return Err(ReadError::invalid(
                file,
                Position::Line(1),
                format!(
                    "no column holds the comment text; name one with --map content=COLUMN (header: {})",
                    headers.join(", ")
                ),
            ));
        }
        Ok(CsvReader {
            inner,
            columns,
            spam_values: options
                .spam_values
                .iter()
                .map(|v| v.trim().to_lowercase())
                .collect(),
            file: file.to_owned(),
            record: csv::StringRecord::new(),
        })
    }

    fn comment(&self, line: u64) -> Result<Comment, ReadError> {
        if self.record.as_slice().len() > super::MAX_RECORD_BYTES {
            return Err(ReadError::record_too_long(
                &self.file,
                line,
                Some("a quote left open?"),
            ));
        }
        let mut c = Comment::default();
        for &(field, index) in &self.columns {
            let value = self.record.get(index).ok_or_else(|| {
                ReadError::invalid(
                    &self.file,
                    Position::Line(line),
                    format!(
                        "expected a column {} but the row has {}",
                        index + 1,
                        self.record.len()
                    ),
                )
            })?;
            let some = || (!value.is_empty()).then(|| value.to_owned());
            match field {
                Field::Id => c.id = some(),
                Field::Content => c.content = value.to_owned(),
                Field::Author => c.author = some(),
                Field::AuthorEmail => c.author_email = some(),
                Field::AuthorUrl => c.author_url = some(),
                Field::Type => c.kind = some(),
                Field::UserIp => c.user_ip = some(),
                Field::UserAgent => c.user_agent = some(),
                Field::Referrer => c.referrer = some(),
                Field::Permalink => c.permalink = some(),
                Field::PostTitle => c.post_title = some(),
                Field::Lang => c.lang = some(),
                Field::Label => {
                    let v = value.trim().to_lowercase();
                    c.label = (!v.is_empty()).then(|| {
                        if self.spam_values.contains(&v) {
                            Label::Spam
                        } else {
                            Label::Ham
                        }
                    });
                }
            }
        }
        Ok(c)
    }
}

fn csv_error<R>(file: &Path, e: csv::Error, lines: &Lines<R>) -> ReadError {
    let position = e.position().map_or(Position::Line(1), |p| {
        Position::Line(lines.line_at(p.byte()))
    });
    match e.into_kind() {
        csv::ErrorKind::Io(source) => ReadError::Io {
            file: file.to_owned(),
            source,
        },
        csv::ErrorKind::Utf8 { err, .. } => {
            ReadError::invalid(file, position, format!("invalid UTF-8: {err}"))
        }
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => ReadError::invalid(
            file,
            position,
            format!("{len} fields where the first row has {expected_len} (a delimiter in a field that is not quoted?)"),
        ),
        other => ReadError::invalid(file, position, format!("{other:?}")),
    }
}

impl<R: Read> Iterator for CsvReader<R> {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.inner.read_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => {
                let lines = self.inner.get_ref();
                let line = self
                    .record
                    .position()
                    .map_or(0, |p| lines.line_at(p.byte()));
                Some(self.comment(line).map(|comment| Record {
                    comment,
                    position: Position::Line(line),
                    status: None,
                }))
            }
            Err(e) => Some(Err(csv_error(&self.file, e, self.inner.get_ref()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_right_with_crlf_blank_lines_and_line_breaks_in_fields() {
        let lines = |data: &str| -> Vec<String> {
            CsvReader::new(data.as_bytes(), Path::new("t.csv"), &CsvOptions::default())
                .expect("header")
                .map(|r| match r {
                    Ok(r) => r.position.to_string(),
                    Err(e) => e.to_string(),
                })
                .collect()
        };
        assert_eq!(
            lines("content,label\r\na,ham\r\nb,spam\r\nc,ham\r\n"),
            ["line 2", "line 3", "line 4"]
        );
        assert_eq!(
            lines("content,label\na,ham\n\nb,spam\n\n\nc,ham\n"),
            ["line 2", "line 4", "line 7"]
        );
        assert_eq!(
            lines("content,label\n\"two\nlines\",ham\nb,spam\n"),
            ["line 2", "line 4"]
        );
        assert_eq!(
            lines("content,label\ra,ham\r\rb,spam\r\"two\rlines\",ham\rc,ham\r"),
            ["line 2", "line 4", "line 5", "line 7"]
        );
        assert_eq!(
            lines("content,label\r\na,ham\rb,spam\nc,ham\r\n"),
            ["line 2", "line 3", "line 4"]
        );
        let bad = lines("content,label\r\na,ham\r\nb,spam\r\nc,ham,x\r\n");
        assert!(bad[2].starts_with("t.csv:line 4: 3 fields"), "{bad:?}");
    }

    #[test]
    fn a_record_over_the_limit_is_a_bad_record_and_reading_goes_on() {
        let huge = "x".repeat(crate::formats::MAX_RECORD_BYTES + 1);
        let data = format!("content\nfirst\n\"{huge}\"\nlast\n");
        let rows: Vec<_> = CsvReader::new(
            data.as_bytes(),
            Path::new("big.csv"),
            &CsvOptions::default(),
        )
        .expect("header")
        .collect();
        assert_eq!(rows.len(), 3);
        let err = rows[1].as_ref().expect_err("too long");
        assert!(err.is_skippable());
        assert!(
            err.to_string()
                .contains("big.csv:line 3: a record longer than 16 MiB"),
            "{err}"
        );
        assert!(rows[2].as_ref().is_ok_and(|r| r.comment.content == "last"));
    }

    #[test]
    fn a_row_with_another_number_of_fields_is_a_bad_record_with_its_line() {
        // "cheap" would otherwise be read as the label, and the comment as ham.
        let data = "content,label\nhello there,ham\nbuy pills, cheap,spam\nthanks,ham\n";
        let rows: Vec<_> =
            CsvReader::new(data.as_bytes(), Path::new("r.csv"), &CsvOptions::default())
                .expect("header")
                .collect();
        assert_eq!(rows.len(), 3);
        assert!(rows[0].is_ok() && rows[2].is_ok());
        let err = rows[1].as_ref().expect_err("ragged");
        assert!(err.is_skippable());
        let message = err.to_string();
        assert!(
            message.contains("line 3") && message.contains("3 fields"),
            "{message}"
        );
    }

    #[test]
    fn maps_columns_by_name_and_reads_labels() {
        let data = "COMMENT_ID,AUTHOR,DATE,CONTENT,CLASS\nx1,Ann,2015,\"Hi, \"\"you\"\"\",0\nx2,Bob,2015,buy now,1\n";
        let options = CsvOptions {
            map: vec![
                (Field::Content, "CONTENT".into()),
                (Field::Label, "CLASS".into()),
            ],
            ..CsvOptions::default()
        };
        let rows: Vec<Record> = CsvReader::new(data.as_bytes(), Path::new("y.csv"), &options)
            .expect("header")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(rows[0].comment.content, "Hi, \"you\"");
        assert_eq!(rows[0].comment.label, Some(Label::Ham));
        assert_eq!(rows[1].comment.label, Some(Label::Spam));
        assert_eq!(rows[1].comment.author.as_deref(), Some("Bob"));
        assert_eq!(rows[1].comment.id.as_deref(), Some("x2"));
        assert_eq!(rows[1].position, Position::Line(3));
    }

    #[test]
    fn a_missing_text_column_is_a_clear_error() {
        let err = CsvReader::new(
            "a,b\n1,2\n".as_bytes(),
            Path::new("z.csv"),
            &CsvOptions::default(),
        )
        .err()
        .expect("no content column");
        assert!(err.to_string().contains("--map content="), "{err}");
    }

    #[test]
    fn tab_separated_without_header_or_quotes() {
        let options = CsvOptions {
            delimiter: b'\t',
            has_header: false,
            quoting: false,
            map: vec![(Field::Label, "0".into()), (Field::Content, "1".into())],
            ..CsvOptions::default()
        };
        let rows: Vec<Record> = CsvReader::new(
            "spam\tWin \"big\" now\nham\tok\n".as_bytes(),
            Path::new("s"),
            &options,
        )
        .expect("reader")
        .collect::<Result<_, _>>()
        .expect("rows");
        assert_eq!(rows[0].comment.content, "Win \"big\" now");
        assert_eq!(rows[0].comment.label, Some(Label::Spam));
        assert_eq!(rows[1].comment.label, Some(Label::Ham));
    }
}
