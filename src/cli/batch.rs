//! `saring batch`: score every comment of a file, streaming, on every core.
//!
//! A reader thread cuts the input into chunks; each chunk is parsed and scored in parallel and written
//! in input order, so memory stays bounded by a few chunks whatever the file size. The output goes to
//! a temporary file renamed into place at the end: a failed run leaves no partial output.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::{bail, Context};
use clap::Args;
use rayon::prelude::*;
use serde::Serialize;

use super::input::{hint, Chunk, Disposal, FormatArgs, Item, BLOCK};
use super::output::Target;
use super::ModelArg;
use crate::engine::{FeatureExtractor, SpamModel, Verdict};
use crate::formats::{Position, ReadError};

#[derive(Debug, Args)]
pub struct BatchArgs {
    /// Comments to score (JSONL, CSV, WordPress WXR or Disqus XML)
    #[arg(long, short = 'i', value_name = "FILE")]
    pub input: PathBuf,
    /// Where to write one JSON line per comment, in input order
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub model: ModelArg,
    #[command(flatten)]
    pub format: FormatArgs,
    /// Reasons to give per comment (0 is fastest)
    #[arg(long, default_value_t = 3)]
    pub reasons: usize,
    /// Output format [default: csv for a .csv output file, else jsonl]
    #[arg(long, value_enum)]
    pub output_format: Option<OutputFormat>,
    /// Write only the comments with this verdict (the summary still counts them all)
    #[arg(long, value_enum)]
    pub only: Option<Only>,
    /// Worker threads, 1 to 256 [default: one per core]
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
}

/// A comment's id in the output: its own, or where it was in the input. Always a string, so the
/// column has one type whether comments carry ids or not.
enum Id<'a> {
    Given(&'a str),
    Line(u64),
}

impl Serialize for Id<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Id::Given(id) => serializer.serialize_str(id),
            Id::Line(n) => serializer.collect_str(n),
        }
    }
}

/// A verdict to keep (`--only`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Only {
    Spam,
    Unsure,
    Ham,
}

impl Only {
    fn verdict(self) -> Verdict {
        match self {
            Only::Spam => Verdict::Spam,
            Only::Unsure => Verdict::Unsure,
            Only::Ham => Verdict::Ham,
        }
    }
}

/// How the scores are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Jsonl,
    Csv,
}

/// The columns of the CSV output.
const CSV_HEADER: &str = "id,post,author,type,status,score,verdict,discard,reasons\n";

/// Written by [`OutLine::write_json`]; its `Serialize` form is what that is checked against.
#[derive(Serialize)]
struct OutLine<'a> {
    id: Id<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    post: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
    /// The export's own moderation status.
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a str>,
    score: f64,
    verdict: Verdict,
    discard: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reasons: Vec<String>,
}

impl OutLine<'_> {
    /// The line as JSON, exactly as `serde_json` writes it (a test checks), without its general
    /// machinery: the keys are fixed and most strings need no escaping (serde's way took 8% of the
    /// instructions of `saring batch --reasons 0`).
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        out.extend_from_slice(b"{\"id\":");
        match self.id {
            Id::Given(id) => json_string(out, id)?,
            Id::Line(n) => {
                out.push(b'"');
                write!(out, "{n}").map_err(serde_json::Error::io)?;
                out.push(b'"');
            }
        }
        for (key, value) in [
            (&b",\"post\":"[..], self.post),
            (b",\"author\":", self.author),
            (b",\"type\":", self.kind),
            (b",\"status\":", self.status),
        ] {
            if let Some(value) = value {
                out.extend_from_slice(key);
                json_string(out, value)?;
            }
        }
        out.extend_from_slice(b",\"score\":");
        serde_json::to_writer(&mut *out, &self.score)?;
        out.extend_from_slice(b",\"verdict\":\"");
        out.extend_from_slice(self.verdict.as_str().as_bytes());
        out.extend_from_slice(if self.discard {
            b"\",\"discard\":true"
        } else {
            b"\",\"discard\":false"
        });
        if !self.reasons.is_empty() {
            out.extend_from_slice(b",\"reasons\":");
            serde_json::to_writer(&mut *out, &self.reasons)?;
        }
        out.push(b'}');
        Ok(())
    }

    fn write_csv(&self, out: &mut Vec<u8>) -> Result<(), csv::Error> {
        let id = match self.id {
            Id::Given(s) => s.to_owned(),
            Id::Line(n) => n.to_string(),
        };
        // One line: a small buffer (the default, 8 KiB, would be zeroed for every comment).
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .buffer_capacity(256)
            .from_writer(out);
        w.write_record([
            &*inert(&id),
            &inert(self.post.unwrap_or("")),
            &inert(self.author.unwrap_or("")),
            &inert(self.kind.unwrap_or("comment")),
            self.status.unwrap_or(""),
            &format!("{:.6}", self.score),
            self.verdict.as_str(),
            if self.discard { "true" } else { "false" },
            &self.reasons.join("; "),
        ])?;
        w.flush()?;
        Ok(())
    }
}

