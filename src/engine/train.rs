//! Training: count features per class, fit linfa-bayes' `MultinomialNb`, calibrate, choose thresholds.
//!
//! `MultinomialNb` takes dense rows, one number per vocabulary entry per comment. Its likelihoods depend
//! only on the per-class sums of those rows, so saring hands it one row per class holding the sums
//! (each comment counts a feature once): the fit costs time proportional to the vocabulary, not to
//! vocabulary × comments. Because it then sees one row per class, its prior is uniform; the base rate of
//! spam enters through calibration instead. The fitted model's parameters are read back through its
//! serde representation and turned into one sparse weight per feature ([`crate::engine::SpamModel`]).
//!
//! Calibration and thresholds come from out-of-fold evidence: the comments are split into folds by their
//! normalized text (duplicates stay together), a model is fitted without each fold (again by
//! linfa-bayes), and the fold's comments are scored by it, their log-odds summed per kind of feature and
//! direction ([`crate::engine::calibrate`]).

use std::collections::HashMap;

use linfa::prelude::*;
use linfa_bayes::MultinomialNb;
use ndarray::{Array1, Array2};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::Deserialize;
use thiserror::Error;

use super::calibrate::{
    novelty, slot, Calibration, Evidence, ThresholdTargets, Thresholds, NOVELTY, SLOTS,
};
use super::comment::{Comment, CommentRef};
use super::features::FeatureExtractor;
use super::features::{is_evasion_feature, kind_index, FeatureKind};
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
    /// Features seen in fewer comments than this are left out of the model (word triples: fewer than
    /// this or [`MIN_TRIPLE_COUNT`]).
    pub min_count: u32,
    /// Each feature of a comment with `n` features counts `n^-length_power` (0: every feature counts 1).
    pub length_power: f64,
    pub targets: ThresholdTargets,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            alpha: 0.03,
            min_count: 1,
            length_power: 0.75,
            targets: ThresholdTargets::default(),
        }
    }
}

impl TrainOptions {
    pub fn check(self) -> Result<Self, TrainError> {
        if !(self.alpha > 0.0 && self.alpha.is_finite()) {
            return Err(TrainError::Options(format!(
                "alpha must be positive, not {}",
                self.alpha
            )));
        }
        // Negative would make longer comments count more; past 2 a long comment's words count for
        // next to nothing (and `inf` made every value 0, then a model of NaNs).
        if !(0.0..=2.0).contains(&self.length_power) {
            return Err(TrainError::Options(format!(
                "length power must be 0 to 2, not {}",
                self.length_power
            )));
        }
        let t = self.targets;
        if !(0.0..1.0).contains(&t.spam_fpr) || !(0.0..1.0).contains(&t.unsure_fpr) {
            return Err(TrainError::Options(
                "false-positive targets must be in [0, 1)".into(),
            ));
        }
        Ok(self)
    }
}

/// A labeled comment reduced to what training needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// Feature ids, each once, in the order the comment gave them.
    pub ids: Vec<u64>,
    pub spam: bool,
    /// Hash of the normalized text: equal texts share it, and never straddle a split.
    pub group: u64,
    /// Position of the comment in the input it was made from.
    pub index: usize,
}

/// Extracts the features of labeled comments on every core. Comments without a label are skipped.
pub fn featurize(comments: &[Comment]) -> Vec<Example> {
    comments
        .par_iter()
        .enumerate()
        .map(|(index, c)| FeatureExtractor::with_thread_local(|ex| example(ex, c, index)))
        .flatten()
        .collect()
}

/// The example a labeled comment makes (`None` without a label); `index` is its place in the input.
pub fn example<'c>(
    extractor: &mut FeatureExtractor,
    comment: impl Into<CommentRef<'c>>,
    index: usize,
) -> Option<Example> {
    let comment = comment.into();
    let label = comment.label?;
    Some(Example {
        ids: extractor.ids_exact(comment),
        spam: label.is_spam(),
        group: extractor.content_key(),
        index,
    })
}

/// Per feature, for each calibration fold: how many comments hold it, and per class (`[ham, spam]`)
/// the sum of its values in them (1 each, or less under length normalization).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct FoldCounts {
    comments: [u32; CALIBRATION_FOLDS],
    sums: [[f32; 2]; CALIBRATION_FOLDS],
}

