//! What the WXR and Disqus readers share: a namespace-aware streaming reader that gathers element text
//! (CDATA or not) and resolves entities without ever reading a DTD, so external entities and
//! "billion laughs" expansions cannot happen. HTML entities (`&laquo;`) are resolved as HTML would.

use std::cell::Cell;
use std::io::{self, BufRead, Read};
use std::path::{Path, PathBuf};

use compact_str::CompactString;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use super::{Position, ReadError};

/// Which namespace an element belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ns {
    /// `http(s)://wordpress.org/export/1.x/`, whatever the scheme and version.
    WordPress,
    /// Disqus' `dsq` namespaces (`http://disqus.com/disqus-internals`, `http://www.disqus.com/`).
    DisqusInternals,
    Other,
}

fn classify(ns: &[u8]) -> Ns {
    let ns = String::from_utf8_lossy(ns);
    if ns.contains("wordpress.org/export/") {
        Ns::WordPress
    } else if ns.contains("disqus.com/disqus-internals") || ns.contains("www.disqus.com") {
        Ns::DisqusInternals
    } else {
        Ns::Other
    }
}

/// One thing the readers act on.
pub enum XmlEvent {
    /// An element opens; `id` is its `dsq:id`-like `id` attribute, if any.
    Start {
        ns: Ns,
        name: CompactString,
        id: Option<String>,
    },
    /// An element closes, with the text gathered since the last start or end (its first
    /// [`MAX_FIELD_BYTES`]; [`XmlStream::take_truncated`] says whether there was more).
    End {
        ns: Ns,
        name: CompactString,
        text: String,
    },
    Eof,
}

/// The longest text gathered for one element.
pub const MAX_FIELD_BYTES: usize = 4 << 20;
/// The longest post or thread title kept: every comment of the post carries it (and every line of
/// `batch`'s output), so a title of megabytes would be copied thousands of times. A real one is short.
pub const MAX_TITLE_BYTES: usize = 1024;

/// A post's title as comments carry it: trimmed, and cut to [`MAX_TITLE_BYTES`] (at a character's
/// start).
pub fn title(text: &str) -> String {
    let text = text.trim();
    text[..text.floor_char_boundary(MAX_TITLE_BYTES)].to_owned()
}

/// The 1-based line of byte `byte` of the regular file at `path`, read again from its start.
fn line_at(path: &Path, byte: u64) -> Option<u64> {
    if !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    let mut file = io::BufReader::new(std::fs::File::open(path).ok()?);
    // quick-xml counts its offsets after a byte order mark, which it takes without counting.
    let start = file.fill_buf().ok()?;
    let bom = if start.starts_with(b"\xEF\xBB\xBF") {
        3
    } else if start.starts_with(b"\xFF\xFE") || start.starts_with(b"\xFE\xFF") {
        2
    } else {
        0
    };
    let mut file = file.take(byte + bom);
    let mut line_ends = 0;
    loop {
        let buf = file.fill_buf().ok()?;
        if buf.is_empty() {
            break;
        }
        line_ends += memchr::memchr_iter(b'\n', buf).count() as u64;
        let n = buf.len();
        file.consume(n);
    }
    Some(line_ends + 1)
}

/// The most one piece of XML (a text run, a CDATA section, a tag, a comment) may take: quick-xml holds
/// a piece whole in memory before saring sees it, so a longer one stops the read.
pub const MAX_PIECE_BYTES: usize = 64 << 20;

/// The file as quick-xml reads it, through a buffer of its own: counting what one piece takes and
/// refusing to go past [`MAX_PIECE_BYTES`], and counting line ends only when a line is asked for (once
/// a comment) or the buffer is refilled, a vectorized count over all bytes since the last, not a count
/// for each of quick-xml's many small steps.
struct Guarded<R> {
    inner: R,
    buf: Box<[u8]>,
    /// `buf[pos..filled]` is read but not yet consumed.
    pos: usize,
    filled: usize,
    /// The line ends of `buf[..counted]` are in `line_ends`.
    counted: Cell<usize>,
    line_ends: Cell<u64>,
    /// What the current piece has taken from the file so far (reset as each piece begins).
    taken: usize,
}

impl<R: Read> Guarded<R> {
    fn new(inner: R) -> Self {
        Guarded {
            inner,
            buf: vec![0; 64 << 10].into_boxed_slice(),
            pos: 0,
            filled: 0,
            counted: Cell::new(0),
            line_ends: Cell::new(0),
            taken: 0,
        }
    }

    /// The line ends consumed so far.
    fn line_ends(&self) -> u64 {
        let counted = self.counted.get();
        if counted < self.pos {
            let more = memchr::memchr_iter(b'\n', &self.buf[counted..self.pos]).count() as u64;
            self.line_ends.set(self.line_ends.get() + more);
            self.counted.set(self.pos);
        }
        self.line_ends.get()
    }
}

