//! `saring batch`: score every comment of a file, streaming, on every core.
//!
//! A reader thread cuts the input into chunks; each chunk is parsed and scored in parallel and written
//! in input order, so memory stays bounded by a few chunks whatever the file size. The output goes to
//! a temporary file renamed into place at the end: a failed run leaves no partial output.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;

use super::input::{hint, FormatArgs};
use super::ModelArg;
use crate::engine::{Comment, FeatureExtractor, Score, SpamModel, Verdict};
use crate::formats::jsonl::{parse_line, Lines};
use crate::formats::{Format, Position, ReadError};

const CHUNK: usize = 8192;
/// Items one worker scores in a row.
const BLOCK: usize = 256;

#[derive(Debug, Args)]
pub struct BatchArgs {
    /// Comments to score (JSONL or CSV)
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
    /// Worker threads [default: one per core]
    #[arg(long)]
    pub threads: Option<usize>,
}

/// One unit of work from the reader thread.
enum Item {
    /// A JSONL line, parsed by the workers.
    Line(u64, String),
    /// A record already parsed by a format reader.
    Parsed(Box<Comment>, Position),
    Bad(ReadError),
}

#[derive(Serialize)]
#[serde(untagged)]
enum Id<'a> {
    Given(&'a str),
    Line(u64),
}

#[derive(Serialize)]
struct OutLine<'a> {
    id: Id<'a>,
    score: f64,
    verdict: Verdict,
    discard: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reasons: Vec<String>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    scored: u64,
    spam: u64,
    unsure: u64,
    ham: u64,
    discard: u64,
    skipped: u64,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.scored += other.scored;
        self.spam += other.spam;
        self.unsure += other.unsure;
        self.ham += other.ham;
        self.discard += other.discard;
        self.skipped += other.skipped;
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

pub fn run(args: BatchArgs) -> anyhow::Result<()> {
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("setting the number of threads")?;
    }
    let model = args.model.load()?;
    let format = args.format.format_of(&args.input)?;
    let size = std::fs::metadata(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?
        .len();
    let read = Arc::new(AtomicU64::new(0));
    let (tx, rx) = mpsc::sync_channel::<Vec<Item>>(4);
    let reader = spawn_reader(&args, format, read.clone(), tx)?;

    let dir = match args.output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".saring-batch-")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    let (to_writer, blocks) = mpsc::sync_channel::<Vec<Block>>(2);
    let file = tmp.reopen().context("reopening the output file")?;
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut out = BufWriter::with_capacity(1 << 20, file);
        for block in blocks.iter().flatten() {
            out.write_all(&block.bytes)?;
        }
        out.flush()?;
        out.get_ref().sync_all()
    });

    let bar = ProgressBar::new(size).with_style(
        ProgressStyle::with_template("{bar:40} {percent}% {binary_bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut tally = Tally::default();
    let skip_invalid = args.format.skip_invalid;
    let result = (|| -> anyhow::Result<()> {
        for chunk in rx {
            let done: Vec<Block> = chunk
                .par_chunks(BLOCK)
                .map(|items| score_block(&model, items, &args.input, args.reasons, skip_invalid))
                .collect();
            for block in &done {
                tally.add(&block.tally);
                if let Some(e) = &block.error {
                    bail!("{e}{}", hint(e));
                }
            }
            if to_writer.send(done).is_err() {
                break;
            }
            bar.set_position(read.load(Ordering::Relaxed));
        }
        Ok(())
    })();
    drop(to_writer);
    let written = writer.join();
    bar.finish_and_clear();
    // The reader stops when the channel closes; a reader error outranks what it caused here.
    match reader.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => bail!("the reader thread failed"),
    }
    result?;
    match written {
        Ok(r) => r.with_context(|| format!("writing {}", args.output.display()))?,
        Err(_) => bail!("the writer thread failed"),
    }
    tmp.persist(&args.output)
        .with_context(|| format!("cannot write {}", args.output.display()))?;

    eprintln!(
        "scored {} comments: {} spam ({} to discard), {} unsure, {} ham{}",
        tally.scored,
        tally.spam,
        tally.discard,
        tally.unsure,
        tally.ham,
        if tally.skipped > 0 {
            format!("; skipped {} invalid records", tally.skipped)
        } else {
            String::new()
        }
    );
    Ok(())
}

