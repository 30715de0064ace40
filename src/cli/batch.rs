//! `saring batch`: score every comment of a file, streaming, on every core.
//!
//! A reader thread cuts the input into chunks; each chunk is parsed and scored in parallel and written
//! in input order, so memory stays bounded by a few chunks whatever the file size. The output goes to
//! a temporary file renamed into place at the end: a failed run leaves no partial output.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::{bail, Context};
use clap::Args;
use rayon::prelude::*;
use serde::Serialize;

use super::input::{hint, Chunk, FormatArgs, Item, BLOCK};
use super::ModelArg;
use crate::engine::{FeatureExtractor, Score, SpamModel, Verdict};
use crate::formats::{Position, ReadError};

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

pub fn run(args: BatchArgs) -> anyhow::Result<()> {
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("setting the number of threads")?;
    }
    let model = args.model.load()?;
    let chunks = args.format.chunks(&args.input)?;

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

    let bar = chunks.progress_bar();
    let mut tally = Tally::default();
    let skip_invalid = args.format.skip_invalid;
    let result = (|| -> anyhow::Result<()> {
        for chunk in chunks.iter() {
            let done: Vec<Block> = chunk
                .items
                .par_chunks(BLOCK)
                .map(|items| {
                    BlockScorer {
                        model: &model,
                        chunk: &chunk,
                        file: &args.input,
                        reasons: args.reasons,
                        skip_invalid,
                    }
                    .score(items)
                })
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
            bar.set_position(chunks.bytes_read());
        }
        Ok(())
    })();
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
    crate::engine::model_file::make_readable(tmp.as_file())?;
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
}

impl BlockScorer<'_> {
    fn score(&self, items: &[Item]) -> Block {
        let mut extractor = FeatureExtractor::new();
        let mut ids = Vec::new();
        let mut block = Block {
            bytes: Vec::with_capacity(items.len() * 64),
            tally: Tally::default(),
            error: None,
        };
        for item in items {
            match self.score_item(&mut extractor, &mut ids, item, &mut block.bytes) {
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
                Err(e) if self.skip_invalid && e.is_skippable() => block.tally.skipped += 1,
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
        &self,
        extractor: &mut FeatureExtractor,
        ids: &mut Vec<u64>,
        item: &Item,
        out: &mut Vec<u8>,
    ) -> Result<Score, ReadError> {
        let (model, file) = (self.model, self.file);
        let mut parsed = None;
        let (comment, position) = self.chunk.comment(item, file, &mut parsed)?;
        let score = model.score(comment, extractor, ids);
        let reasons = model
            .reasons(comment, extractor, ids, score, self.reasons)
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
}