impl<R: Read> Read for Guarded<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let available = self.fill_buf()?;
            let n = available.len().min(out.len());
            out[..n].copy_from_slice(&available[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Guarded<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.taken > MAX_PIECE_BYTES {
            return Err(io::Error::other(format!(
                "a text, tag or comment longer than {} MiB",
                MAX_PIECE_BYTES >> 20
            )));
        }
        if self.pos == self.filled {
            self.line_ends();
            let n = loop {
                match self.inner.read(&mut self.buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    result => break result?,
                }
            };
            self.pos = 0;
            self.filled = n;
            self.counted.set(0);
        }
        Ok(&self.buf[self.pos..self.filled])
    }

    fn consume(&mut self, amt: usize) {
        self.taken += amt;
        self.pos = (self.pos + amt).min(self.filled);
    }
}

pub struct XmlStream<R> {
    reader: NsReader<Guarded<R>>,
    buf: Vec<u8>,
    text: String,
    /// Some element had more text than [`MAX_FIELD_BYTES`] since [`Self::take_truncated`] last asked.
    truncated: bool,
    file: PathBuf,
    /// An element that was empty (`<x/>`) still owes its end.
    pending_end: Option<(Ns, CompactString)>,
    /// The last namespace classified, and what it is (an export uses two or three, over and over).
    last_ns: (Vec<u8>, Ns),
}

