//! The trained spam model: sparse naive Bayes weights, calibration and verdict thresholds.
//!
//! For two classes, naive Bayes' log-odds of a comment are the sum, over its features, of
//! `log P(f | spam) − log P(f | ham)`, plus the log prior ratio. The model keeps that one weight per
//! feature in a table keyed by feature id ([`WeightTable`]), so a score costs time proportional to the
//! comment's features, not to the vocabulary. The weights come from linfa-bayes' `MultinomialNb` (see
//! [`crate::engine::train`]); features the model never saw are ignored, exactly as a dense row would
//! leave them at zero.
//! Calibration ([`Calibration`]) says how much each kind of feature counts in each direction, how much
//! the prior and novelty count; each weight is multiplied by its scale when the model loads, so the
//! score is still one sum (plus novelty, counted in the same pass).

use serde::{Deserialize, Serialize};

use super::calibrate::{novelty, sigmoid, slot, Calibration, Thresholds, NOVELTY};
use super::comment::CommentRef;
use super::features::{
    is_evasion_feature, kind_index, Feature, FeatureExtractor, FeatureKind, FeatureSink,
};
use super::tokenize::Tokens;
use super::train::FeatureValues;
use super::weights::WeightTable;

/// Bumped whenever feature extraction changes: a model is only valid with the features it was trained on.
pub const FEATURE_VERSION: u32 = 4;

/// The three answers a blog needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ham,
    /// Hold for moderation.
    Unsure,
    Spam,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ham => "ham",
            Verdict::Unsure => "unsure",
            Verdict::Spam => "spam",
        }
    }
}

/// A comment's score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Score {
    /// Calibrated probability that the comment is spam, in [0, 1].
    pub score: f64,
    /// The same on the logit scale (does not saturate; use it for ranking).
    pub logit: f64,
    pub verdict: Verdict,
    /// Blatant spam: safe to drop without showing a moderator.
    pub discard: bool,
}

/// One feature's part in a score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// What it is, in words.
    pub reason: String,
    /// What it added to this comment's logit (its naive Bayes weight, scaled for its kind by
    /// calibration, times its value in the comment): positive pushes towards spam.
    pub weight: f64,
    pub feature: Feature,
    #[serde(skip)]
    pub id: u64,
}

/// Facts about how a model was trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Seconds since the Unix epoch.
    pub trained_at: u64,
    pub spam_comments: u64,
    pub ham_comments: u64,
    pub alpha: f64,
    pub min_count: u32,
    pub feature_version: u32,
}

/// What a model file holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelData {
    pub info: ModelInfo,
    /// Log prior ratio of the fitted naive Bayes (spam over ham).
    pub bias: f64,
    /// Each feature of a comment with `n` features counts `n^-length_power` (signs of evasion
    /// `n^-length_power/2`, see [`crate::engine::train::FeatureValues`]).
    pub length_power: f64,
    /// How much each kind of evidence (by direction), the prior and novelty count (see [`Calibration`]).
    pub calibration: Calibration,
    pub thresholds: Thresholds,
    /// Feature ids, ascending, and their naive Bayes weights `log P(f | spam) − log P(f | ham)`.
    pub ids: Vec<u64>,
    pub weights: Vec<f32>,
}

/// A model ready to score.
#[derive(Debug, Clone)]
pub struct SpamModel {
    data: ModelData,
    /// Each feature's weight times its scale (by kind and direction): its part in the logit per unit
    /// of value.
    weights: WeightTable,
    /// The scaled prior plus the intercept.
    offset: f64,
    /// What the share of a comment's features the model does not know adds to the logit, at most.
    novelty: f64,
    /// The values of features in a comment with `n` distinct features, for `n` up to [`VALUES_KEPT`]
    /// (worked out once rather than with two powers per comment).
    values: Vec<FeatureValues>,
    id: String,
}

/// Comments with more distinct features than this (rare) get their feature values worked out anew.
const VALUES_KEPT: usize = 1024;

