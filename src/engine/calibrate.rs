//! Turning naive Bayes evidence into a calibrated probability, and choosing the verdict thresholds.
//!
//! Naive Bayes log-odds rank well but are over-confident, and more so for some kinds of evidence than
//! others: a word, its beginning, its ending and the pairs and triples it is part of all repeat one
//! piece of evidence. So the log-odds a comment's features give are summed per kind of feature and
//! direction (towards spam, towards ham: a blog's ads wrap themselves in praise, so the words that speak
//! for ham need not be worth what the words that speak for spam are), and a logistic regression
//! (linfa-logistic) learns, on out-of-fold sums, what each of those is worth, what the prior is worth,
//! and an intercept. Its L2 penalty keeps them near one common scale unless the data say otherwise (the
//! sum over all slots is a column of its own, and each slot's own coefficient is what the penalty pulls
//! to zero), and no feature's evidence counts backwards. One more input is novelty, the share of the
//! comment's features the model has never seen (spam keeps inventing names, domains and spellings), with
//! a weight of its own. The result is the score's logit: a calibrated probability, with the base rate of
//! spam in the intercept. Thresholds are chosen on the same out-of-fold logits so that ham is rarely
//! called spam.

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{s, Array1, Array2, ShapeBuilder};
use serde::{Deserialize, Serialize};

use super::features::KIND_SLOTS;

/// Evidence is weighed per kind of feature and direction: slot `2·kind + 1` holds what pushes towards
/// spam, slot `2·kind` what pushes towards ham (kind 0: the prior); the last slot, [`NOVELTY`], holds
/// the share of the comment's features the model has never seen.
pub const SLOTS: usize = 2 * KIND_SLOTS + 1;
/// The slot of the share of a comment's features the model does not know (0 to 1).
pub const NOVELTY: usize = SLOTS - 1;

/// The slot of `log_odds` of a feature of kind index `kind` (0 for the prior).
#[inline]
pub fn slot(kind: usize, log_odds: f64) -> usize {
    2 * kind + usize::from(log_odds > 0.0)
}

/// The share of `n` features that a model does not know when it knows `known` of them.
#[inline]
pub fn novelty(known: usize, n: usize) -> f64 {
    if n == 0 {
        0.0
    } else {
        1.0 - known as f64 / n as f64
    }
}

/// The most out-of-fold comments the calibration is fitted on (evenly spaced): a few dozen
/// parameters need no more.
pub const CALIBRATION_SAMPLE: usize = 20_000;
/// The L2 penalty on each slot's departure from the common scale.
const CALIBRATION_L2: f64 = 1.0;

/// The evidence of one comment as calibration sees it: per kind (see
/// [`crate::engine::features::kind_index`]) and direction, the sum of its features' log-odds; the prior
/// log-odds in one of slots 0 and 1.
pub type Evidence = [f32; SLOTS];

/// `logit = intercept + Σ scales[slot] · (log-odds in that slot)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub scales: Vec<f64>,
    pub intercept: f64,
}

impl Calibration {
    /// Plain naive Bayes: all evidence and the prior count once, novelty not at all.
    pub fn identity() -> Self {
        let mut scales = vec![1.0; SLOTS];
        scales[NOVELTY] = 0.0;
        Calibration {
            scales,
            intercept: 0.0,
        }
    }

    /// The scale of a slot (see [`slot`]).
    #[inline]
    pub fn scale(&self, slot: usize) -> f64 {
        self.scales.get(slot).copied().unwrap_or(0.0)
    }

    /// The calibrated logit of one comment's evidence.
    pub fn logit(&self, sums: &Evidence) -> f64 {
        sums.iter()
            .enumerate()
            .map(|(k, &s)| self.scale(k) * f64::from(s))
            .sum::<f64>()
            + self.intercept
    }

    /// Which of `n` comments the calibration is fitted on (by position, evenly spaced): all of them
    /// up to [`CALIBRATION_SAMPLE`]. [`Self::fit`] on just those fits the same calibration.
    pub fn sample(n: usize) -> impl Iterator<Item = usize> {
        (0..n).step_by(Self::sample_step(n))
    }

