//! Evaluation metrics for a spam filter, spam being the positive class.
//!
//! Ranking metrics take scores where higher means more spam-like (saring passes logits, which do not
//! saturate at 1.0 the way probabilities do); threshold metrics take verdicts.

use serde::Serialize;

/// Counts of a binary decision against the truth.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Confusion {
    pub true_spam: u64,
    pub false_spam: u64,
    pub true_ham: u64,
    pub false_ham: u64,
}

impl Confusion {
    pub fn add(&mut self, is_spam: bool, called_spam: bool) {
        match (is_spam, called_spam) {
            (true, true) => self.true_spam += 1,
            (false, true) => self.false_spam += 1,
            (false, false) => self.true_ham += 1,
            (true, false) => self.false_ham += 1,
        }
    }

    /// `None` when nothing was called spam.
    pub fn precision(&self) -> Option<f64> {
        ratio(self.true_spam, self.true_spam + self.false_spam)
    }

    /// `None` when there was no spam.
    pub fn recall(&self) -> Option<f64> {
        ratio(self.true_spam, self.true_spam + self.false_ham)
    }

    /// `None` when precision or recall is.
    pub fn f1(&self) -> Option<f64> {
        let (p, r) = (self.precision()?, self.recall()?);
        Some(if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        })
    }

    /// `None` when there was no ham.
    pub fn false_positive_rate(&self) -> Option<f64> {
        ratio(self.false_spam, self.false_spam + self.true_ham)
    }
}

/// `a / b`, undefined (not 0) when `b` is 0: a rate of nothing measured is no rate.
fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// Area under the ROC curve (ties count one half). `None` when a class is missing.
pub fn roc_auc(scores: &[(f64, bool)]) -> Option<f64> {
    let mut sorted: Vec<(f64, bool)> = scores.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = sorted.iter().filter(|s| s.1).count() as f64;
    let negatives = sorted.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    // Mann-Whitney U with average ranks for ties.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j < sorted.len() && sorted[j].0 == sorted[i].0 {
            j += 1;
        }
        let average_rank = (i + j + 1) as f64 / 2.0;
        rank_sum += average_rank * sorted[i..j].iter().filter(|s| s.1).count() as f64;
        i = j;
    }
    Some((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

/// The share of spam caught at the strictest threshold that flags at most `max_fpr` of the ham.
/// A threshold never sits inside a tie, so tied ham never sneaks in.
pub fn recall_at_fpr(scores: &[(f64, bool)], max_fpr: f64) -> Option<f64> {
    let mut ham: Vec<f64> = scores.iter().filter(|s| !s.1).map(|s| s.0).collect();
    let spam: Vec<f64> = scores.iter().filter(|s| s.1).map(|s| s.0).collect();
    if ham.is_empty() || spam.is_empty() {
        return None;
    }
    ham.sort_by(|a, b| b.total_cmp(a));
    let allowed = (max_fpr * ham.len() as f64).floor() as usize;
    // Flag everything strictly above the threshold; the threshold is the (allowed+1)-th highest ham.
    let threshold = ham[allowed.min(ham.len() - 1)];
    let caught = spam.iter().filter(|&&s| s > threshold).count();
    Some(caught as f64 / spam.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    #[test]
    fn auc_of_a_perfect_and_a_reversed_ranking() {
        let perfect = [(0.1, false), (0.2, false), (0.8, true), (0.9, true)];
        assert_abs_diff_eq!(roc_auc(&perfect).unwrap_or(0.0), 1.0);
        let reversed = [(0.9, false), (0.8, false), (0.2, true), (0.1, true)];
        assert_abs_diff_eq!(roc_auc(&reversed).unwrap_or(1.0), 0.0);
        let tied = [(0.5, false), (0.5, true)];
        assert_abs_diff_eq!(roc_auc(&tied).unwrap_or(0.0), 0.5);
        assert_eq!(roc_auc(&[(0.5, true)]), None);
    }

    #[test]
    fn recall_at_fpr_excludes_ties_with_ham() {
        // 100 ham at 0..100, spam at 98.5 (above 99 of the ham), at 98 (tied with a ham) and at 50.
        let mut s: Vec<(f64, bool)> = (0..100).map(|i| (i as f64, false)).collect();
        s.push((98.5, true));
        s.push((98.0, true));
        s.push((50.0, true));
        assert_abs_diff_eq!(recall_at_fpr(&s, 0.0).unwrap_or(1.0), 0.0);
        assert_abs_diff_eq!(recall_at_fpr(&s, 0.01).unwrap_or(0.0), 1.0 / 3.0);
        assert_abs_diff_eq!(recall_at_fpr(&s, 0.6).unwrap_or(0.0), 1.0);
    }

    #[test]
    fn confusion_rates() {
        let mut c = Confusion::default();
        c.add(true, true);
        c.add(true, false);
        c.add(false, true);
        c.add(false, false);
        c.add(false, false);
        assert_abs_diff_eq!(c.precision().unwrap_or(f64::NAN), 0.5);
        assert_abs_diff_eq!(c.recall().unwrap_or(f64::NAN), 0.5);
        assert_abs_diff_eq!(c.f1().unwrap_or(f64::NAN), 0.5);
        assert_abs_diff_eq!(c.false_positive_rate().unwrap_or(f64::NAN), 1.0 / 3.0);
        // Rates of nothing are undefined, not 0: ham only, and nothing called spam.
        let mut ham_only = Confusion::default();
        ham_only.add(false, false);
        assert_eq!(ham_only.precision(), None);
        assert_eq!(ham_only.recall(), None);
        assert_eq!(ham_only.f1(), None);
        assert_eq!(ham_only.false_positive_rate(), Some(0.0));
    }
}