impl SpamModel {
    pub fn from_data(data: ModelData) -> Self {
        let c = &data.calibration;
        let weights = WeightTable::new(data.ids.iter().zip(&data.weights).map(|(&id, &w)| {
            (
                id,
                (f64::from(w) * c.scale(slot(kind_index(id), f64::from(w)))) as f32,
            )
        }));
        let offset = data.bias * c.scale(slot(0, data.bias)) + c.intercept;
        let novelty = c.scale(NOVELTY);
        let values = (0..=VALUES_KEPT)
            .map(|n| FeatureValues::for_count(n, data.length_power))
            .collect();
        let id = model_id(&data);
        SpamModel {
            data,
            weights,
            offset,
            novelty,
            values,
            id,
        }
    }

    /// The values of the features of a comment with `n` distinct features.
    #[inline]
    fn values(&self, n: usize) -> FeatureValues {
        match self.values.get(n) {
            Some(&values) => values,
            None => FeatureValues::for_count(n, self.data.length_power),
        }
    }

    pub fn data(&self) -> &ModelData {
        &self.data
    }

    pub fn info(&self) -> &ModelInfo {
        &self.data.info
    }

    pub fn thresholds(&self) -> Thresholds {
        self.data.thresholds
    }

    /// A short id derived from the weights and settings (not the training time): same training, same id.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn vocabulary_size(&self) -> usize {
        self.weights.len()
    }

    /// The weight of one feature (its part in the logit per unit of value), if the model knows it.
    #[inline]
    pub fn weight(&self, id: u64) -> Option<f32> {
        self.weights.get(id)
    }

    /// The calibrated logit of spam for a comment's (deduplicated) feature ids: naive Bayes log-odds,
    /// each kind of evidence weighed as calibration learned, and what the share of features the model
    /// has never seen says (plain naive Bayes log-odds under [`Calibration::identity`]).
    #[inline]
    pub fn logit(&self, ids: &[u64]) -> f64 {
        let values = self.values(ids.len());
        let mut known = 0;
        let sum: f64 = ids
            .iter()
            .filter_map(|&id| {
                let w = self.weights.get(id)?;
                known += 1;
                Some(f64::from(w) * values.get(id))
            })
            .sum();
        sum + self.offset + self.novelty * novelty(known, ids.len())
    }

    /// The score of a comment's features.
    #[inline]
    pub fn score_ids(&self, ids: &[u64]) -> Score {
        self.score_logit(self.logit(ids))
    }

    fn score_logit(&self, logit: f64) -> Score {
        let t = &self.data.thresholds;
        let verdict = if logit >= t.spam {
            Verdict::Spam
        } else if logit >= t.unsure {
            Verdict::Unsure
        } else {
            Verdict::Ham
        };
        Score {
            score: sigmoid(logit),
            logit,
            verdict,
            discard: logit >= t.discard,
        }
    }

    /// Scores one comment, reusing the extractor's buffers.
    pub fn score<'c>(
        &self,
        comment: impl Into<CommentRef<'c>>,
        extractor: &mut FeatureExtractor,
        ids: &mut Vec<u64>,
    ) -> Score {
        // Each feature's weight is fetched as the feature is found, so that summing them finds them
        // in cache (a model's weights are more than a core's cache holds).
        extractor.ids_watched(comment, ids, &mut Prefetch(&self.weights));
        self.score_ids(ids)
    }

    /// Scores one comment and says why: the `top` features that pushed hardest towards its verdict
    /// (towards spam for a spam-leaning score, towards ham otherwise).
    pub fn explain<'c>(
        &self,
        comment: impl Into<CommentRef<'c>>,
        extractor: &mut FeatureExtractor,
        top: usize,
    ) -> (Score, Vec<Reason>) {
        self.explain_into(comment, extractor, &mut Vec::new(), top)
    }

    /// As [`Self::explain`], reusing `ids` for the comment's feature ids. One pass over the features:
    /// while they are extracted, the heaviest of each direction are kept (only those are described),
    /// so explaining costs little more than scoring.
    pub fn explain_into<'c>(
        &self,
        comment: impl Into<CommentRef<'c>>,
        extractor: &mut FeatureExtractor,
        ids: &mut Vec<u64>,
        top: usize,
    ) -> (Score, Vec<Reason>) {
        let comment = comment.into();
        if top == 0 {
            return (self.score(comment, extractor, ids), Vec::new());
        }
        let mut heaviest = Heaviest::new(self, top);
        extractor.ids_watched(comment, ids, &mut heaviest);
        heaviest.offer_pending();
        let score = self.score_ids(ids);
        let towards_spam = score.logit >= 0.0;
        let values = self.values(ids.len());
        let [ham, ham_evasion, spam, spam_evasion] = heaviest.kept;
        let (kept, kept_evasion) = if towards_spam {
            (spam, spam_evasion)
        } else {
            (ham, ham_evasion)
        };
        let mut weighted: Vec<(u64, f64, Candidate)> = kept
            .into_iter()
            .chain(kept_evasion)
            .map(|(id, w, candidate)| (id, f64::from(w) * values.get(id), candidate))
            .collect();
        weighted.sort_by(|a, b| heavier(a.1, a.0, b.1, b.0));
        weighted.truncate(top);
        let reasons = weighted
            .into_iter()
            .map(|(id, weight, candidate)| {
                let feature = match candidate {
                    Candidate::Described(feature) => feature,
                    Candidate::Words { kind, first, count } => {
                        extractor.words_at(kind, first, count)
                    }
                };
                Reason {
                    reason: feature.describe(),
                    weight,
                    feature,
                    id,
                }
            })
            .collect();
        (score, reasons)
    }

    /// The `top` features of an already scored comment that pushed hardest towards its verdict
    /// (towards spam for a spam-leaning score, towards ham otherwise). Only those are described.
    pub fn reasons<'c>(
        &self,
        comment: impl Into<CommentRef<'c>>,
        extractor: &mut FeatureExtractor,
        ids: &[u64],
        score: Score,
        top: usize,
    ) -> Vec<Reason> {
        if top == 0 {
            return Vec::new();
        }
        let towards_spam = score.logit >= 0.0;
        let values = self.values(ids.len());
        let mut weighted: Vec<(u64, f64)> = ids
            .iter()
            .filter_map(|&id| Some((id, f64::from(self.weight(id)?) * values.get(id))))
            .filter(|&(_, w)| if towards_spam { w > 0.0 } else { w < 0.0 })
            .collect();
        weighted.sort_by(|a, b| heavier(a.1, a.0, b.1, b.0));
        weighted.truncate(top);
        let mut picked = Picked {
            wanted: &weighted,
            found: Vec::with_capacity(weighted.len()),
        };
        extractor.extract(comment, &mut picked);
        let mut reasons = picked.found;
        reasons.sort_by(|a, b| heavier(a.weight, a.id, b.weight, b.id));
        reasons
    }
}

