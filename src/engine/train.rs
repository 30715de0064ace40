//! Training: count features per class, fit linfa-bayes' `MultinomialNb`, calibrate, choose thresholds.
//!
//! `MultinomialNb` takes dense rows, one number per vocabulary entry per comment. Its likelihoods depend
//! only on the per-class sums of those rows, so saring hands it one row per class holding the sums
//! (each comment counts a feature once): the fit costs time proportional to the vocabulary, not to
//! vocabulary × comments. Because it then sees one row per class, its prior is uniform; the base rate of
//! spam enters through calibration instead. The fitted model's parameters are read back through its
//! serde representation and turned into one sparse weight per feature ([`crate::engine::SpamModel`]).
//!
//! Calibration and thresholds come from out-of-fold scores: the comments are split into folds by their
//! normalized text (duplicates stay together), a model is fitted without each fold, and the fold is
//! scored by it. Each fold's model is again fitted by linfa-bayes.

use std::collections::HashMap;

use linfa::prelude::*;
use linfa_bayes::MultinomialNb;
use ndarray::{Array1, Array2};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::Deserialize;
use thiserror::Error;

use super::calibrate::{Platt, ThresholdTargets, Thresholds};
use super::comment::Comment;
use super::features::FeatureExtractor;
use super::model::{ModelData, ModelInfo, FEATURE_VERSION};

/// Folds used to calibrate while training.
pub const CALIBRATION_FOLDS: usize = 5;

#[derive(Debug, Error)]
pub enum TrainError {
    #[error("no labeled comments to train on")]
    Empty,
    #[error("training needs both spam and ham; got {spam} spam and {ham} ham")]
    OneClass { spam: u64, ham: u64 },
    #[error("the naive Bayes fit failed: {0}")]
    Fit(String),
    #[error("invalid training option: {0}")]
    Options(String),
}

/// Settings of a training run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainOptions {
    /// Additive (Lidstone) smoothing of the feature counts.
    pub alpha: f64,
    /// Features seen in fewer comments than this are left out of the model.
    pub min_count: u32,
    pub targets: ThresholdTargets,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            alpha: 0.5,
            min_count: 1,
            targets: ThresholdTargets::default(),
        }
    }
}

impl TrainOptions {
    pub fn check(self) -> Result<Self, TrainError> {
        if !(self.alpha > 0.0 && self.alpha.is_finite()) {
            return Err(TrainError::Options(format!("alpha must be positive, not {}", self.alpha)));
        }
        let t = self.targets;
        if !(0.0..1.0).contains(&t.spam_fpr) || !(0.0..1.0).contains(&t.unsure_fpr) {
            return Err(TrainError::Options("false-positive targets must be in [0, 1)".into()));
        }
        Ok(self)
    }
}

/// A labeled comment reduced to what training needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// Feature ids, sorted and unique.
    pub ids: Vec<u64>,
    pub spam: bool,
    /// Hash of the normalized text: equal texts share it, and never straddle a split.
    pub group: u64,
}

/// Extracts the features of labeled comments on every core. Comments without a label are skipped.
pub fn featurize(comments: &[Comment]) -> Vec<Example> {
    comments
        .par_iter()
        .map_init(FeatureExtractor::new, |ex, c| {
            let label = c.label?;
            let mut ids = Vec::new();
            ex.ids(c, &mut ids);
            Some(Example {
                ids,
                spam: label.is_spam(),
                group: ex.content_key(),
            })
        })
        .flatten()
        .collect()
}

/// Per-feature counts of comments: `[ham, spam]` for each calibration fold.
type FoldCounts = [[u32; 2]; CALIBRATION_FOLDS];

fn fold_of(group: u64) -> usize {
    // The group hash is uniform; fold by its top bits so folds do not correlate with hash-map buckets.
    ((group >> 40) % CALIBRATION_FOLDS as u64) as usize
}

/// Trains a model from featurized examples.
pub fn train(examples: &[Example], options: TrainOptions, trained_at: u64) -> Result<ModelData, TrainError> {
    let options = options.check()?;
    if examples.is_empty() {
        return Err(TrainError::Empty);
    }
    let spam = examples.iter().filter(|e| e.spam).count() as u64;
    let ham = examples.len() as u64 - spam;
    if spam == 0 || ham == 0 {
        return Err(TrainError::OneClass { spam, ham });
    }

    let counts = count_features(examples);
    let mut ids: Vec<u64> = counts
        .iter()
        .filter(|(_, c)| total(c) >= options.min_count)
        .map(|(&id, _)| id)
        .collect();
    ids.sort_unstable();

    // Out-of-fold log-odds for calibration and thresholds.
    let index: FxHashMap<u64, u32> = ids.iter().enumerate().map(|(i, &id)| (id, i as u32)).collect();
    let mut oof = vec![0.0f64; examples.len()];
    for fold in 0..CALIBRATION_FOLDS {
        let held_out = |c: &FoldCounts| c[fold];
        let kept: Vec<[f64; 2]> = ids
            .iter()
            .map(|id| {
                let c = &counts[id];
                let out = held_out(c);
                let all = sum_folds(c);
                [f64::from(all[0] - out[0]), f64::from(all[1] - out[1])]
            })
            .collect();
        let fitted = fit_multinomial_nb(&kept, options.alpha, options.min_count)?;
        let weights = fitted.weights;
        oof.par_iter_mut()
            .zip(examples.par_iter())
            .filter(|(_, e)| fold_of(e.group) == fold)
            .for_each(|(score, e)| {
                let sum: f64 = e
                    .ids
                    .iter()
                    .filter_map(|id| index.get(id))
                    .map(|&i| weights[i as usize])
                    .sum();
                *score = sum + fitted.bias;
            });
    }
    let labeled: Vec<(f64, bool)> = oof.iter().copied().zip(examples.iter().map(|e| e.spam)).collect();
    let platt = Platt::fit(&labeled);
    let logits: Vec<(f64, bool)> = labeled.iter().map(|&(x, y)| (platt.logit(x), y)).collect();
    let thresholds = Thresholds::choose(&logits, options.targets);

    // The model itself, on everything.
    let all: Vec<[f64; 2]> = ids
        .iter()
        .map(|id| {
            let s = sum_folds(&counts[id]);
            [f64::from(s[0]), f64::from(s[1])]
        })
        .collect();
    let fitted = fit_multinomial_nb(&all, options.alpha, options.min_count)?;
    let weights: Vec<f32> = fitted.weights.iter().map(|&w| w as f32).collect();

    Ok(ModelData {
        info: ModelInfo {
            trained_at,
            spam_comments: spam,
            ham_comments: ham,
            alpha: options.alpha,
            min_count: options.min_count,
            feature_version: FEATURE_VERSION,
        },
        bias: fitted.bias,
        platt,
        thresholds,
        ids,
        weights,
    })
}

