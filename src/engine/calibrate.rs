//! Turning naive Bayes log-odds into probabilities, and choosing the verdict thresholds.
//!
//! Naive Bayes log-odds rank well but are over-confident. Platt scaling fits `p = σ(a·llr + b)` on
//! out-of-fold log-odds, so the score is a calibrated probability and the base rate of spam enters
//! through `b`. Thresholds are chosen on the same out-of-fold scores so that ham is rarely called spam.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The most points Platt scaling is fitted on.
pub const PLATT_SAMPLE: usize = 50_000;

/// `p = σ(a·llr + b)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Platt {
    pub a: f64,
    pub b: f64,
}

impl Default for Platt {
    fn default() -> Self {
        Platt { a: 1.0, b: 0.0 }
    }
}

impl Platt {
    #[inline]
    pub fn logit(&self, llr: f64) -> f64 {
        self.a * llr + self.b
    }

    /// Fits Platt scaling by Newton's method with Platt's smoothed targets, on at most
    /// [`PLATT_SAMPLE`] evenly spaced points (two parameters need no more).
    pub fn fit(llrs: &[(f64, bool)]) -> Platt {
        let step = llrs.len().div_ceil(PLATT_SAMPLE).max(1);
        let sample: Vec<(f64, bool)>;
        let llrs = if step > 1 {
            sample = llrs.iter().step_by(step).copied().collect();
            &sample
        } else {
            llrs
        };
        let positives = llrs.iter().filter(|s| s.1).count() as f64;
        let negatives = llrs.len() as f64 - positives;
        if positives == 0.0 || negatives == 0.0 {
            return Platt::default();
        }
        let hi = (positives + 1.0) / (positives + 2.0);
        let lo = 1.0 / (negatives + 2.0);
        let (mut a, mut b) = (0.1, ((positives + 1.0) / (negatives + 1.0)).ln());
        // Sums over fixed chunks in a fixed order: parallel, yet the same result on every run.
        let loss = |a: f64, b: f64| -> f64 {
            chunked_sum(llrs, |&(x, y)| {
                let t = if y { hi } else { lo };
                let z = a * x + b;
                // -[t ln σ(z) + (1-t) ln σ(-z)]
                [
                    t * softplus(-z) + (1.0 - t) * softplus(z),
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                ]
            })[0]
        };
        let mut current = loss(a, b);
        for _ in 0..100 {
            let [ga, gb, haa, hab, hbb] = chunked_sum(llrs, |&(x, y)| {
                let t = if y { hi } else { lo };
                let p = sigmoid(a * x + b);
                let d = p - t;
                let w = (p * (1.0 - p)).max(1e-12);
                [d * x, d, w * x * x, w * x, w]
            });
            let (haa, hbb) = (haa + 1e-9, hbb + 1e-9);
            let det = haa * hbb - hab * hab;
            if det.abs() < 1e-18 {
                break;
            }
            let da = (hbb * ga - hab * gb) / det;
            let db = (haa * gb - hab * ga) / det;
            // Backtracking line search keeps Newton from overshooting on separable data.
            let mut step = 1.0;
            let mut improved = false;
            while step > 1e-6 {
                let (na, nb) = (a - step * da, b - step * db);
                let l = loss(na, nb);
                if l <= current {
                    improved = (current - l) > 1e-10 * current.max(1.0);
                    a = na;
                    b = nb;
                    current = l;
                    break;
                }
                step /= 2.0;
            }
            if !improved {
                break;
            }
        }
        Platt { a, b }
    }
}

/// Sums five per-item terms over fixed chunks on every core, then adds the chunk sums in order.
fn chunked_sum(items: &[(f64, bool)], term: impl Fn(&(f64, bool)) -> [f64; 5] + Sync) -> [f64; 5] {
    let partial: Vec<[f64; 5]> = items
        .par_chunks(8192)
        .map(|chunk| {
            chunk.iter().fold([0.0; 5], |mut acc, item| {
                let t = term(item);
                for k in 0..5 {
                    acc[k] += t[k];
                }
                acc
            })
        })
        .collect();
    partial.iter().fold([0.0; 5], |mut acc, p| {
        for k in 0..5 {
            acc[k] += p[k];
        }
        acc
    })
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

fn softplus(z: f64) -> f64 {
    if z > 30.0 {
        z
    } else {
        z.exp().ln_1p()
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

    #[test]
    fn platt_learns_an_increasing_map_and_the_base_rate() {
        // Log-odds that separate well but are five times too confident.
        let mut data = Vec::new();
        for i in 0..400 {
            let x = (i as f64 - 200.0) / 10.0; // -20..20
            let p = sigmoid(x / 5.0 - 1.0);
            // Deterministic "sampling": label spam for the first p share of 10 copies.
            for k in 0..10 {
                data.push((x, (k as f64) < p * 10.0));
            }
        }
        let platt = Platt::fit(&data);
        assert!(platt.a > 0.1 && platt.a < 0.35, "a = {}", platt.a);
        assert!(platt.b < 0.0, "b = {}", platt.b);
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
