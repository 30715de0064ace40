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

pub use comment::{BorrowedComment, Comment, CommentKind, CommentRef, Label};
pub use features::{Feature, FeatureExtractor, FeatureKind};
pub use model::{ModelData, Reason, Score, SpamModel, Verdict};
pub use model_file::{ModelFile, ModelFileError};
pub use train::{featurize, train, Example, TrainError, TrainOptions};
