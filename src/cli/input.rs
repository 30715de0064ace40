//! Input files shared by the subcommands: which files, their format, CSV column mapping, and what to
//! do with records that cannot be read.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use rayon::prelude::*;

use crate::engine::train::{example, Example};
use crate::engine::{BorrowedComment, Comment, CommentRef, FeatureExtractor, Label};
use crate::formats::csv::{CsvOptions, CsvReader, Field};
use crate::formats::disqus::DisqusReader;
use crate::formats::jsonl::{parse_line, JsonlReader};
use crate::formats::wxr::WxrReader;
use crate::formats::{Format, Position, ReadError, Record};

/// Records of a non-JSONL file read ahead and handed to the workers at a time.
pub const CHUNK: usize = 8192;
/// Records one worker handles in a row.
pub const BLOCK: usize = 256;

#[derive(Debug, Clone, Args)]
pub struct FormatArgs {
    /// Input format [default: detected from the content]
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// CSV: map a comment field to a column (header name or 0-based index), e.g. content=CONTENT
    #[arg(long = "map", value_name = "FIELD=COLUMN", value_parser = parse_map)]
    pub map: Vec<(Field, String)>,
    /// CSV: label value meaning spam (repeatable); other non-empty labels are ham [default: spam, 1, true]
    #[arg(long = "spam-value", value_name = "VALUE")]
    pub spam_values: Vec<String>,
    /// CSV: field delimiter, one character or "tab"
    #[arg(long, default_value = ",", value_parser = parse_delimiter)]
    pub delimiter: u8,
    /// CSV: the file has no header row (map columns by index)
    #[arg(long)]
    pub no_header: bool,
    /// CSV: treat quotes as ordinary characters
    #[arg(long)]
    pub no_quoting: bool,
    /// Skip records that cannot be read (and count them) instead of failing
    #[arg(long)]
    pub skip_invalid: bool,
    /// Exports: what a pending comment teaches
    #[arg(long, value_enum, default_value = "skip")]
    pub pending_as: StatusLabel,
    /// Exports: what a trashed or deleted comment teaches
    #[arg(long, value_enum, default_value = "skip")]
    pub trash_as: StatusLabel,
    /// Exports: what an approved comment teaches
    #[arg(long, value_enum, default_value = "ham")]
    pub approved_as: StatusLabel,
}

/// The label a moderation status gives, for training and evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusLabel {
    Spam,
    Ham,
    /// Leave such comments out.
    Skip,
}

impl StatusLabel {
    fn label(self) -> Option<Label> {
        match self {
            StatusLabel::Spam => Some(Label::Spam),
            StatusLabel::Ham => Some(Label::Ham),
            StatusLabel::Skip => None,
        }
    }
}

impl FormatArgs {
    /// The label of a comment of an export with moderation `status`, as the flags say.
    pub fn label_for_status(&self, status: &str) -> Option<Label> {
        match status {
            "spam" => Some(Label::Spam),
            "approved" => self.approved_as.label(),
            "pending" => self.pending_as.label(),
            "trash" | "deleted" => self.trash_as.label(),
            _ => None,
        }
    }
}

fn parse_map(s: &str) -> Result<(Field, String), String> {
    let (field, column) = s
        .split_once('=')
        .ok_or_else(|| format!("expected FIELD=COLUMN, got {s:?}"))?;
    let f = Field::parse(field.trim()).ok_or_else(|| {
        format!("unknown field {field:?}; fields: id, content, author, author_email, author_url, type, user_ip, user_agent, referrer, permalink, post_title, lang, label")
    })?;
    Ok((f, column.to_owned()))
}

fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        _ if s.len() == 1 => Ok(s.as_bytes()[0]),
        _ => Err(format!(
            "the delimiter must be one ASCII character or \"tab\", not {s:?}"
        )),
    }
}

impl FormatArgs {
    pub fn csv_options(&self) -> CsvOptions {
        let mut o = CsvOptions {
            delimiter: self.delimiter,
            has_header: !self.no_header,
            quoting: !self.no_quoting,
            map: self.map.clone(),
            ..CsvOptions::default()
        };
        if !self.spam_values.is_empty() {
            o.spam_values = self.spam_values.clone();
        }
        o
    }

