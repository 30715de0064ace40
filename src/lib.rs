//! saring ("to filter" in Indonesian): a self-hosted filter for blog comment spam and junk pingbacks.
//!
//! - [`engine`]: the classifier: normalization, tokenization, features, naive Bayes fitted with
//!   linfa-bayes and scored sparsely, calibration, explanations and the model file.
//! - [`formats`]: streaming readers and writers of exported comments.
//! - [`server`]: the HTTP service (actix-web).
//! - [`config`]: the service's settings.
//! - [`feedback`]: moderators' feedback, stored durably in SQLite.
//! - [`cli`]: the `saring` subcommands.

pub mod cli;
pub mod config;
pub mod engine;
pub mod feedback;
pub mod formats;
pub mod server;