impl FoldCounts {
    /// How many folds have comments that hold the feature.
    fn folds_holding(&self) -> usize {
        self.comments.iter().filter(|&&c| c > 0).count()
    }

    /// Comments and sums over every fold but `skip` (none if `skip` is out of range).
    fn without(&self, skip: usize) -> (u32, [f64; 2]) {
        let mut comments = 0;
        let mut sums = [0.0; 2];
        for f in (0..CALIBRATION_FOLDS).filter(|&f| f != skip) {
            comments += self.comments[f];
            sums[0] += f64::from(self.sums[f][0]);
            sums[1] += f64::from(self.sums[f][1]);
        }
        (comments, sums)
    }
}

fn fold_of(group: u64) -> usize {
    // The group hash is uniform; fold by its top bits so folds do not correlate with hash-map buckets.
    ((group >> 40) % CALIBRATION_FOLDS as u64) as usize
}

/// The value each feature of a comment with `n` features takes: `n^-power`.
#[inline]
pub fn feature_value(n: usize, power: f64) -> f64 {
    if power == 0.0 || n == 0 {
        1.0
    } else {
        (n as f64).powf(-power)
    }
}

/// How much each feature of one comment counts (its value in the naive Bayes count vector).
///
/// A comment with `n` features is a vector whose entries are `n^-power`, so a long text does not
/// outvote a short one by its length alone. Signs of deliberate evasion (styled, hidden, look-alike,
/// spaced or stretched letters; brand-like names of letters and digits) occur once whatever the
/// length and say the same of a long comment as of a short one: they count `n^-power/2`, the square
/// root of the others' value, so the words around them dilute them less.
#[derive(Debug, Clone, Copy)]
pub struct FeatureValues {
    other: f64,
    evasion: f64,
}

impl FeatureValues {
    /// The values for a comment's deduplicated feature ids.
    #[inline]
    pub fn of(ids: &[u64], power: f64) -> Self {
        Self::for_count(ids.len(), power)
    }

    /// The values for a comment with `n` distinct features.
    pub fn for_count(n: usize, power: f64) -> Self {
        FeatureValues {
            other: feature_value(n, power),
            evasion: feature_value(n, power / 2.0),
        }
    }

    #[inline]
    pub fn get(self, id: u64) -> f64 {
        if is_evasion_feature(id) {
            self.evasion
        } else {
            self.other
        }
    }
}

/// Trains a model from featurized examples.
pub fn train(
    examples: &[Example],
    options: TrainOptions,
    trained_at: u64,
) -> Result<ModelData, TrainError> {
    let options = options.check()?;
    if examples.is_empty() {
        return Err(TrainError::Empty);
    }
    let spam = examples.iter().filter(|e| e.spam).count() as u64;
    let ham = examples.len() as u64 - spam;
    if spam == 0 || ham == 0 {
        return Err(TrainError::OneClass { spam, ham });
    }

    let columns = columns(examples, options);
    let ids: Vec<u64> = columns.iter().map(|&(id, _)| id).collect();
    let fit_fold = |fold: usize| fit_without(&columns, fold, options);

    // Out-of-fold evidence, per kind of feature and direction, for calibration and thresholds.
    let fold_weights: Vec<Vec<f64>> = (0..CALIBRATION_FOLDS)
        .into_par_iter()
        .map(fit_fold)
        .collect::<Result<_, _>>()?;
    let fold_bias: Vec<f64> = (0..CALIBRATION_FOLDS)
        .map(|fold| log_prior_ratio(examples.iter().filter(|e| fold_of(e.group) != fold)))
        .collect();
    let fold_weight = out_of_fold_weights(&columns, &fold_weights);
    drop(fold_weights);
    let evidence_of = |e: &Example| {
        let fold = fold_of(e.group);
        evidence(e, fold, &fold_weight, fold_bias[fold], options)
    };
    // The calibration, fitted on one thread, needs the evidence of its sample only: the other thread
    // works out everyone else's meanwhile (for the thresholds).
    let sample: Vec<&Example> = Calibration::sample(examples.len())
        .map(|i| &examples[i])
        .collect();
    let sample_evidence: Vec<Evidence> = sample.par_iter().map(|e| evidence_of(e)).collect();
    let sample_spam: Vec<bool> = sample.iter().map(|e| e.spam).collect();
    // The model itself, on everything, is fitted on that thread too, once it is done.
    let (calibration, (oof, weights)) = rayon::join(
        || Calibration::fit(&sample_evidence, &sample_spam),
        || {
            let step = Calibration::sample_step(examples.len());
            let oof: Vec<Evidence> = examples
                .par_iter()
                .enumerate()
                .map(|(i, e)| match i % step {
                    0 => sample_evidence[i / step],
                    _ => evidence_of(e),
                })
                .collect();
            (oof, fit_fold(usize::MAX))
        },
    );
    let calibration = calibration.map_err(TrainError::Fit)?;
    let weights: Vec<f32> = weights?.iter().map(|&w| w as f32).collect();
    drop(fold_weight);
    let spam_of = examples.iter().map(|e| e.spam);
    let logits: Vec<(f64, bool)> = oof
        .iter()
        .map(|sums| calibration.logit(sums))
        .zip(spam_of)
        .collect();
    let thresholds = Thresholds::choose(&logits, options.targets);

    Ok(ModelData {
        info: ModelInfo {
            trained_at,
            spam_comments: spam,
            ham_comments: ham,
            alpha: options.alpha,
            min_count: options.min_count,
            feature_version: FEATURE_VERSION,
        },
        bias: log_prior_ratio(examples.iter()),
        length_power: options.length_power,
        calibration,
        thresholds,
        ids,
        weights,
    })
}