    /// Every how many of `n` comments one is in the sample ([`Self::sample`]).
    pub fn sample_step(n: usize) -> usize {
        n.div_ceil(CALIBRATION_SAMPLE).max(1)
    }

    /// Fits the calibration on out-of-fold evidence and labels (`true`: spam).
    pub fn fit(sums: &[Evidence], spam: &[bool]) -> Result<Calibration, String> {
        let rows: Vec<usize> = Self::sample(sums.len().min(spam.len())).collect();
        let y = Array1::from_iter(rows.iter().map(|&i| spam[i]));
        if !(y.iter().any(|&s| s) && y.iter().any(|&s| !s)) {
            return Err("calibration needs both spam and ham".into());
        }
        // Columns: every slot with any evidence in the sample, then the sum of all log-odds.
        let used: Vec<usize> = (0..SLOTS)
            .filter(|&k| rows.iter().any(|&i| sums[i][k] != 0.0))
            .collect();
        // Column-major: linfa-logistic's products then read each column, and each of its rows, in order.
        let mut x = Array2::<f64>::zeros((rows.len(), used.len() + 1).f());
        for (r, &i) in rows.iter().enumerate() {
            let mut total = 0.0;
            for (c, &k) in used.iter().enumerate() {
                let v = f64::from(sums[i][k]);
                x[[r, c]] = v;
                if k != NOVELTY {
                    total += v;
                }
            }
            x[[r, used.len()]] = total;
        }
        let failed = |e: linfa_logistic::error::Error| format!("calibration failed: {e}");
        // Started where one common scale for all evidence is best (a fit of the total column alone,
        // cheap), the full fit needs a fraction of the iterations it would from zero.
        let total = x.slice(s![.., used.len()..]).to_owned();
        let common = LogisticRegression::default()
            .alpha(CALIBRATION_L2)
            .fit(&Dataset::new(total, y.clone()))
            .map_err(failed)?;
        let mut start = Array1::<f64>::zeros(used.len() + 2);
        start[used.len()] = common.params()[0];
        start[used.len() + 1] = common.intercept();
        let fitted = LogisticRegression::default()
            .alpha(CALIBRATION_L2)
            .initial_params(start)
            .fit(&Dataset::new(x, y))
            .map_err(failed)?;
        // linfa-logistic's positive class is the larger one: turn its coefficients towards spam.
        let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
        let coef = fitted.params();
        let common = sign * coef[used.len()];
        // Slots without evidence in the sample count at the common scale (novelty: not at all).
        let mut scales = vec![common.max(0.0); SLOTS];
        scales[NOVELTY] = 0.0;
        for (c, &k) in used.iter().enumerate() {
            scales[k] = if k == NOVELTY {
                sign * coef[c]
            } else {
                common + sign * coef[c]
            };
            if (2..NOVELTY).contains(&k) {
                // Evidence of a feature never counts backwards.
                scales[k] = scales[k].max(0.0);
            }
        }
        Ok(Calibration {
            scales,
            intercept: sign * fitted.intercept(),
        })
    }
}

#[inline]
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Where the verdicts change, as logits of the calibrated score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// At or above: `unsure` (hold for moderation).
    pub unsure: f64,
    /// At or above: `spam`.
    pub spam: f64,
    /// At or above: blatant spam, safe to discard unseen.
    pub discard: f64,
}

/// The false-positive rates the thresholds aim for on out-of-fold scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdTargets {
    pub unsure_fpr: f64,
    pub spam_fpr: f64,
}

impl Default for ThresholdTargets {
    fn default() -> Self {
        ThresholdTargets {
            unsure_fpr: 0.03,
            spam_fpr: 0.005,
        }
    }
}

