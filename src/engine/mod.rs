//! The classifier and nothing else: comments, normalization, tokenization, features, the naive Bayes
//! model (train, score, explain), calibration, metrics and the model file. No web, async or CLI code.

mod ascii;
pub mod calibrate;
pub mod comment;
pub mod evaluate;
pub mod features;
pub mod metrics;
pub mod model;
pub mod model_file;
pub mod normalize;
pub mod tokenize;
pub mod train;
pub mod weights;

/// Calls `f` with every string of `lengths` pieces from `pieces` (repeats allowed), for tests that
/// compare two ways of doing one thing on all small inputs.
#[cfg(test)]
fn every_string(pieces: &[&str], lengths: std::ops::RangeInclusive<u32>, mut f: impl FnMut(&str)) {
    let mut text = String::new();
    for len in lengths {
        for mut code in 0..pieces.len().pow(len) {
            text.clear();
            for _ in 0..len {
                text.push_str(pieces[code % pieces.len()]);
                code /= pieces.len();
            }
            f(&text);
        }
    }
}

pub use comment::{BorrowedComment, Comment, CommentKind, CommentRef, Label};
pub use features::{Feature, FeatureExtractor, FeatureKind};
pub use model::{ModelData, Reason, Score, SpamModel, Verdict};
pub use model_file::{ModelFile, ModelFileError};
pub use train::{featurize, train, Example, TrainError, TrainOptions};