/// The order of reasons: the larger part in the score first, then the smaller id (weights tie often:
/// features seen equally often share theirs).
fn heavier(a: f64, a_id: u64, b: f64, b_id: u64) -> std::cmp::Ordering {
    b.abs().total_cmp(&a.abs()).then(a_id.cmp(&b_id))
}

/// A sink that keeps, as features go by, the `top` heaviest of each direction (towards spam or ham)
/// and kind (signs of evasion count differently, see [`crate::engine::train::FeatureValues`]), so
/// the `top` reasons are among them whichever way the score ends up. Only those kept are described.
struct Heaviest<'a> {
    model: &'a SpamModel,
    top: usize,
    /// Indexed by 2 × (towards spam) + (sign of evasion): (id, weight, description).
    kept: [Vec<(u64, f32, Candidate)>; 4],
    /// For each full list of `kept`: where its lightest entry is (the one the next heavier goes to).
    lightest: [usize; 4],
    /// Features of the comment's words (the words, their parts, pairs and triples) not yet offered,
    /// oldest first: each is offered [`PENDING`] features after it was found, once its weight, asked
    /// of memory then, has come (a model's weights are more than a core's cache holds). The heaviest
    /// kept are the same in any order.
    pending: [(u64, FeatureKind, usize, usize); PENDING],
    pending_len: usize,
    pending_next: usize,
}

