//! `saring train`: learn a model from labeled comments.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;

use super::input::FormatArgs;
use super::ModelArg;
use crate::engine::calibrate::ThresholdTargets;
use crate::engine::{featurize, train, ModelFile, SpamModel, TrainOptions};
use crate::feedback::FeedbackStore;

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Labeled comments (JSONL or CSV with a label each, or a WXR or Disqus export, labeled by its
    /// moderation status)
    #[arg(long = "input", short = 'i', required_unless_present = "feedback", num_args = 1.., value_name = "FILE")]
    pub inputs: Vec<PathBuf>,
    /// Also learn from the moderators' feedback stored by `saring serve` (its data-dir/feedback.sqlite)
    #[arg(long, value_name = "DB")]
    pub feedback: Option<PathBuf>,
    #[command(flatten)]
    pub model: ModelArg,
    #[command(flatten)]
    pub format: FormatArgs,
    #[command(flatten)]
    pub options: TrainFlags,
}

/// Training settings shared with `saring eval`.
#[derive(Debug, Clone, Args)]
pub struct TrainFlags {
    /// Additive smoothing of feature counts
    #[arg(long, default_value_t = TrainOptions::default().alpha)]
    pub alpha: f64,
    /// Leave out features seen in fewer comments than this (word triples: fewer than this or 2)
    #[arg(long, default_value_t = TrainOptions::default().min_count)]
    pub min_count: u32,
    /// Each feature of a comment with n features counts n^-P
    #[arg(long, value_name = "P", default_value_t = TrainOptions::default().length_power)]
    pub length_power: f64,
    /// Largest share of ham the `spam` verdict may catch, on held-out training data
    #[arg(long, default_value_t = ThresholdTargets::default().spam_fpr)]
    pub spam_fpr: f64,
    /// Largest share of ham the `unsure` verdict may catch
    #[arg(long, default_value_t = ThresholdTargets::default().unsure_fpr)]
    pub unsure_fpr: f64,
}

impl TrainFlags {
    pub fn options(&self) -> anyhow::Result<TrainOptions> {
        Ok(TrainOptions {
            alpha: self.alpha,
            min_count: self.min_count,
            length_power: self.length_power,
            targets: ThresholdTargets {
                spam_fpr: self.spam_fpr,
                unsure_fpr: self.unsure_fpr,
            },
        }
        .check()?)
    }
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    let options = args.options.options()?;
    let requested = args.model.path();
    let read_from: Vec<PathBuf> = args.inputs.iter().chain(&args.feedback).cloned().collect();
    let path = match super::output::target(&requested, &read_from)? {
        super::output::Target::File(path) => path,
        super::output::Target::Stream(_) => {
            bail!("the model {} is not a regular file", requested.display())
        }
    };
    let mut read = args.format.read_examples(&args.inputs)?;
    let (mut examples, skipped, unlabeled) = (
        std::mem::take(&mut read.examples),
        read.skipped,
        read.unlabeled,
    );
    if let Some(db) = &args.feedback {
        if !db.exists() {
            bail!("no feedback database at {}", db.display());
        }
        let comments = FeedbackStore::open_read_only(db)?.comments()?;
        let base = examples.len();
        let mut from_feedback = featurize(&comments);
        for e in &mut from_feedback {
            e.index += base;
        }
        eprintln!(
            "adding {} of moderators' feedback from {}",
            super::count(from_feedback.len() as u64, "comment"),
            db.display()
        );
        examples.extend(from_feedback);
    }
    if examples.is_empty() {
        bail!("none of the {unlabeled} comments read has a label (\"spam\" or \"ham\")");
    }
    let data = train(&examples, options, super::now())?;
    ModelFile::save(&path, &data)
        .with_context(|| format!("saving the model to {}", requested.display()))?;
    let model = SpamModel::from_data(data);
    let info = model.info();
    let t = model.thresholds();
    eprintln!(
        "trained {} on {} ({} spam, {} ham), {} features",
        model.id(),
        super::count(info.spam_comments + info.ham_comments, "comment"),
        info.spam_comments,
        info.ham_comments,
        model.vocabulary_size()
    );
    if unlabeled > 0 {
        eprintln!("left out {unlabeled} comments without a label");
    }
    for (status, (n, used)) in &read.statuses {
        let what = if *used { "used" } else { "left out" };
        eprintln!("export status {status}: {n} comments, {what}");
    }
    if skipped > 0 {
        eprintln!("skipped {skipped} invalid records");
    }
    let p = crate::engine::calibrate::sigmoid;
    eprintln!(
        "thresholds: unsure ≥ {:.4}, spam ≥ {:.4}, discard ≥ {:.6}",
        p(t.unsure),
        p(t.spam),
        p(t.discard)
    );
    eprintln!("wrote {}", requested.display());
    Ok(())
}