/// `text` as a JSON string: copied as it is when nothing in it needs escaping (JSON escapes only
/// control characters, `"` and the backslash), else written by `serde_json`.
fn json_string(out: &mut Vec<u8>, text: &str) -> serde_json::Result<()> {
    // Branch-free, so it vectorizes.
    let plain = text.bytes().fold(true, |plain, b| {
        plain & (b >= 0x20) & (b != b'"') & (b != b'\\')
    });
    if plain {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        serde_json::to_writer(out, text)
    }
}

/// A field a spreadsheet would run as a formula (`=HYPERLINK(...)` as a spammer's name), made plain
/// text with a leading `'`, as spreadsheets themselves mark text: a spam report opened in one must not
/// run what the spammers wrote.
fn inert(field: &str) -> std::borrow::Cow<'_, str> {
    match field.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{field}").into(),
        _ => field.into(),
    }
}

#[derive(Debug, Default, Clone)]
struct Tally {
    scored: u64,
    written: u64,
    spam: u64,
    unsure: u64,
    ham: u64,
    discard: u64,
    skipped: u64,
    /// Comments per moderation status in the export.
    statuses: std::collections::BTreeMap<&'static str, u64>,
    /// Approved on the site but called spam here; marked spam on the site but called ham here.
    approved_called_spam: u64,
    spam_called_ham: u64,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.scored += other.scored;
        self.written += other.written;
        self.spam += other.spam;
        self.unsure += other.unsure;
        self.ham += other.ham;
        self.discard += other.discard;
        self.skipped += other.skipped;
        for (k, v) in &other.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        self.approved_called_spam += other.approved_called_spam;
        self.spam_called_ham += other.spam_called_ham;
    }

    fn count(&mut self, verdict: Verdict, discard: bool, status: Option<&'static str>) {
        self.scored += 1;
        self.discard += u64::from(discard);
        match verdict {
            Verdict::Spam => self.spam += 1,
            Verdict::Unsure => self.unsure += 1,
            Verdict::Ham => self.ham += 1,
        }
        if let Some(status) = status {
            *self.statuses.entry(status).or_default() += 1;
            match (status, verdict) {
                ("approved", Verdict::Spam) => self.approved_called_spam += 1,
                ("spam", Verdict::Ham) => self.spam_called_ham += 1,
                _ => {}
            }
        }
    }

    fn summary(&self) -> String {
        let mut s = format!(
            "scored {}: {} spam ({} to discard), {} unsure, {} ham",
            super::count(self.scored, "comment"),
            self.spam,
            self.discard,
            self.unsure,
            self.ham
        );
        if self.written != self.scored {
            s += &format!("; wrote {}", self.written);
        }
        if self.skipped > 0 {
            s += &format!("; skipped {}", super::count(self.skipped, "invalid record"));
        }
        if !self.statuses.is_empty() {
            let statuses: Vec<String> = self
                .statuses
                .iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect();
            s += &format!(
                "\non the site: {}\ndisagreements with the site's moderation: {} approved but scored spam, {} marked spam but scored ham",
                statuses.join(", "),
                self.approved_called_spam,
                self.spam_called_ham
            );
        }
        s
    }
}