    /// Opens `path` once: its format (as given, or detected from its first bytes), its size (0 if
    /// unknown), and a reader that still yields those first bytes (a pipe or a FIFO cannot be opened
    /// or read again).
    fn open_input(&self, path: &Path) -> anyhow::Result<(Format, u64, impl Read + Send + 'static)> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let size = file.metadata().map_or(0, |m| m.len());
        let mut head = Vec::with_capacity(512);
        (&file)
            .take(512)
            .read_to_end(&mut head)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
        if head.len() < 512 && text.iter().all(u8::is_ascii_whitespace) {
            bail!("{} is empty: no comments to read", path.display());
        }
        let format = self.format.unwrap_or_else(|| Format::detect(&head));
        Ok((format, size, std::io::Cursor::new(head).chain(file)))
    }

    /// A streaming reader of `path`.
    pub fn open(
        &self,
        path: &Path,
    ) -> anyhow::Result<Box<dyn Iterator<Item = Result<Record, ReadError>>>> {
        let (format, _, file) = self.open_input(path)?;
        let reader = BufReader::with_capacity(1 << 16, file);
        Ok(match format {
            Format::Jsonl => Box::new(JsonlReader::new(reader, path)),
            Format::Csv => Box::new(CsvReader::new(reader, path, &self.csv_options())?),
            Format::Wxr => Box::new(WxrReader::new(reader, path)),
            Format::Disqus => Box::new(DisqusReader::new(reader, path)),
        })
    }

    /// Reads every comment of every file, failing on the first bad record unless --skip-invalid.
    /// Returns the comments and how many records were skipped.
    pub fn read_all(&self, paths: &[PathBuf]) -> anyhow::Result<(Vec<Comment>, u64)> {
        let mut comments = Vec::new();
        let mut skipped = 0;
        for path in paths {
            for record in self.open(path)? {
                match record {
                    Ok(r) => {
                        let mut comment = r.comment;
                        if let Some(status) = r.status {
                            comment.label = self.label_for_status(status);
                        }
                        comments.push(comment);
                    }
                    Err(e) if self.skip_invalid && e.is_skippable() => skipped += 1,
                    Err(e) => bail!("{e}{}", hint(&e)),
                }
            }
        }
        Ok((comments, skipped))
    }
}

/// How to get past a bad record.
pub fn hint(e: &ReadError) -> &'static str {
    if e.is_skippable() {
        " (use --skip-invalid to skip such records)"
    } else {
        ""
    }
}

/// One record from the reader thread.
pub enum Item {
    /// A JSONL line (its number, and where it sits in the chunk's text), parsed by the workers.
    Line(u64, std::ops::Range<usize>),
    /// A record already parsed by a format reader.
    Parsed(Box<Record>),
    /// A record that could not be read.
    Bad(ReadError),
}

/// Records read ahead together; JSONL lines point into the chunk's text.
#[derive(Default)]
pub struct Chunk {
    pub items: Vec<Item>,
    text: ChunkText,
}

/// A chunk's lines: checked to be UTF-8 as a whole, or, when some line is not, kept as bytes and
/// checked line by line (to say which line goes wrong, and where). One vectorized check of the whole
/// chunk instead of one per line: std's line by line took 3% of a batch, and so did simdutf8's (a
/// line is too short for it).
enum ChunkText {
    Utf8(String),
    Bytes(Vec<u8>),
}

impl Default for ChunkText {
    fn default() -> Self {
        ChunkText::Utf8(String::new())
    }
}

impl ChunkText {
    fn new(bytes: Vec<u8>) -> Self {
        if simdutf8::basic::from_utf8(&bytes).is_ok() {
            // SAFETY: the bytes were just found to be UTF-8, and are moved into the string unchanged.
            ChunkText::Utf8(unsafe { String::from_utf8_unchecked(bytes) })
        } else {
            ChunkText::Bytes(bytes)
        }
    }

    fn into_bytes(self) -> Vec<u8> {
        match self {
            ChunkText::Utf8(text) => text.into_bytes(),
            ChunkText::Bytes(bytes) => bytes,
        }
    }

    /// The line at `range` (its ends are those of lines, so of characters), or where it is not UTF-8.
    fn line(&self, range: std::ops::Range<usize>) -> Result<&str, std::str::Utf8Error> {
        match self {
            ChunkText::Utf8(text) => Ok(&text[range]),
            ChunkText::Bytes(bytes) => std::str::from_utf8(&bytes[range]),
        }
    }
}