/// One column per feature kept (counted in enough comments), in id order.
fn columns(examples: &[Example], options: TrainOptions) -> Vec<(u64, FoldCounts)> {
    let mut columns = count_features(examples, options.length_power);
    columns.retain(|(id, c)| c.without(usize::MAX).0 >= min_count_of(*id, options.min_count));
    columns.par_sort_unstable_by_key(|&(id, _)| id);
    columns
}

/// The naive Bayes fitted without calibration fold `fold` (on everything for `usize::MAX`): a weight
/// per column.
fn fit_without(
    columns: &[(u64, FoldCounts)],
    fold: usize,
    options: TrainOptions,
) -> Result<Vec<f64>, TrainError> {
    let kept: Vec<(u32, [f64; 2])> = columns.iter().map(|(_, c)| c.without(fold)).collect();
    fit_multinomial_nb(&kept, options.alpha, options.min_count)
}

/// Each feature's weight in every fold's model (`fold_weights[fold][column]`), found with one lookup.
/// A feature whose comments all sit in one fold is unknown to that fold's model, and no other fold's
/// comment holds it: it can add no out-of-fold evidence, and is left out (a third of the benchmark's
/// features, four fifths of the corpus's).
fn out_of_fold_weights(
    columns: &[(u64, FoldCounts)],
    fold_weights: &[Vec<f64>],
) -> FxHashMap<u64, [f64; CALIBRATION_FOLDS]> {
    columns
        .iter()
        .enumerate()
        .filter(|(_, (_, c))| c.folds_holding() > 1)
        .map(|(i, &(id, _))| (id, std::array::from_fn(|fold| fold_weights[fold][i])))
        .collect()
}

/// Word triples kept in the model must occur in at least this many training comments: most occur once,
/// and one seen once says little that its words and pairs do not (it would only grow the model).
const MIN_TRIPLE_COUNT: u32 = 2;
// Counting skips the triples seen once ([`RepeatedTriples`]): none of them may be kept.
const _: () = assert!(MIN_TRIPLE_COUNT >= 2);

fn is_triple(id: u64) -> bool {
    kind_index(id) == FeatureKind::ThreeWords as usize
}

/// How many training comments must hold a feature for the model to keep it.
fn min_count_of(id: u64, min_count: u32) -> u32 {
    if is_triple(id) {
        min_count.max(MIN_TRIPLE_COUNT)
    } else {
        min_count
    }
}