pub fn run(args: BatchArgs) -> anyhow::Result<()> {
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(usize::from(n))
            .build_global()
            .context("setting the number of threads")?;
    }
    let target = super::output::target(&args.output, std::slice::from_ref(&args.input))?;
    // The model loads (10 ms for the benchmark's) while the reader starts on an input file; a model
    // that fails to load is still the error reported first. A pipe is opened after the model is
    // loaded: opening reads its first bytes, which could keep a bad model's error waiting.
    let (model, chunks) = if args.input.is_file() {
        let (model, chunks) = std::thread::scope(|scope| {
            let model = scope.spawn(|| args.model.load());
            let chunks = args.format.chunks(&args.input);
            (model.join(), chunks)
        });
        // A panic while loading is passed on as it was.
        let model = model.unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        (model, chunks?)
    } else {
        let model = args.model.load()?;
        (model, args.format.chunks(&args.input)?)
    };

    // A regular file is written to a temporary file beside it, renamed over it at the end; a stream
    // (a pipe, /dev/stdout) is written as the results come.
    let (tmp, file) = match &target {
        Target::File(path) => {
            let dir = crate::engine::model_file::folder_of(path);
            let tmp = tempfile::Builder::new()
                .prefix(".saring-batch-")
                .tempfile_in(&dir)
                .with_context(|| format!("cannot create a file in {}", dir.display()))?;
            super::output::remove_on_signal(tmp.path().to_owned())?;
            let file = tmp.reopen().context("reopening the output file")?;
            (Some(tmp), file)
        }
        Target::Stream(path) => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            (None, file)
        }
    };
    let stream = tmp.is_none();
    let format = args.output_format.unwrap_or_else(|| {
        let csv = args
            .output
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        if csv {
            OutputFormat::Csv
        } else {
            OutputFormat::Jsonl
        }
    });
    let (to_writer, blocks) = mpsc::sync_channel::<Vec<Block>>(2);
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        // A file goes to disk as it is written (a thread of its own asks for it), so that the sync at
        // the end finds little left to write: it took 42 ms of a 1.3 s run, every core idle. An error
        // of those syncs fails the run like one of the last.
        let early = match stream {
            false => Some(EarlySync::new(file.try_clone()?)),
            true => None,
        };
        let mut out = BufWriter::with_capacity(1 << 20, file);
        if format == OutputFormat::Csv {
            out.write_all(CSV_HEADER.as_bytes())?;
        }
        let mut unsynced = 0;
        for block in blocks.iter().flatten() {
            out.write_all(&block.bytes)?;
            unsynced += block.bytes.len();
            if let Some(early) = early.as_ref().filter(|_| unsynced >= EARLY_SYNC_BYTES) {
                early.ask();
                unsynced = 0;
            }
        }
        out.flush()?;
        match early {
            // A file: the last of it to disk too.
            Some(early) => {
                early.finish()?;
                out.get_ref().sync_all()
            }
            None => Ok(()),
        }
    });

    let bar = chunks.progress_bar();
    let mut tally = Tally::default();
    let skip_invalid = args.format.skip_invalid;
    let disposal = Disposal::new();
    let scorer = |chunk: &Chunk| -> Vec<Block> {
        chunk
            .items
            .par_chunks(BLOCK)
            .map(|items| {
                BlockScorer {
                    model: &model,
                    chunk,
                    file: &args.input,
                    reasons: args.reasons,
                    skip_invalid,
                    format,
                    only: args.only.map(Only::verdict),
                }
                .score(items)
            })
            .collect()
    };
    // Two chunks are scored at a time, so that a worker done with its part of one takes up the next
    // instead of waiting for the other worker to finish the first. Their results are taken in order.
    let result = rayon::in_place_scope(|scope| -> anyhow::Result<()> {
        let mut scoring = std::collections::VecDeque::new();
        let mut chunks_in = chunks.iter();
        loop {
            if scoring.len() < 2 {
                if let Some(chunk) = chunks_in.next() {
                    let (done_tx, done_rx) = mpsc::sync_channel(1);
                    let scorer = &scorer;
                    scope.spawn(move |_| {
                        let done = scorer(&chunk);
                        // Only gone when an earlier chunk failed.
                        let _ = done_tx.send((done, chunk));
                    });
                    scoring.push_back(done_rx);
                    continue;
                }
            }
            let Some(next) = scoring.pop_front() else {
                break;
            };
            let Ok((done, chunk)) = next.recv() else {
                bail!("a scoring thread failed");
            };
            for block in &done {
                tally.add(&block.tally);
                if let Some(e) = &block.error {
                    bail!("{e}{}", hint(e));
                }
            }
            if to_writer.send(done).is_err() {
                break;
            }
            chunks.done_with(chunk, &disposal);
            bar.set_position(chunks.bytes_read());
        }
        Ok(())
    });
    drop(to_writer);
    let written = writer.join();
    bar.finish_and_clear();
    // A reader error outranks what it caused here.
    chunks.finish()?;
    result?;
    match written {
        Ok(r) => r.with_context(|| format!("writing {}", args.output.display()))?,
        Err(_) => bail!("the writer thread failed"),
    }
    if tally.scored == 0 && tally.skipped == 0 {
        bail!(
            "no comments found in {} (--format names its format if it was not told right)",
            args.input.display()
        );
    }
    if let (Some(tmp), Target::File(path)) = (tmp, &target) {
        crate::engine::model_file::make_readable(tmp.as_file())?;
        tmp.persist(path)
            .with_context(|| format!("cannot write {}", args.output.display()))?;
        crate::engine::model_file::sync_folder(&crate::engine::model_file::folder_of(path));
    }

    eprintln!("{}", tally.summary());
    Ok(())
}