impl Chunk {
    /// The comment of one of this chunk's items, where it was, and the export's own moderation status
    /// where it has one; a JSONL line is parsed into `slot`.
    pub fn record<'a>(
        &'a self,
        item: &'a Item,
        file: &Path,
        slot: &'a mut Option<BorrowedComment<'a>>,
    ) -> Result<(CommentRef<'a>, Position, Option<&'static str>), ReadError> {
        match item {
            Item::Line(n, range) => {
                let text = self
                    .text
                    .line(range.clone())
                    .map_err(|e| ReadError::invalid_utf8(file, *n, &e))?;
                let comment = slot.insert(parse_line(text, file, *n)?);
                Ok((CommentRef::from(&*comment), Position::Line(*n), None))
            }
            Item::Parsed(r) => Ok((CommentRef::from(&r.comment), r.position, r.status)),
            Item::Bad(e) => Err(e.clone()),
        }
    }
}

/// Drops what it is given on a thread of its own. A chunk of an XML export holds thousands of parsed
/// comments: freed between two chunks by the thread that hands out the work, they kept every worker
/// waiting (that thread had 9% of a WXR batch's CPU samples, `perf record`).
pub struct Disposal<T: Send + 'static> {
    tx: Option<mpsc::SyncSender<T>>,
    thread: Option<JoinHandle<()>>,
}

impl<T: Send + 'static> Disposal<T> {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::sync_channel::<T>(2);
        let thread = std::thread::spawn(move || rx.into_iter().for_each(drop));
        Disposal {
            tx: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn dispose(&self, item: T) {
        if let Some(tx) = &self.tx {
            // Should the thread be gone, the item comes back in the error and is dropped here.
            let _ = tx.send(item);
        }
    }
}

impl<T: Send + 'static> Default for Disposal<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Send + 'static> Drop for Disposal<T> {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            // A panic while dropping left nothing to clean up.
            let _ = thread.join();
        }
    }
}

/// Counts the bytes read, for the progress bar.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A file read by a thread of its own, in chunks of [`CHUNK`] records, so that parsing and the work
/// on each record can run on every core while memory stays bounded by a few chunks.
pub struct Chunks {
    rx: mpsc::Receiver<Chunk>,
    /// Chunks of JSON lines done with, back to the reader to be filled again.
    recycle: mpsc::SyncSender<Chunk>,
    reader: JoinHandle<anyhow::Result<()>>,
    read: Arc<AtomicU64>,
    size: u64,
}