/// One example's evidence under its fold's weights (`fold_weight` holds every fold's): per kind and
/// direction, the sum of its features' log-odds, the prior log-odds (see [`slot`]), and the share of its
/// features the fold's model does not know.
fn evidence(
    e: &Example,
    fold: usize,
    fold_weight: &FxHashMap<u64, [f64; CALIBRATION_FOLDS]>,
    bias: f64,
    options: TrainOptions,
) -> Evidence {
    let values = FeatureValues::of(&e.ids, options.length_power);
    let mut sums = [0.0f64; SLOTS];
    sums[slot(0, bias)] = bias;
    let mut known = 0;
    for &id in &e.ids {
        if let Some(weights) = fold_weight.get(&id) {
            // A feature only other folds hold is unknown to this fold's model (weight 0).
            let w = weights[fold];
            if w != 0.0 {
                known += 1;
                sums[slot(kind_index(id), w)] += w * values.get(id);
            }
        }
    }
    sums[NOVELTY] = novelty(known, e.ids.len());
    sums.map(|s| s as f32)
}

/// Per-feature counts, gathered on every core.
fn count_features(examples: &[Example], power: f64) -> Vec<(u64, FoldCounts)> {
    count_features_in_blocks(examples, power, COUNT_BLOCK)
}

/// Examples whose ids are sorted into shards at a time (their sightings take about 1.6 MiB on the
/// benchmark's comments: 49 each, 16 bytes a sighting).
const COUNT_BLOCK: usize = 2048;

/// [`count_features`], `block` examples at a time.
///
/// The ids are split into shards by their low bits (hash bits), each shard counted into a map of its
/// own: no maps need merging, and a shard's map (about a 32nd of the features) stays in its core's
/// cache, where one map for everything would miss it on most updates. Each block of examples is first
/// sorted into per-shard lists (every core taking a part of the block), then every shard counts its
/// lists in input order: the sums come out the same whatever the number of threads.
fn count_features_in_blocks(
    examples: &[Example],
    power: f64,
    block: usize,
) -> Vec<(u64, FoldCounts)> {
    const SHARDS: usize = 32;
    const PARTS: usize = 4;
    /// One feature of one comment: its id, its value and the comment's fold and class.
    #[derive(Clone, Copy)]
    struct Sighting {
        id: u64,
        value: f32,
        fold: u8,
        class: u8,
    }
    let repeated = RepeatedTriples::find(examples);
    let mut maps: Vec<FxHashMap<u64, FoldCounts>> = vec![FxHashMap::default(); SHARDS];
    let mut parts: Vec<Vec<Vec<Sighting>>> = vec![vec![Vec::new(); SHARDS]; PARTS];
    for block in examples.chunks(block.max(1)) {
        let part_len = block.len().div_ceil(PARTS);
        parts.par_iter_mut().enumerate().for_each(|(p, lists)| {
            lists.iter_mut().for_each(Vec::clear);
            let part = block.iter().skip(p * part_len).take(part_len);
            for e in part {
                let values = FeatureValues::of(&e.ids, power);
                let (fold, class) = (fold_of(e.group) as u8, u8::from(e.spam));
                for &id in e.ids.iter().filter(|&&id| repeated.may_hold(id)) {
                    lists[(id % SHARDS as u64) as usize].push(Sighting {
                        id,
                        value: values.get(id) as f32,
                        fold,
                        class,
                    });
                }
            }
        });
        maps.par_iter_mut().enumerate().for_each(|(shard, map)| {
            for lists in &parts {
                for s in &lists[shard] {
                    let c = map.entry(s.id).or_default();
                    c.comments[usize::from(s.fold)] += 1;
                    c.sums[usize::from(s.fold)][usize::from(s.class)] += s.value;
                }
            }
        });
    }
    maps.into_iter().flatten().collect()
}

/// The word triples that may occur in two comments or more: a bit per hash, set on a triple's second
/// sighting. Most triples occur once (two thirds of the distinct ids of the benchmark's 200,000
/// comments) and a triple kept must occur twice ([`MIN_TRIPLE_COUNT`]): counting only those that may
/// keeps the count maps a third the size. A triple seen once whose bit another set is counted, and
/// dropped with the other rare features, so the counts and the model come out exactly the same.
struct RepeatedTriples {
    twice: Vec<u64>,
    mask: u64,
}

