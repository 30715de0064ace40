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
use crate::engine::{Comment, FeatureExtractor, SpamModel, Verdict};
use crate::formats::jsonl::{parse_line, Lines};
use crate::formats::{Format, Position, ReadError};

const CHUNK: usize = 8192;

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

/// A comment's output line, with its verdict and discard flag for the summary.
type Scored = (Vec<u8>, Verdict, bool);

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

#[derive(Default)]
struct Tally {
    scored: u64,
    spam: u64,
    unsure: u64,
    ham: u64,
    discard: u64,
    skipped: u64,
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
    let mut out = BufWriter::with_capacity(1 << 20, tmp.as_file());

    let bar = ProgressBar::new(size).with_style(
        ProgressStyle::with_template("{bar:40} {percent}% {binary_bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut tally = Tally::default();
    let result = (|| -> anyhow::Result<()> {
        for chunk in rx {
            let lines: Vec<Result<Scored, ReadError>> = chunk
                .into_par_iter()
                .map_init(
                    || (FeatureExtractor::new(), Vec::new()),
                    |(ex, ids), item| {
                        score_item(&model, ex, ids, item, args.input.as_path(), args.reasons)
                    },
                )
                .collect();
            for line in lines {
                match line {
                    Ok((bytes, verdict, discard)) => {
                        out.write_all(&bytes)?;
                        tally.scored += 1;
                        tally.discard += u64::from(discard);
                        match verdict {
                            Verdict::Spam => tally.spam += 1,
                            Verdict::Unsure => tally.unsure += 1,
                            Verdict::Ham => tally.ham += 1,
                        }
                    }
                    Err(e) if args.format.skip_invalid && e.is_skippable() => tally.skipped += 1,
                    Err(e) => bail!("{e}{}", hint(&e)),
                }
            }
            bar.set_position(read.load(Ordering::Relaxed));
        }
        Ok(())
    })();
    bar.finish_and_clear();
    // The reader stops when the channel closes; a reader error outranks what it caused here.
    match reader.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => bail!("the reader thread failed"),
    }
    result?;
    out.flush()?;
    drop(out);
    tmp.as_file().sync_all()?;
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

fn score_item(
    model: &SpamModel,
    extractor: &mut FeatureExtractor,
    ids: &mut Vec<u64>,
    item: Item,
    file: &Path,
    reasons: usize,
) -> Result<Scored, ReadError> {
    let (comment, position) = match item {
        Item::Line(n, text) => (parse_line(&text, file, n)?, Position::Line(n)),
        Item::Parsed(c, p) => (*c, p),
        Item::Bad(e) => return Err(e),
    };
    let score = model.score(&comment, extractor, ids);
    let reasons = model
        .reasons(&comment, extractor, ids, score, reasons)
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
    let mut bytes =
        serde_json::to_vec(&line).map_err(|e| ReadError::invalid(file, position, e.to_string()))?;
    bytes.push(b'\n');
    Ok((bytes, score.verdict, score.discard))
}