/// How much output is written between two requests to [`EarlySync`].
const EARLY_SYNC_BYTES: usize = 16 << 20;

/// Writes a file's data to disk on a thread of its own while more is being written. Its errors are
/// the run's: a write-back error is reported once per open file, so the writer's own sync at the end
/// (on the same open file) would not see one this thread was told of.
struct EarlySync {
    asks: Option<mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl EarlySync {
    fn new(file: File) -> Self {
        let (asks, asked) = mpsc::sync_channel::<()>(1);
        let thread = std::thread::spawn(move || {
            for () in asked {
                file.sync_data()?;
            }
            Ok(())
        });
        EarlySync {
            asks: Some(asks),
            thread: Some(thread),
        }
    }

    /// Asks for a sync, unless one is waiting already (never blocks the writer; after a failed sync,
    /// asks go nowhere and [`Self::finish`] reports the failure).
    fn ask(&self) {
        if let Some(asks) = &self.asks {
            let _ = asks.try_send(());
        }
    }

    /// Waits for the sync under way, if any; the first error any sync met.
    fn finish(mut self) -> std::io::Result<()> {
        match self.stop() {
            Some(Err(_)) => Err(std::io::Error::other(
                "the thread syncing the output failed",
            )),
            Some(Ok(result)) => result,
            None => Ok(()),
        }
    }

    /// Asks for no more syncs and waits for the thread (once: later calls find it gone).
    fn stop(&mut self) -> Option<std::thread::Result<std::io::Result<()>>> {
        drop(self.asks.take());
        self.thread.take().map(|thread| thread.join())
    }
}

impl Drop for EarlySync {
    fn drop(&mut self) {
        // On an early return (a failed write): stop the thread; the error that ended the run is
        // the one reported.
        let _ = self.stop();
    }
}

/// Scored output of a run of consecutive items.
struct Block {
    bytes: Vec<u8>,
    tally: Tally,
    /// The first record that could not be read (when not skipping).
    error: Option<ReadError>,
}

/// What scoring a block needs besides the items.
struct BlockScorer<'a> {
    model: &'a SpamModel,
    chunk: &'a Chunk,
    file: &'a Path,
    reasons: usize,
    skip_invalid: bool,
    format: OutputFormat,
    only: Option<Verdict>,
}