impl RepeatedTriples {
    fn find(examples: &[Example]) -> Self {
        use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
        let ids: usize = examples.iter().map(|e| e.ids.len()).sum();
        let bits = ids.next_power_of_two().max(1 << 12);
        let words = || {
            (0..bits / 64)
                .map(|_| AtomicU64::new(0))
                .collect::<Vec<_>>()
        };
        let (seen, twice) = (words(), words());
        let mask = bits as u64 - 1;
        examples.par_iter().for_each(|e| {
            for &id in e.ids.iter().filter(|&&id| is_triple(id)) {
                let (word, bit) = Self::place(id, mask);
                if seen[word].fetch_or(bit, Relaxed) & bit != 0 {
                    twice[word].fetch_or(bit, Relaxed);
                }
            }
        });
        RepeatedTriples {
            twice: twice.into_iter().map(AtomicU64::into_inner).collect(),
            mask,
        }
    }

    #[inline]
    fn place(id: u64, mask: u64) -> (usize, u64) {
        let bit = id & mask;
        ((bit / 64) as usize, 1 << (bit % 64))
    }

    /// Whether `id` is worth counting: not a triple, or a triple that may occur twice.
    #[inline]
    fn may_hold(&self, id: u64) -> bool {
        if !is_triple(id) {
            return true;
        }
        let (word, bit) = Self::place(id, self.mask);
        self.twice[word] & bit != 0
    }
}

/// `log P(spam) − log P(ham)` from the class counts: the prior naive Bayes fits on one row per comment.
/// (Fitted on one row per class, linfa-bayes sees a uniform prior, so saring supplies it.)
fn log_prior_ratio<'a>(examples: impl Iterator<Item = &'a Example>) -> f64 {
    let (mut spam, mut ham) = (0u64, 0u64);
    for e in examples {
        if e.spam {
            spam += 1;
        } else {
            ham += 1;
        }
    }
    ((spam.max(1)) as f64).ln() - ((ham.max(1)) as f64).ln()
}

/// Fits linfa-bayes' `MultinomialNb` on the per-class sums (`(comments, [ham, spam])` per column),
/// using only the columns seen in at least `min_count` comments, and returns one log-odds weight per
/// column: `log P(f | spam) − log P(f | ham)`, 0 for columns left out.
fn fit_multinomial_nb(
    columns: &[(u32, [f64; 2])],
    alpha: f64,
    min_count: u32,
) -> Result<Vec<f64>, TrainError> {
    let used: Vec<usize> = (0..columns.len())
        .filter(|&i| columns[i].0 >= min_count.max(1))
        .collect();
    let mut records = Array2::<f64>::zeros((2, used.len()));
    for (col, &i) in used.iter().enumerate() {
        records[[0, col]] = columns[i].1[0];
        records[[1, col]] = columns[i].1[1];
    }
    let targets = Array1::from(vec![0usize, 1]);
    let nb = MultinomialNb::params()
        .alpha(alpha)
        .fit(&Dataset::new(records, targets))
        .map_err(|e| TrainError::Fit(e.to_string()))?;
    let params = NbParameters::of(&nb)?;
    let (ham, spam) = (params.class(0)?, params.class(1)?);
    let mut weights = vec![0.0; columns.len()];
    for (col, &i) in used.iter().enumerate() {
        weights[i] = spam.feature_log_prob[col] - ham.feature_log_prob[col];
    }
    Ok(weights)
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
    #[allow(dead_code)]
    prior: f64,
    #[allow(dead_code)]
    feature_count: Array1<f64>,
    pub(crate) feature_log_prob: Array1<f64>,
}

impl NbParameters {
    pub(crate) fn of(nb: &MultinomialNb<f64, usize>) -> Result<Self, TrainError> {
        let bytes = postcard::to_stdvec(nb).map_err(|e| TrainError::Fit(e.to_string()))?;
        postcard::from_bytes(&bytes)
            .map_err(|e| TrainError::Fit(format!("reading the fitted model: {e}")))
    }

