//! Measuring a model on comments it was not trained on: k-fold cross-validation and held-out test sets.
//!
//! Duplicated texts (equal after normalization) are counted once, and never sit on both sides of a
//! split: cross-validation folds by text, and a test comment whose text is in the training data is left
//! out of the measurement.

use std::collections::HashSet;

use serde::Serialize;

use super::metrics::{recall_at_fpr, roc_auc, Confusion};
use super::model::{SpamModel, Verdict};
use super::train::{train, Example, TrainError, TrainOptions};

/// What an evaluation found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Comments measured (after removing duplicates).
    pub comments: usize,
    pub spam: usize,
    pub ham: usize,
    /// Duplicates removed, and test comments left out because their text was trained on.
    pub duplicates_removed: usize,
    pub overlap_removed: usize,
    pub folds: Option<usize>,
    pub roc_auc: Option<f64>,
    pub recall_at_1pct_fpr: Option<f64>,
    pub recall_at_0_1pct_fpr: Option<f64>,
    /// At the model's own `spam` threshold; `None` where undefined (no spam, no ham, nothing called
    /// spam).
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
    pub false_positive_rate: Option<f64>,
    pub confusion: Confusion,
    /// `unsure` verdicts among spam and among ham (held for moderation).
    pub unsure_spam: usize,
    pub unsure_ham: usize,
    /// Every held-out comment's outcome (for listing the worst mistakes).
    #[serde(skip)]
    pub outcomes: Vec<Outcome>,
}

impl Report {
    /// The `n` most confident mistakes: ham scored highest and spam scored lowest.
    pub fn worst_mistakes(&self, n: usize) -> (Vec<Outcome>, Vec<Outcome>) {
        // Mistakes at the `spam` threshold, as the confusion matrix counts them: ham held as `unsure`
        // was not published as spam, so it is no mistake.
        let mut ham: Vec<Outcome> = self
            .outcomes
            .iter()
            .filter(|o| !o.spam && o.verdict == Verdict::Spam)
            .copied()
            .collect();
        ham.sort_by(|a, b| b.logit.total_cmp(&a.logit));
        ham.truncate(n);
        let mut spam: Vec<Outcome> = self
            .outcomes
            .iter()
            .filter(|o| o.spam && o.verdict != Verdict::Spam)
            .copied()
            .collect();
        spam.sort_by(|a, b| a.logit.total_cmp(&b.logit));
        spam.truncate(n);
        (ham, spam)
    }
}

/// Keeps the first comment of each text.
pub fn deduplicate(examples: Vec<Example>) -> (Vec<Example>, usize) {
    let before = examples.len();
    let mut seen = HashSet::new();
    let kept: Vec<Example> = examples
        .into_iter()
        .filter(|e| seen.insert(e.group))
        .collect();
    let removed = before - kept.len();
    (kept, removed)
}

/// How one held-out comment was scored.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Outcome {
    /// The comment's position in the input it came from.
    pub index: usize,
    pub logit: f64,
    pub verdict: Verdict,
    pub spam: bool,
}

fn report(
    outcomes: &[Outcome],
    duplicates_removed: usize,
    overlap_removed: usize,
    folds: Option<usize>,
) -> Report {
    let ranked: Vec<(f64, bool)> = outcomes.iter().map(|o| (o.logit, o.spam)).collect();
    let mut confusion = Confusion::default();
    let (mut unsure_spam, mut unsure_ham) = (0, 0);
    for o in outcomes {
        confusion.add(o.spam, o.verdict == Verdict::Spam);
        if o.verdict == Verdict::Unsure {
            if o.spam {
                unsure_spam += 1;
            } else {
                unsure_ham += 1;
            }
        }
    }
    let spam = outcomes.iter().filter(|o| o.spam).count();
    Report {
        comments: outcomes.len(),
        spam,
        ham: outcomes.len() - spam,
        duplicates_removed,
        overlap_removed,
        folds,
        roc_auc: roc_auc(&ranked),
        recall_at_1pct_fpr: recall_at_fpr(&ranked, 0.01),
        recall_at_0_1pct_fpr: recall_at_fpr(&ranked, 0.001),
        precision: confusion.precision(),
        recall: confusion.recall(),
        f1: confusion.f1(),
        false_positive_rate: confusion.false_positive_rate(),
        confusion,
        unsure_spam,
        unsure_ham,
        outcomes: outcomes.to_vec(),
    }
}

fn score_all(model: &SpamModel, examples: &[&Example]) -> Vec<Outcome> {
    examples
        .iter()
        .map(|e| {
            let s = model.score_ids(&e.ids);
            Outcome {
                index: e.index,
                logit: s.logit,
                verdict: s.verdict,
                spam: e.spam,
            }
        })
        .collect()
}

/// Deduplicated k-fold cross-validation: each fold is scored by a model trained on the others.
pub fn cross_validate(
    examples: Vec<Example>,
    folds: usize,
    seed: u64,
    options: TrainOptions,
) -> Result<Report, TrainError> {
    if folds < 2 {
        return Err(TrainError::Options(format!(
            "cross-validation needs at least 2 folds, not {folds}"
        )));
    }
    let (examples, duplicates) = deduplicate(examples);
    if folds > examples.len() {
        return Err(TrainError::Options(format!(
            "{folds} folds for {} distinct comments: use at most as many folds as comments",
            examples.len()
        )));
    }
    let fold_of = |e: &Example| {
        let h = xxhash_rust::xxh3::xxh3_64_with_seed(&e.group.to_le_bytes(), seed);
        (h % folds as u64) as usize
    };
    let mut outcomes = Vec::with_capacity(examples.len());
    for fold in 0..folds {
        let (test, training): (Vec<&Example>, Vec<&Example>) =
            examples.iter().partition(|e| fold_of(e) == fold);
        if test.is_empty() {
            continue;
        }
        let training: Vec<Example> = training.into_iter().cloned().collect();
        let model = SpamModel::from_data(train(&training, options, 0)?);
        outcomes.extend(score_all(&model, &test));
    }
    Ok(report(&outcomes, duplicates, 0, Some(folds)))
}

/// Measures a model on a test set, leaving out duplicates and any text in `trained_groups`.
pub fn evaluate(
    model: &SpamModel,
    test: Vec<Example>,
    trained_groups: Option<&HashSet<u64>>,
) -> Report {
    let (test, duplicates) = deduplicate(test);
    let kept: Vec<&Example> = test
        .iter()
        .filter(|e| trained_groups.is_none_or(|g| !g.contains(&e.group)))
        .collect();
    let overlap = test.len() - kept.len();
    report(&score_all(model, &kept), duplicates, overlap, None)
}