impl BlockScorer<'_> {
    fn score(&self, items: &[Item]) -> Block {
        let mut block = Block {
            bytes: Vec::with_capacity(items.len() * 64),
            tally: Tally::default(),
            error: None,
        };
        // Each worker keeps its extractor (its memo of words, its buffer of ids) from block to block.
        FeatureExtractor::with_thread_local(|extractor| {
            extractor.with_ids_buffer(|extractor, ids| {
                for item in items {
                    match self.score_item(extractor, ids, item, &mut block) {
                        Ok(()) => {}
                        Err(e) if self.skip_invalid && e.is_skippable() => block.tally.skipped += 1,
                        Err(e) => {
                            block.error = Some(e);
                            break;
                        }
                    }
                }
            })
        });
        block
    }

    /// Scores one item, appending its output line to `out`.
    fn score_item(
        &self,
        extractor: &mut FeatureExtractor,
        ids: &mut Vec<u64>,
        item: &Item,
        block: &mut Block,
    ) -> Result<(), ReadError> {
        let (model, file) = (self.model, self.file);
        let mut parsed = None;
        let (comment, position, status) = self.chunk.record(item, file, &mut parsed)?;
        // With --only, most comments are not written: explain only those that are.
        let (score, reasons) = if self.only.is_none() {
            model.explain_into(comment, extractor, ids, self.reasons)
        } else {
            let score = model.score(comment, extractor, ids);
            let written = self.only == Some(score.verdict);
            let reasons = if written {
                model.reasons(comment, extractor, ids, score, self.reasons)
            } else {
                Vec::new()
            };
            (score, reasons)
        };
        block.tally.count(score.verdict, score.discard, status);
        if self.only.is_some_and(|only| only != score.verdict) {
            return Ok(());
        }
        block.tally.written += 1;
        let reasons = reasons.into_iter().map(|r| r.reason).collect();
        let id = match (comment.id, position) {
            (Some(id), _) => Id::Given(id),
            (None, Position::Line(n) | Position::Byte { byte: n, .. }) => Id::Line(n),
        };
        let line = OutLine {
            id,
            post: comment.post_title,
            author: comment.author,
            kind: comment.kind,
            status,
            score: score.score,
            verdict: score.verdict,
            discard: score.discard,
            reasons,
        };
        let out = &mut block.bytes;
        match self.format {
            OutputFormat::Jsonl => {
                line.write_json(out)
                    .map_err(|e| ReadError::invalid(file, position, e.to_string()))?;
                out.push(b'\n');
            }
            OutputFormat::Csv => line
                .write_csv(out)
                .map_err(|e| ReadError::invalid(file, position, e.to_string()))?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_failed_early_sync_fails_the_run() {
        // Syncing a pipe fails (EINVAL), as a full or failing disk would: the error must come out.
        let (_reader, writer) = std::io::pipe().expect("pipe");
        let early = EarlySync::new(File::from(std::os::fd::OwnedFd::from(writer)));
        early.ask();
        assert!(early.finish().is_err());
        let (_reader, writer) = std::io::pipe().expect("pipe");
        let idle = EarlySync::new(File::from(std::os::fd::OwnedFd::from(writer)));
        assert!(idle.finish().is_ok(), "no sync asked, none failed");
    }

    #[test]
    fn json_lines_are_what_serde_json_writes() {
        let texts = [
            "plain",
            "",
            "quote \" and backslash \\ inside",
            "a quote \" alone",
            "a backslash \\ alone",
            "a control character \u{1b} alone",
            "tab\tnewline\ncontrol \u{1}\u{1f} and delete \u{7f}",
            "é, 日本語, emoji 😂, U+2028 \u{2028}",
            "</script>",
        ];
        for (i, &text) in texts.iter().enumerate() {
            for reasons in [vec![], vec![text.to_owned(), "a phone number".to_owned()]] {
                let line = OutLine {
                    id: if i % 2 == 0 {
                        Id::Given(text)
                    } else {
                        Id::Line(i as u64 * 1_000_003)
                    },
                    post: Some(text),
                    author: (i % 3 != 0).then_some(text),
                    kind: (i % 2 == 0).then_some("pingback"),
                    status: (i % 3 == 0).then_some("spam"),
                    score: [0.0, 1.0, 4.980971721776596e-10, 0.5, 0.9999999415043254][i % 5],
                    verdict: [Verdict::Ham, Verdict::Unsure, Verdict::Spam][i % 3],
                    discard: i % 2 == 1,
                    reasons: reasons.clone(),
                };
                let mut ours = Vec::new();
                line.write_json(&mut ours).expect("written");
                let serde = serde_json::to_vec(&line).expect("serialized");
                assert_eq!(
                    String::from_utf8_lossy(&ours),
                    String::from_utf8_lossy(&serde)
                );
            }
        }
    }
}