    pub(crate) fn class(&self, label: usize) -> Result<&ClassParameters, TrainError> {
        self.class_info
            .get(&label)
            .ok_or_else(|| TrainError::Fit(format!("the fitted model has no class {label}")))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::calibrate::sigmoid;
    use crate::engine::SpamModel;
    use approx::assert_relative_eq;
    use linfa_bayes::NaiveBayes;

    pub(crate) fn tiny_corpus() -> Vec<Comment> {
        include_str!("../../tests/fixtures/tiny-corpus.jsonl")
            .lines()
            .map(|l| serde_json::from_str(l).expect("fixture line is a comment"))
            .collect()
    }

    /// Counting skips word triples seen once, and only those: what it keeps equals a plain count, the
    /// same sums in the same order, however the examples are cut into blocks.
    #[test]
    fn counting_skips_only_triples_seen_once() {
        let comments = tiny_corpus();
        // Some comments twice, so that some triples occur in two comments.
        let mut examples = featurize(&comments);
        examples.extend(featurize(&comments[..10]));
        let power = TrainOptions::default().length_power;
        let kept = |mut counts: Vec<(u64, FoldCounts)>| {
            counts.retain(|(id, c)| c.without(usize::MAX).0 >= min_count_of(*id, 1));
            counts.sort_unstable_by_key(|&(id, _)| id);
            counts
        };
        let mut plain = FxHashMap::<u64, FoldCounts>::default();
        for e in &examples {
            let value = FeatureValues::of(&e.ids, power);
            for &id in &e.ids {
                let c = plain.entry(id).or_default();
                c.comments[fold_of(e.group)] += 1;
                c.sums[fold_of(e.group)][usize::from(e.spam)] += value.get(id) as f32;
            }
        }
        let triple = |id: &u64| is_triple(*id);
        let singles: Vec<u64> = plain
            .iter()
            .filter(|(id, c)| triple(id) && c.without(usize::MAX).0 == 1)
            .map(|(&id, _)| id)
            .collect();
        let plain = kept(plain.into_iter().collect());
        assert!(
            plain.iter().any(|(id, _)| triple(id)),
            "no triple occurs twice"
        );
        // In one block, and in blocks smaller than the corpus and than its parts (some parts empty).
        for block in [COUNT_BLOCK, 7, 3, 1] {
            assert!(block > examples.len() || examples.len() > 4 * 7);
            let counted = kept(count_features_in_blocks(&examples, power, block));
            assert_eq!(counted, plain, "blocks of {block}");
        }
        // ... and the filter did skip triples seen once.
        let repeated = RepeatedTriples::find(&examples);
        let skipped = singles.iter().filter(|&&id| !repeated.may_hold(id)).count();
        assert!(
            skipped > singles.len() / 2,
            "{skipped} of {}",
            singles.len()
        );
    }

    #[test]
    fn features_of_one_fold_are_left_out_without_changing_any_evidence() {
        let examples = featurize(&tiny_corpus());
        let options = TrainOptions::default();
        let columns = columns(&examples, options);
        let fold_weights: Vec<Vec<f64>> = (0..CALIBRATION_FOLDS)
            .map(|fold| fit_without(&columns, fold, options).expect("fits"))
            .collect();
        let kept = out_of_fold_weights(&columns, &fold_weights);
        let all: FxHashMap<u64, [f64; CALIBRATION_FOLDS]> = columns
            .iter()
            .enumerate()
            .map(|(i, &(id, _))| (id, std::array::from_fn(|fold| fold_weights[fold][i])))
            .collect();
        assert!(
            kept.len() < all.len() / 2,
            "{} of {}",
            kept.len(),
            all.len()
        );
        let mut known = 0;
        for e in &examples {
            let fold = fold_of(e.group);
            let sums = evidence(e, fold, &all, 0.0, options);
            assert_eq!(evidence(e, fold, &kept, 0.0, options), sums);
            known += usize::from(sums[NOVELTY] < 1.0);
        }
        assert!(known > examples.len() / 2, "{known} of {}", examples.len());
    }

    /// The textbook way: one dense row per comment, fitted and scored by linfa-bayes itself.
    #[test]
    fn sparse_scorer_agrees_with_linfa_predict_proba() {
        let comments = tiny_corpus();
        let unseen: Vec<Comment> = comments.iter().step_by(4).cloned().collect();
        let training: Vec<Comment> = comments
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 4 != 0)
            .map(|(_, c)| c.clone())
            .collect();
        let examples = featurize(&training);
        let options = TrainOptions::default();
        let trained = train(&examples, options, 0).expect("trains");
        // Plain naive Bayes, as linfa-bayes computes it: every kind of evidence counting once.
        let model = SpamModel::from_data(ModelData {
            calibration: Calibration::identity(),
            ..trained
        });

        let data = model.data();
        let column: FxHashMap<u64, usize> = data
            .ids
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, i))
            .collect();
        let dense = |ids: &[u64]| -> Vec<f64> {
            let mut row = vec![0.0; column.len()];
            let values = FeatureValues::of(ids, options.length_power);
            for &id in ids {
                if let Some(&c) = column.get(&id) {
                    row[c] = values.get(id);
                }
            }
            row
        };
        let mut records = Array2::<f64>::zeros((examples.len(), column.len()));
        for (i, e) in examples.iter().enumerate() {
            records.row_mut(i).assign(&Array1::from(dense(&e.ids)));
        }
        let targets = Array1::from(
            examples
                .iter()
                .map(|e| usize::from(e.spam))
                .collect::<Vec<_>>(),
        );
        let nb = MultinomialNb::params()
            .alpha(options.alpha)
            .fit(&Dataset::new(records, targets))
            .expect("linfa fits");

        let scored = featurize(&comments);
        assert_eq!(scored.len(), 40);
        let mut x = Array2::<f64>::zeros((scored.len(), column.len()));
        for (i, e) in scored.iter().enumerate() {
            x.row_mut(i).assign(&Array1::from(dense(&e.ids)));
        }
        let (proba, classes) = nb.predict_proba(x.view());
        assert_eq!(classes, vec![&0, &1]);
        for (i, e) in scored.iter().enumerate() {
            let ours = sigmoid(model.logit(&e.ids));
            assert_relative_eq!(ours, proba[[i, 1]], epsilon = 1e-5, max_relative = 1e-4);
        }
        // The comparison is not vacuous: the model separates the two classes it was not trained on.
        let unseen_scores: Vec<(f64, bool)> = featurize(&unseen)
            .iter()
            .map(|e| (model.logit(&e.ids), e.spam))
            .collect();
        assert!(unseen_scores.iter().any(|s| s.1) && unseen_scores.iter().any(|s| !s.1));
    }

    #[test]
    fn training_is_deterministic() {
        let examples = featurize(&tiny_corpus());
        let a = train(&examples, TrainOptions::default(), 7).expect("trains");
        let b = train(&examples, TrainOptions::default(), 7).expect("trains");
        assert_eq!(a, b);
    }

    #[test]
    fn one_class_or_nothing_is_refused() {
        let spam_only: Vec<Example> = featurize(&tiny_corpus())
            .into_iter()
            .filter(|e| e.spam)
            .collect();
        assert!(matches!(
            train(&spam_only, TrainOptions::default(), 0),
            Err(TrainError::OneClass { ham: 0, .. })
        ));
        assert!(matches!(
            train(&[], TrainOptions::default(), 0),
            Err(TrainError::Empty)
        ));
        let bad = TrainOptions {
            alpha: 0.0,
            ..TrainOptions::default()
        };
        assert!(matches!(
            train(&featurize(&tiny_corpus()), bad, 0),
            Err(TrainError::Options(_))
        ));
    }

    #[test]
    fn thresholds_are_ordered_and_the_model_ranks_spam_first() {
        let examples = featurize(&tiny_corpus());
        let model =
            SpamModel::from_data(train(&examples, TrainOptions::default(), 0).expect("trains"));
        let t = model.thresholds();
        assert!(t.unsure <= t.spam && t.spam < t.discard);
        let scored: Vec<(f64, bool)> = examples
            .iter()
            .map(|e| (model.score_ids(&e.ids).logit, e.spam))
            .collect();
        let auc = crate::engine::metrics::roc_auc(&scored).unwrap_or(0.0);
        assert!(auc > 0.95, "training AUC {auc}");
    }

    #[test]
    fn options_out_of_range_are_refused_before_training() {
        let with = |length_power| {
            TrainOptions {
                length_power,
                ..TrainOptions::default()
            }
            .check()
        };
        for bad in [f64::INFINITY, f64::NAN, -0.5, 2.5] {
            assert!(with(bad).is_err(), "{bad}");
        }
        for good in [0.0, 0.75, 2.0] {
            assert!(with(good).is_ok(), "{good}");
        }
    }
}