impl Thresholds {
    /// Chooses thresholds from out-of-fold calibrated logits.
    ///
    /// `spam` is the lowest logit that calls at most `spam_fpr` of the ham spam, and never below an even
    /// chance; `unsure` does the same at `unsure_fpr`; `discard` sits above every ham seen.
    pub fn choose(logits: &[(f64, bool)], targets: ThresholdTargets) -> Thresholds {
        let mut ham: Vec<f64> = logits.iter().filter(|s| !s.1).map(|s| s.0).collect();
        ham.sort_by(|a, b| b.total_cmp(a));
        let at_fpr = |fpr: f64| -> f64 {
            if ham.is_empty() {
                return 0.0;
            }
            let allowed = (fpr * ham.len() as f64).floor() as usize;
            // Just above the (allowed+1)-th highest ham.
            next_up(ham[allowed.min(ham.len() - 1)])
        };
        let spam = at_fpr(targets.spam_fpr).max(0.0);
        let unsure = at_fpr(targets.unsure_fpr).min(spam);
        let top_ham = ham.first().copied().unwrap_or(0.0);
        let discard = (top_ham + 1.0).max(spam + 2.0);
        Thresholds {
            unsure,
            spam,
            discard,
        }
    }
}

fn next_up(x: f64) -> f64 {
    x + 1e-9 * x.abs().max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three kinds of evidence: one worth a quarter towards spam and three quarters towards ham, one
    /// worth three quarters both ways, one worth nothing; and novelty that speaks for spam.
    #[test]
    fn calibration_learns_what_each_kind_direction_and_novelty_is_worth_and_the_base_rate() {
        let mut state = 12345u64;
        let mut uniform = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut sums, mut spam) = (Vec::new(), Vec::new());
        for _ in 0..20_000 {
            let mut s = [0.0f32; SLOTS];
            let [a, b, c] = [(); 3].map(|_| uniform() * 8.0 - 4.0);
            for (kind, v) in [(1, a), (2, b), (3, c)] {
                s[slot(kind, v)] = v as f32;
            }
            let unknown = uniform();
            s[NOVELTY] = unknown as f32;
            let logit = if a > 0.0 { 0.25 * a } else { 0.75 * a } + 0.75 * b + 1.5 * unknown - 1.75;
            sums.push(s);
            spam.push(uniform() < sigmoid(logit));
        }
        let c = Calibration::fit(&sums, &spam).expect("fits");
        let near = |slot: usize, want: f64| (c.scale(slot) - want).abs() < 0.08;
        assert!(near(slot(1, 1.0), 0.25), "{:?}", c.scales);
        assert!(near(slot(1, -1.0), 0.75), "{:?}", c.scales);
        assert!(near(slot(2, 1.0), 0.75), "{:?}", c.scales);
        assert!(near(slot(2, -1.0), 0.75), "{:?}", c.scales);
        assert!(c.scale(slot(3, 1.0)) < 0.08 && c.scale(slot(3, -1.0)) < 0.08);
        assert!((c.scale(NOVELTY) - 1.5).abs() < 0.3, "{:?}", c.scales);
        assert!((c.intercept + 1.75).abs() < 0.25, "{}", c.intercept);
        // Calibrated: among comments scored 0.6 to 0.8, that share is spam.
        let scored: Vec<usize> = (0..sums.len())
            .filter(|&i| (0.6..0.8).contains(&sigmoid(c.logit(&sums[i]))))
            .collect();
        let rate = scored.iter().filter(|&&i| spam[i]).count() as f64 / scored.len() as f64;
        assert!((0.6..0.8).contains(&rate), "{rate}");
        assert!(Calibration::fit(&sums[..5], &[false; 5]).is_err());
    }

    #[test]
    fn thresholds_respect_the_target_false_positive_rates() {
        let mut data: Vec<(f64, bool)> =
            (0..1000).map(|i| (i as f64 / 100.0 - 5.0, false)).collect();
        data.extend((0..100).map(|i| (i as f64 / 10.0, true)));
        let t = Thresholds::choose(&data, ThresholdTargets::default());
        let fpr = |th: f64| data.iter().filter(|s| !s.1 && s.0 >= th).count() as f64 / 1000.0;
        assert!(fpr(t.spam) <= 0.005);
        assert!(fpr(t.unsure) <= 0.03);
        assert!(t.unsure <= t.spam && t.spam < t.discard);
        assert!(fpr(t.discard) == 0.0);
    }
}