impl<R: Read> XmlStream<R> {
    pub fn new(reader: R, file: &Path) -> Self {
        let mut reader = NsReader::from_reader(Guarded::new(reader));
        reader.config_mut().trim_text(false);
        XmlStream {
            reader,
            buf: Vec::new(),
            text: String::new(),
            truncated: false,
            file: file.to_owned(),
            pending_end: None,
            last_ns: (Vec::new(), Ns::Other),
        }
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Where the reader is: the byte offset and the line.
    pub fn position(&self) -> Position {
        Position::Byte {
            byte: self.reader.buffer_position(),
            line: Some(self.reader.get_ref().line_ends() + 1),
        }
    }

    fn error(&self, message: String) -> ReadError {
        let byte = self.reader.error_position();
        // The error may lie before what was read (the start of a tag never closed): its line is
        // counted again from the start of the file, which a pipe cannot give twice.
        let line = line_at(&self.file, byte);
        ReadError::malformed(&self.file, Position::Byte { byte, line }, message)
    }

    /// Whether an element's text was cut to [`MAX_FIELD_BYTES`] since the last call. The readers ask
    /// when a comment begins and when it ends: a comment with such a field is refused
    /// ([`Self::too_long`]), a long blog post around it is no error.
    pub fn take_truncated(&mut self) -> bool {
        std::mem::take(&mut self.truncated)
    }

    /// The error for a `what` (comment, post) that began at `position` and had a field cut short.
    pub fn too_long(&self, position: Position, what: &str) -> ReadError {
        ReadError::invalid(
            &self.file,
            position,
            format!(
                "a field of this {what} is longer than {} MiB",
                MAX_FIELD_BYTES >> 20
            ),
        )
    }

    pub fn next_event(&mut self) -> Result<XmlEvent, ReadError> {
        if let Some((ns, name)) = self.pending_end.take() {
            return Ok(XmlEvent::End {
                ns,
                name,
                text: String::new(),
            });
        }
        loop {
            self.buf.clear();
            self.reader.get_mut().taken = 0;
            // The declared encoding (ISO-8859-1, windows-1252, …) is known once the declaration is read.
            let decoder = self.reader.decoder();
            // The event borrows the buffer: turn it into an owned step first.
            let step = match self.reader.read_resolved_event_into(&mut self.buf) {
                Err(e) => Step::Error(format!("malformed XML: {e}")),
                Ok((resolved, event)) => {
                    let ns = match resolved {
                        ResolveResult::Bound(n) if n.as_ref() == self.last_ns.0 => self.last_ns.1,
                        ResolveResult::Bound(n) => {
                            let ns = classify(n.as_ref());
                            self.last_ns = (n.as_ref().to_vec(), ns);
                            ns
                        }
                        _ => Ns::Other,
                    };
                    let text = &mut self.text;
                    let mut push_text = |s: &str| {
                        if !push_within(text, s, MAX_FIELD_BYTES) {
                            self.truncated = true;
                        }
                    };
                    match event {
                        Event::Start(ref e) | Event::Empty(ref e) => Step::Start {
                            ns,
                            name: name_of(e.local_name().as_ref()),
                            id: e
                                .attributes()
                                .with_checks(false)
                                .flatten()
                                .find(|a| a.key.local_name().as_ref() == b"id")
                                .and_then(|a| {
                                    a.decode_and_unescape_value(decoder)
                                        .ok()
                                        .map(|v| v.into_owned())
                                }),
                            empty: matches!(event, Event::Empty(_)),
                        },
                        Event::End(e) => Step::End {
                            ns,
                            name: name_of(e.local_name().as_ref()),
                        },
                        // Text goes straight into the element's text.
                        Event::Text(t) => match t.decode() {
                            Ok(s) => {
                                push_text(&s);
                                Step::Skip
                            }
                            Err(e) => Step::Error(format!("undecodable text: {e}")),
                        },
                        Event::CData(c) => match c.decode() {
                            Ok(s) => {
                                push_text(&s);
                                Step::Skip
                            }
                            Err(e) => Step::Error(format!("undecodable CDATA: {e}")),
                        },
                        Event::GeneralRef(r) => match r.resolve_char_ref() {
                            Ok(Some(c)) => {
                                push_text(c.encode_utf8(&mut [0; 4]));
                                Step::Skip
                            }
                            Ok(None) => {
                                let entity = format!("&{};", String::from_utf8_lossy(&r));
                                push_text(&html_escape::decode_html_entities(&entity));
                                Step::Skip
                            }
                            Err(e) => Step::Error(format!("bad character reference: {e}")),
                        },
                        Event::Eof => Step::Eof,
                        // Declarations, DOCTYPEs (never expanded), comments, processing instructions.
                        _ => Step::Skip,
                    }
                }
            };
            match step {
                Step::Start {
                    ns,
                    name,
                    id,
                    empty,
                } => {
                    self.text.clear();
                    if empty {
                        self.pending_end = Some((ns, name.clone()));
                    }
                    return Ok(XmlEvent::Start { ns, name, id });
                }
                Step::End { ns, name } => {
                    let text = std::mem::take(&mut self.text);
                    return Ok(XmlEvent::End { ns, name, text });
                }
                Step::Eof => return Ok(XmlEvent::Eof),
                Step::Skip => {}
                Step::Error(message) => return Err(self.error(message)),
            }
        }
    }
}

enum Step {
    Start {
        ns: Ns,
        name: CompactString,
        id: Option<String>,
        empty: bool,
    },
    End {
        ns: Ns,
        name: CompactString,
    },
    Eof,
    Skip,
    Error(String),
}

/// An element's name (UTF-8 in every export seen; replacement characters otherwise).
fn name_of(bytes: &[u8]) -> CompactString {
    match std::str::from_utf8(bytes) {
        Ok(name) => CompactString::new(name),
        Err(_) => CompactString::from_utf8_lossy(bytes),
    }
}

/// Appends `s` to `text` up to `max` bytes in all (cut at a character boundary); `false` if it was cut.
fn push_within(text: &mut String, s: &str, max: usize) -> bool {
    let room = max.saturating_sub(text.len());
    if s.len() <= room {
        text.push_str(s);
        return true;
    }
    let mut cut = room;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    text.push_str(&s[..cut]);
    false
}

/// `text` without the whitespace around it, in the same allocation when there is none.
pub fn trimmed(text: String) -> String {
    if text.trim().len() == text.len() {
        text
    } else {
        text.trim().to_owned()
    }
}

/// `text` trimmed, `None` when nothing is left.
pub fn non_empty(text: String) -> Option<String> {
    let text = trimmed(text);
    (!text.is_empty()).then_some(text)
}

/// Parses an XML boolean as exports write it.
pub fn truthy(s: &str) -> bool {
    let s = s.trim();
    ["true", "1", "yes"]
        .iter()
        .any(|t| s.eq_ignore_ascii_case(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_cut_at_a_character() {
        assert_eq!(title("  Cyber diplomacy \n"), "Cyber diplomacy");
        let long = "é".repeat(MAX_TITLE_BYTES);
        let cut = title(&long);
        assert_eq!(cut.len(), MAX_TITLE_BYTES);
        assert!(cut.chars().all(|c| c == 'é'));
        let odd = format!("a{long}");
        assert_eq!(title(&odd).len(), MAX_TITLE_BYTES - 1);
    }

    #[test]
    fn flags_are_true_in_any_case() {
        for t in ["true", " True ", "TRUE", "1", "yes"] {
            assert!(truthy(t), "{t}");
        }
        for f in ["false", "0", "", "no", "truthy"] {
            assert!(!truthy(f), "{f}");
        }
    }

    #[test]
    fn a_malformed_file_is_reported_with_the_line_of_the_fault() {
        let xml = "<?xml version=\"1.0\"?>\n<a>\n<b>text\n\n</c>\n</a>\n";
        let errors = |stream: &mut XmlStream<&[u8]>| loop {
            match stream.next_event() {
                Ok(XmlEvent::Eof) => panic!("no error"),
                Ok(_) => {}
                Err(e) => break e.to_string(),
            }
        };
        // A file is read again to count the lines before the fault ...
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("bad.xml");
        std::fs::write(&path, xml).expect("writes");
        let err = errors(&mut XmlStream::new(xml.as_bytes(), &path));
        assert!(err.contains("bad.xml:line 5 (byte "), "{err}");
        // A byte order mark, which quick-xml does not count in its offsets, is counted here.
        let with_bom = dir.path().join("bom.xml");
        std::fs::write(&with_bom, format!("\u{FEFF}{xml}")).expect("writes");
        let text = format!("\u{FEFF}{xml}");
        let err = errors(&mut XmlStream::new(text.as_bytes(), &with_bom));
        assert!(err.contains("bom.xml:line 5 (byte "), "{err}");
        // ... what is not a file (a pipe) gives the byte offset only.
        let err = errors(&mut XmlStream::new(xml.as_bytes(), dir.path()));
        assert!(err.contains(":byte "), "{err}");
    }

    #[test]
    fn a_declared_latin1_file_is_decoded() {
        let xml: &[u8] = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a><b>caf\xe9</b></a>";
        let mut stream = XmlStream::new(xml, Path::new("x"));
        let mut texts = Vec::new();
        loop {
            match stream.next_event().expect("reads") {
                XmlEvent::Eof => break,
                XmlEvent::End { name, text, .. } if name == "b" => texts.push(text),
                _ => {}
            }
        }
        assert_eq!(texts, ["café"]);
    }

    #[test]
    fn a_field_over_the_limit_is_cut_and_marked_and_a_huge_piece_stops_the_read() {
        let long = "é".repeat(MAX_FIELD_BYTES / 2 + 10);
        let xml = format!("<a><b>{long}</b><c>x</c></a>");
        let mut stream = XmlStream::new(xml.as_bytes(), Path::new("x"));
        let mut ends = Vec::new();
        loop {
            match stream.next_event().expect("reads") {
                XmlEvent::Eof => break,
                XmlEvent::End { name, text, .. } => {
                    ends.push((name, text.len(), stream.take_truncated()))
                }
                _ => {}
            }
        }
        assert_eq!(ends[0], ("b".into(), MAX_FIELD_BYTES, true));
        assert_eq!(ends[1], ("c".into(), 1, false));

        let huge = format!("<a><b>{}</b></a>", "x".repeat(MAX_PIECE_BYTES + (1 << 20)));
        // Read as from a file, a buffer at a time.
        let file = std::io::BufReader::with_capacity(8192, huge.as_bytes());
        let mut stream = XmlStream::new(file, Path::new("big.xml"));
        let err = loop {
            match stream.next_event() {
                Err(e) => break e,
                Ok(XmlEvent::Eof) => panic!("read a piece over the limit"),
                Ok(_) => {}
            }
        };
        assert!(!err.is_skippable());
        assert!(err.to_string().contains("longer than 64 MiB"), "{err}");
    }

    #[test]
    fn each_element_gets_its_own_namespace_when_they_alternate() {
        let xml = r#"<rss xmlns:wp="http://wordpress.org/export/1.2/" xmlns:dsq="http://disqus.com/disqus-internals">
            <wp:a>1</wp:a><wp:b>2</wp:b><dsq:c>3</dsq:c><d>4</d><wp:e>5</wp:e><dsq:f>6</dsq:f></rss>"#;
        let mut stream = XmlStream::new(xml.as_bytes(), Path::new("x"));
        let mut ends = Vec::new();
        loop {
            match stream.next_event().expect("reads") {
                XmlEvent::Eof => break,
                XmlEvent::End { ns, name, text } if name != "rss" => ends.push((ns, name, text)),
                _ => {}
            }
        }
        let expected = [
            (Ns::WordPress, "a", "1"),
            (Ns::WordPress, "b", "2"),
            (Ns::DisqusInternals, "c", "3"),
            (Ns::Other, "d", "4"),
            (Ns::WordPress, "e", "5"),
            (Ns::DisqusInternals, "f", "6"),
        ];
        let got: Vec<(Ns, &str, &str)> = ends
            .iter()
            .map(|(ns, name, text)| (*ns, name.as_str(), text.as_str()))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn a_bom_is_not_text() {
        let xml = "\u{feff}<?xml version=\"1.0\"?><a><b>x</b></a>";
        let mut stream = XmlStream::new(xml.as_bytes(), Path::new("x"));
        assert!(matches!(stream.next_event(), Ok(XmlEvent::Start { .. })));
    }
}