fn spawn_reader(
    args: &BatchArgs,
    format: Format,
    read: Arc<AtomicU64>,
    tx: mpsc::SyncSender<Vec<Item>>,
) -> anyhow::Result<std::thread::JoinHandle<anyhow::Result<()>>> {
    let path = args.input.clone();
    let file = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let reader = BufReader::with_capacity(1 << 16, Counting { inner: file, read });
    // JSONL lines are parsed by the workers; other formats are parsed here.
    let mut source: Box<dyn Iterator<Item = Result<Item, ReadError>> + Send> = match format {
        Format::Jsonl => {
            let mut lines = Lines::new(reader, &path);
            Box::new(std::iter::from_fn(move || {
                lines
                    .next_line()
                    .map(|l| l.map(|(n, text)| Item::Line(n, text)))
            }))
        }
        Format::Csv => Box::new(
            crate::formats::csv::CsvReader::new(reader, &path, &args.format.csv_options())?
                .map(|r| r.map(|r| Item::Parsed(Box::new(r.comment), r.position))),
        ),
    };
    Ok(std::thread::spawn(move || -> anyhow::Result<()> {
        let mut chunk = Vec::with_capacity(CHUNK);
        for item in source.by_ref() {
            chunk.push(match item {
                Ok(item) => item,
                Err(e @ ReadError::Invalid { .. }) => Item::Bad(e),
                Err(e) => return Err(e.into()),
            });
            if chunk.len() == CHUNK
                && tx
                    .send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)))
                    .is_err()
            {
                return Ok(());
            }
        }
        if !chunk.is_empty() {
            let _ = tx.send(chunk);
        }
        Ok(())
    }))
}

/// Scored output of a run of consecutive items.
struct Block {
    bytes: Vec<u8>,
    tally: Tally,
    /// The first record that could not be read (when not skipping).
    error: Option<ReadError>,
}

fn score_block(
    model: &SpamModel,
    items: &[Item],
    file: &Path,
    reasons: usize,
    skip_invalid: bool,
) -> Block {
    let mut extractor = FeatureExtractor::new();
    let mut ids = Vec::new();
    let mut block = Block {
        bytes: Vec::with_capacity(items.len() * 64),
        tally: Tally::default(),
        error: None,
    };
    for item in items {
        match score_item(
            model,
            &mut extractor,
            &mut ids,
            item,
            file,
            reasons,
            &mut block.bytes,
        ) {
            Ok(score) => {
                let t = &mut block.tally;
                t.scored += 1;
                t.discard += u64::from(score.discard);
                match score.verdict {
                    Verdict::Spam => t.spam += 1,
                    Verdict::Unsure => t.unsure += 1,
                    Verdict::Ham => t.ham += 1,
                }
            }
            Err(e) if skip_invalid && e.is_skippable() => block.tally.skipped += 1,
            Err(e) => {
                block.error = Some(e);
                break;
            }
        }
    }
    block
}

/// Scores one item, appending its output line to `out`.
fn score_item(
    model: &SpamModel,
    extractor: &mut FeatureExtractor,
    ids: &mut Vec<u64>,
    item: &Item,
    file: &Path,
    reasons: usize,
    out: &mut Vec<u8>,
) -> Result<Score, ReadError> {
    let parsed;
    let (comment, position) = match item {
        Item::Line(n, text) => {
            parsed = parse_line(text, file, *n)?;
            (&parsed, Position::Line(*n))
        }
        Item::Parsed(c, p) => (c.as_ref(), *p),
        Item::Bad(e) => return Err(e.clone()),
    };
    let score = model.score(comment, extractor, ids);
    let reasons = model
        .reasons(comment, extractor, ids, score, reasons)
        .into_iter()
        .map(|r| r.reason)
        .collect();
    let id = match (&comment.id, position) {
        (Some(id), _) => Id::Given(id),
        (None, Position::Line(n) | Position::Byte(n)) => Id::Line(n),
    };
    let line = OutLine {
        id,
        score: score.score,
        verdict: score.verdict,
        discard: score.discard,
        reasons,
    };
    serde_json::to_writer(&mut *out, &line)
        .map_err(|e| ReadError::invalid(file, position, e.to_string()))?;
    out.push(b'\n');
    Ok(score)
}