/// How many features of words wait for their weights (see [`Heaviest::pending`]).
const PENDING: usize = 8;

impl<'a> Heaviest<'a> {
    fn new(model: &'a SpamModel, top: usize) -> Self {
        Heaviest {
            model,
            top,
            kept: Default::default(),
            lightest: [0; 4],
            pending: [(0, FeatureKind::Phrase, 0, 0); PENDING],
            pending_len: 0,
            pending_next: 0,
        }
    }

    /// Offers the features of words still waiting.
    fn offer_pending(&mut self) {
        let first = (self.pending_next + PENDING - self.pending_len) % PENDING;
        for k in 0..self.pending_len {
            self.offer_words(self.pending[(first + k) % PENDING]);
        }
        self.pending_len = 0;
    }

    /// Offers a feature of words: `(id, kind, first, count)` as [`FeatureSink::add_words`] takes them.
    fn offer_words(&mut self, (id, kind, first, count): (u64, FeatureKind, usize, usize)) {
        self.offer(id, || Candidate::Words { kind, first, count });
    }
}

/// A kept feature: described, or where its words are (features of the comment's words, most of what
/// is kept and let go again, are described only if they end up among the reasons).
enum Candidate {
    Described(Feature),
    Words {
        kind: FeatureKind,
        first: usize,
        count: usize,
    },
}

/// Where the lightest of `kept` is (by [`heavier`]).
fn lightest_of(kept: &[(u64, f32, Candidate)]) -> usize {
    kept.iter()
        .enumerate()
        .max_by(|(_, a), (_, b)| heavier(f64::from(a.1), a.0, f64::from(b.1), b.0))
        .map_or(0, |(i, _)| i)
}

impl Heaviest<'_> {
    /// Keeps the feature if it is among the heaviest so far of its list.
    fn offer(&mut self, id: u64, candidate: impl FnOnce() -> Candidate) {
        let Some(w) = self.model.weight(id) else {
            return;
        };
        if w == 0.0 {
            return;
        }
        let list = 2 * usize::from(w > 0.0) + usize::from(is_evasion_feature(id));
        let kept = &mut self.kept[list];
        if kept.len() < self.top {
            if !kept.iter().any(|k| k.0 == id) {
                kept.push((id, w, candidate()));
                if kept.len() == self.top {
                    self.lightest[list] = lightest_of(kept);
                }
            }
            return;
        }
        // Full: most features are lighter than the lightest kept, and are turned away here.
        let slot = self.lightest[list];
        let (lightest_id, lightest_w) = (kept[slot].0, kept[slot].1);
        if heavier(f64::from(w), id, f64::from(lightest_w), lightest_id).is_lt()
            && !kept.iter().any(|k| k.0 == id)
        {
            kept[slot] = (id, w, candidate());
            self.lightest[list] = lightest_of(kept);
        }
    }
}

impl FeatureSink for Heaviest<'_> {
    fn add(&mut self, id: u64, describe: impl FnOnce() -> Feature) {
        self.offer(id, || Candidate::Described(describe()));
    }

    fn add_words(&mut self, id: u64, kind: FeatureKind, _: &Tokens, first: usize, count: usize) {
        self.model.weights.prefetch(id);
        let slot = self.pending_next;
        if self.pending_len == PENDING {
            self.offer_words(self.pending[slot]);
        } else {
            self.pending_len += 1;
        }
        self.pending[slot] = (id, kind, first, count);
        self.pending_next = (slot + 1) % PENDING;
    }
}

/// A sink that fetches features' weights into cache ahead of their use.
struct Prefetch<'a>(&'a WeightTable);

impl FeatureSink for Prefetch<'_> {
    #[inline]
    fn add(&mut self, id: u64, _describe: impl FnOnce() -> Feature) {
        self.0.prefetch(id);
    }
}