fn total(c: &FoldCounts) -> u32 {
    let s = sum_folds(c);
    s[0] + s[1]
}

fn sum_folds(c: &FoldCounts) -> [u32; 2] {
    c.iter().fold([0, 0], |acc, f| [acc[0] + f[0], acc[1] + f[1]])
}

/// How many comments of each class and fold hold each feature, counted on every core.
fn count_features(examples: &[Example]) -> FxHashMap<u64, FoldCounts> {
    examples
        .par_chunks(4096)
        .fold(FxHashMap::<u64, FoldCounts>::default, |mut map, chunk| {
            for e in chunk {
                let fold = fold_of(e.group);
                let class = usize::from(e.spam);
                for &id in &e.ids {
                    map.entry(id).or_insert([[0; 2]; CALIBRATION_FOLDS])[fold][class] += 1;
                }
            }
            map
        })
        .reduce(FxHashMap::default, |mut a, b| {
            let (mut big, small) = if a.len() >= b.len() { (a, b) } else { (b, std::mem::take(&mut a)) };
            for (id, c) in small {
                let e = big.entry(id).or_insert([[0; 2]; CALIBRATION_FOLDS]);
                for (f, cf) in c.iter().enumerate() {
                    e[f][0] += cf[0];
                    e[f][1] += cf[1];
                }
            }
            big
        })
}

/// A fitted naive Bayes as sparse weights over the columns it was given.
struct Fitted {
    /// `log P(f | spam) − log P(f | ham)` per column; 0 for columns left out of this fit.
    weights: Vec<f64>,
    /// `log P(spam) − log P(ham)`.
    bias: f64,
}

/// Fits linfa-bayes' `MultinomialNb` on the per-class sums (`[ham, spam]` per column), using only the
/// columns seen in at least `min_count` comments, and returns one log-odds weight per column.
fn fit_multinomial_nb(sums: &[[f64; 2]], alpha: f64, min_count: u32) -> Result<Fitted, TrainError> {
    let used: Vec<usize> = (0..sums.len())
        .filter(|&i| sums[i][0] + sums[i][1] >= f64::from(min_count.max(1)))
        .collect();
    let mut records = Array2::<f64>::zeros((2, used.len()));
    for (col, &i) in used.iter().enumerate() {
        records[[0, col]] = sums[i][0];
        records[[1, col]] = sums[i][1];
    }
    let targets = Array1::from(vec![0usize, 1]);
    let nb = MultinomialNb::params()
        .alpha(alpha)
        .fit(&Dataset::new(records, targets))
        .map_err(|e| TrainError::Fit(e.to_string()))?;
    let params = NbParameters::of(&nb)?;
    let (ham, spam) = (params.class(0)?, params.class(1)?);
    let mut weights = vec![0.0; sums.len()];
    for (col, &i) in used.iter().enumerate() {
        weights[i] = spam.feature_log_prob[col] - ham.feature_log_prob[col];
    }
    Ok(Fitted {
        weights,
        bias: spam.prior.ln() - ham.prior.ln(),
    })
}

/// The parameters of a fitted `MultinomialNb`, read through its serde representation (its fields are
/// private). Field order mirrors linfa-bayes 0.8's `MultinomialNb` and `ClassHistogram`.
#[derive(Deserialize)]
pub(crate) struct NbParameters {
    class_info: HashMap<usize, ClassParameters>,
}

#[derive(Deserialize)]
pub(crate) struct ClassParameters {
    #[allow(dead_code)]
    class_count: usize,
    pub(crate) prior: f64,
    #[allow(dead_code)]
    feature_count: Array1<f64>,
    pub(crate) feature_log_prob: Array1<f64>,
}

impl NbParameters {
    pub(crate) fn of(nb: &MultinomialNb<f64, usize>) -> Result<Self, TrainError> {
        let bytes = postcard::to_stdvec(nb).map_err(|e| TrainError::Fit(e.to_string()))?;
        postcard::from_bytes(&bytes).map_err(|e| TrainError::Fit(format!("reading the fitted model: {e}")))
    }

    pub(crate) fn class(&self, label: usize) -> Result<&ClassParameters, TrainError> {
        self.class_info
            .get(&label)
            .ok_or_else(|| TrainError::Fit(format!("the fitted model has no class {label}")))
    }
}