impl Chunks {
    pub fn iter(&self) -> mpsc::Iter<'_, Chunk> {
        self.rx.iter()
    }

    /// Hands a chunk that is done with back to the reader, which fills its buffers again instead of
    /// asking for new memory (1.25 MiB a chunk: zeroed, and faulted in page by page, by the reader
    /// thread, which shares the cores with the workers); what it does not take goes to `disposal`.
    pub fn done_with(&self, chunk: Chunk, disposal: &Disposal<Chunk>) {
        // Chunks of parsed records (other formats; their reader takes nothing back) are freed on the
        // disposal thread: freeing them takes time.
        if let Err(mpsc::TrySendError::Full(chunk) | mpsc::TrySendError::Disconnected(chunk)) =
            self.recycle.try_send(chunk)
        {
            disposal.dispose(chunk);
        }
    }

    pub fn bytes_read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// A progress bar over the file's bytes, drawn only on a terminal.
    pub fn progress_bar(&self) -> ProgressBar {
        ProgressBar::new(self.size).with_style(
            ProgressStyle::with_template("{bar:40} {percent}% {binary_bytes_per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        )
    }

    /// Waits for the reader; an I/O error it met is returned here.
    pub fn finish(self) -> anyhow::Result<()> {
        drop(self.rx);
        match self.reader.join() {
            Ok(r) => r,
            Err(_) => bail!("the reader thread failed"),
        }
    }
}

use crate::formats::MAX_RECORD_BYTES;
/// Bytes of JSONL read ahead at a time.
const CHUNK_BYTES: usize = 1 << 20;

/// Cuts JSON Lines into chunks of about [`CHUNK_BYTES`], whole lines each, with their numbers.
fn read_jsonl_chunks(
    mut reader: impl Read,
    path: &Path,
    tx: &mpsc::SyncSender<Chunk>,
    recycled: &mpsc::Receiver<Chunk>,
) -> anyhow::Result<()> {
    let mut carry: Vec<u8> = Vec::new();
    let mut line = 0u64;
    let mut eof = false;
    // Inside a line too long to be a record: its bytes are dropped up to its end.
    let mut skipping = false;
    while !eof {
        // A chunk done with (see `Chunks::done_with`) keeps its buffers: its text's bytes are
        // written over, and only what the last chunk left short is zeroed.
        let (mut text, mut items) = match recycled.try_recv() {
            Ok(mut old) => {
                old.items.clear();
                (old.text.into_bytes(), old.items)
            }
            Err(_) => (Vec::new(), Vec::new()),
        };
        let mut filled = carry.len();
        let size = filled.max(CHUNK_BYTES) + CHUNK_BYTES / 4;
        text.resize(size, 0);
        text[..filled].copy_from_slice(&carry);
        carry.clear();
        // Fill the buffer, or read to the end of the file.
        while filled < text.len() {
            let n = reader
                .read(&mut text[filled..])
                .map_err(|source| ReadError::Io {
                    file: path.to_owned(),
                    source,
                })?;
            if n == 0 {
                eof = true;
                break;
            }
            filled += n;
        }
        text.truncate(filled);
        if skipping {
            match memchr::memchr(b'\n', &text) {
                Some(i) => {
                    skipping = false;
                    text.drain(..=i);
                }
                None => continue,
            }
        }
        let end = if eof {
            text.len()
        } else {
            match memchr::memrchr(b'\n', &text) {
                Some(i) => i + 1,
                None if text.len() > MAX_RECORD_BYTES => {
                    // A bad record like any other (`--skip-invalid` skips it), not held in memory.
                    line += 1;
                    let bad = Chunk {
                        items: vec![Item::Bad(ReadError::record_too_long(path, line, None))],
                        text: ChunkText::default(),
                    };
                    if tx.send(bad).is_err() {
                        return Ok(());
                    }
                    skipping = true;
                    continue;
                }
                None => {
                    carry = text;
                    continue;
                }
            }
        };
        carry.extend_from_slice(&text[end..]);
        text.truncate(end);
        items.reserve(text.len() / 100);
        let mut start = 0;
        while start < text.len() {
            let stop = memchr::memchr(b'\n', &text[start..]).map_or(text.len(), |i| start + i);
            line += 1;
            let mut last = stop;
            while last > start && text[last - 1] == b'\r' {
                last -= 1;
            }
            if text[start..last].iter().any(|b| !b.is_ascii_whitespace()) {
                if last - start > MAX_RECORD_BYTES {
                    items.push(Item::Bad(ReadError::record_too_long(path, line, None)));
                } else {
                    items.push(Item::Line(line, start..last));
                }
            }
            start = stop + 1;
        }
        let chunk = Chunk {
            items,
            text: ChunkText::new(text),
        };
        if !chunk.items.is_empty() && tx.send(chunk).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

impl FormatArgs {
    /// Starts reading `path` on a thread of its own.
    pub fn chunks(&self, path: &Path) -> anyhow::Result<Chunks> {
        let (format, size, file) = self.open_input(path)?;
        let read = Arc::new(AtomicU64::new(0));
        let reader = BufReader::with_capacity(
            1 << 16,
            Counting {
                inner: file,
                read: read.clone(),
            },
        );
        let path = path.to_owned();
        let (tx, rx) = mpsc::sync_channel::<Chunk>(4);
        let (recycle, recycled) = mpsc::sync_channel::<Chunk>(4);
        let reader = match format {
            // JSONL is cut into lines here and parsed by the workers.
            Format::Jsonl => {
                std::thread::spawn(move || read_jsonl_chunks(reader, &path, &tx, &recycled))
            }
            other => {
                // Other formats are parsed here, on the reader thread.
                let records: Box<dyn Iterator<Item = Result<Record, ReadError>> + Send> =
                    match other {
                        Format::Csv => {
                            Box::new(CsvReader::new(reader, &path, &self.csv_options())?)
                        }
                        Format::Wxr => Box::new(WxrReader::new(reader, &path)),
                        _ => Box::new(DisqusReader::new(reader, &path)),
                    };
                std::thread::spawn(move || -> anyhow::Result<()> {
                    let mut chunk = Chunk::default();
                    for record in records {
                        chunk.items.push(match record {
                            Ok(r) => Item::Parsed(Box::new(r)),
                            Err(e @ ReadError::Invalid { .. }) => Item::Bad(e),
                            Err(e) => return Err(e.into()),
                        });
                        if chunk.items.len() == CHUNK
                            && tx.send(std::mem::take(&mut chunk)).is_err()
                        {
                            return Ok(());
                        }
                    }
                    if !chunk.items.is_empty() {
                        let _ = tx.send(chunk);
                    }
                    Ok(())
                })
            }
        };
        Ok(Chunks {
            rx,
            recycle,
            reader,
            read,
            size,
        })
    }
}

/// Labeled comments reduced to training examples.
pub struct ReadExamples {
    pub examples: Vec<Example>,
    /// Records skipped as invalid (with `--skip-invalid`).
    pub skipped: u64,
    /// Comments without a label, left out.
    pub unlabeled: u64,
    /// For exports: comments per moderation status, and whether each status was used.
    pub statuses: std::collections::BTreeMap<&'static str, (u64, bool)>,
}

/// What one worker made of a block of records.
struct ExampleBlock {
    examples: Vec<Example>,
    skipped: u64,
    unlabeled: u64,
    statuses: std::collections::BTreeMap<&'static str, (u64, bool)>,
    error: Option<ReadError>,
}

impl FormatArgs {
    /// Reads every file and extracts the features of its labeled comments, parsing and extracting on
    /// every core; the comments themselves are not kept. Fails on the first bad record unless
    /// `--skip-invalid`.
    pub fn read_examples(&self, paths: &[PathBuf]) -> anyhow::Result<ReadExamples> {
        let mut out = ReadExamples {
            examples: Vec::new(),
            skipped: 0,
            unlabeled: 0,
            statuses: Default::default(),
        };
        let disposal = Disposal::new();
        for path in paths {
            let chunks = self.chunks(path)?;
            let bar = chunks.progress_bar();
            let result = (|| -> anyhow::Result<()> {
                for chunk in chunks.iter() {
                    bar.set_position(chunks.bytes_read());
                    let blocks: Vec<ExampleBlock> = chunk
                        .items
                        .par_chunks(BLOCK)
                        .map(|items| self.example_block(&chunk, items, path))
                        .collect();
                    for block in blocks {
                        if let Some(e) = block.error {
                            bail!("{e}{}", hint(&e));
                        }
                        out.skipped += block.skipped;
                        out.unlabeled += block.unlabeled;
                        for (status, (n, used)) in block.statuses {
                            let e = out.statuses.entry(status).or_default();
                            e.0 += n;
                            e.1 |= used;
                        }
                        let base = out.examples.len();
                        out.examples
                            .extend(block.examples.into_iter().enumerate().map(|(i, mut e)| {
                                e.index = base + i;
                                e
                            }));
                    }
                    chunks.done_with(chunk, &disposal);
                }
                Ok(())
            })();
            bar.finish_and_clear();
            chunks.finish()?;
            result?;
        }
        Ok(out)
    }

    fn example_block(&self, chunk: &Chunk, items: &[Item], path: &Path) -> ExampleBlock {
        FeatureExtractor::with_thread_local(|extractor| {
            self.example_block_with(extractor, chunk, items, path)
        })
    }

    fn example_block_with(
        &self,
        extractor: &mut FeatureExtractor,
        chunk: &Chunk,
        items: &[Item],
        path: &Path,
    ) -> ExampleBlock {
        let mut block = ExampleBlock {
            examples: Vec::with_capacity(items.len()),
            skipped: 0,
            unlabeled: 0,
            statuses: Default::default(),
            error: None,
        };
        for item in items {
            let mut slot = None;
            match chunk.record(item, path, &mut slot) {
                Ok((comment, _, status)) => {
                    let comment = match status {
                        Some(status) => {
                            let label = self.label_for_status(status);
                            let e = block.statuses.entry(status).or_default();
                            e.0 += 1;
                            e.1 |= label.is_some();
                            CommentRef { label, ..comment }
                        }
                        None => comment,
                    };
                    match example(extractor, comment, 0) {
                        Some(e) => block.examples.push(e),
                        None => block.unlabeled += 1,
                    }
                }
                Err(e) if self.skip_invalid && e.is_skippable() => block.skipped += 1,
                Err(e) => {
                    block.error = Some(e);
                    break;
                }
            }
        }
        block
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_disposed_of_is_dropped_once_the_disposal_is() {
        let held = Arc::new(());
        let disposal = Disposal::new();
        for _ in 0..100 {
            disposal.dispose(vec![Arc::clone(&held); 3]);
        }
        drop(disposal);
        assert_eq!(Arc::strong_count(&held), 1);
    }
}