/// A sink that describes only the features it is asked about.
struct Picked<'a> {
    wanted: &'a [(u64, f64)],
    found: Vec<Reason>,
}

impl FeatureSink for Picked<'_> {
    fn add(&mut self, id: u64, describe: impl FnOnce() -> Feature) {
        if let Some(&(_, weight)) = self.wanted.iter().find(|(w, _)| *w == id) {
            if !self.found.iter().any(|r| r.id == id) {
                let feature = describe();
                self.found.push(Reason {
                    reason: feature.describe(),
                    weight,
                    feature,
                    id,
                });
            }
        }
    }
}

fn model_id(data: &ModelData) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for (id, w) in data.ids.iter().zip(&data.weights) {
        h.update(&id.to_le_bytes());
        h.update(&w.to_le_bytes());
    }
    h.update(&data.bias.to_le_bytes());
    for scale in &data.calibration.scales {
        h.update(&scale.to_le_bytes());
    }
    h.update(&data.calibration.intercept.to_le_bytes());
    format!("nb-{:012x}", h.digest() >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::comment::Comment;
    use crate::engine::train::tests::tiny_corpus;
    use crate::engine::train::FeatureValues;
    use crate::engine::{featurize, train, TrainOptions};

    fn model() -> SpamModel {
        let examples = featurize(&tiny_corpus());
        SpamModel::from_data(train(&examples, TrainOptions::default(), 0).expect("trains"))
    }

    /// The reasons found the slow way: every feature described, weighed, the heaviest that pushed
    /// towards the verdict first.
    fn brute_force(model: &SpamModel, comment: &Comment, top: usize) -> Vec<(u64, f64)> {
        let mut ex = FeatureExtractor::new();
        let described = ex.described(comment);
        let ids: Vec<u64> = described.iter().map(|(id, _)| *id).collect();
        let logit = model.score_ids(&ids).logit;
        let values = FeatureValues::of(&ids, model.data().length_power);
        let mut all: Vec<(u64, f64)> = ids
            .iter()
            .filter_map(|&id| Some((id, f64::from(model.weight(id)?) * values.get(id))))
            .filter(|&(_, w)| if logit >= 0.0 { w > 0.0 } else { w < 0.0 })
            .collect();
        all.sort_by(|a, b| heavier(a.1, a.0, b.1, b.0));
        all.truncate(top);
        all
    }

    #[test]
    fn one_pass_reasons_are_the_heaviest_features_towards_the_verdict() {
        let model = model();
        let mut ex = FeatureExtractor::new();
        let mut ids = Vec::new();
        let (mut spam_leaning, mut ham_leaning) = (0, 0);
        for comment in tiny_corpus() {
            for top in [1, 3, 5, 40] {
                let (score, reasons) = model.explain_into(&comment, &mut ex, &mut ids, top);
                assert_eq!(score, model.score(&comment, &mut ex, &mut Vec::new()));
                let got: Vec<(u64, f64)> = reasons.iter().map(|r| (r.id, r.weight)).collect();
                assert_eq!(
                    got,
                    brute_force(&model, &comment, top),
                    "{}",
                    comment.content
                );
                for r in &reasons {
                    assert_eq!(r.reason, r.feature.describe());
                }
                // The two-pass explanation of an already scored comment says the same.
                let again = model.reasons(&comment, &mut ex, &ids, score, top);
                assert_eq!(again, reasons);
                if score.logit >= 0.0 {
                    spam_leaning += 1;
                } else {
                    ham_leaning += 1;
                }
            }
        }
        assert!(spam_leaning > 0 && ham_leaning > 0);
    }

    #[test]
    fn no_reasons_asked_none_given() {
        let model = model();
        let comment = &tiny_corpus()[0];
        let (score, reasons) = model.explain(comment, &mut FeatureExtractor::new(), 0);
        assert!(reasons.is_empty());
        assert_eq!(
            score,
            model.score(comment, &mut FeatureExtractor::new(), &mut Vec::new())
        );
    }
}
