//! The `saring` command line: one file per subcommand.

mod batch;
mod eval;
mod input;
mod output;
mod score;
mod serve;
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// saring: a self-hosted filter for blog comment spam and junk pingbacks.
#[derive(Debug, Parser)]
#[command(name = "saring", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP service (JSON API) on the model file.
    Serve(serve::ServeArgs),
    /// Train a model from labeled comments and write it to a model file.
    Train(train::TrainArgs),
    /// Score one comment (JSON on stdin, or --text) and print the score, verdict and reasons.
    Score(score::ScoreArgs),
    /// Score every comment of a file, writing one JSON line per comment in input order.
    Batch(batch::BatchArgs),
    /// Measure accuracy on comments the model was not trained on (cross-validation or a test set).
    Eval(eval::EvalArgs),
}

/// Runs the command line and maps errors to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Train(args) => train::run(args),
        Command::Score(args) => score::run(args),
        Command::Batch(args) => batch::run(args),
        Command::Eval(args) => eval::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("saring: error: {}", error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes, each after a colon, leaving out a cause its error already says (most of
/// saring's errors end with their cause: `cannot create data: File exists (os error 17)`).
fn error_chain(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.ends_with(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Writes `text` to standard output. A reader that closed the pipe early (`| head`) ends the output
/// quietly; any other failure (a full disk) is an error, not a panic.
pub fn write_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => written.map_err(|e| anyhow::anyhow!("writing to standard output: {e}")),
    }
}

/// The shipped default model: `models/default.saring` in the current folder if there is one, else the
/// one in the source tree saring was built from.
pub fn default_model_path() -> PathBuf {
    let local = PathBuf::from("models/default.saring");
    if local.exists() {
        local
    } else {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/default.saring"
        ))
    }
}

/// Where the model is: `--model`, else `SARING_MODEL`, else the default model.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArg {
    /// Model file [default: the shipped models/default.saring]
    #[arg(long, short = 'm', env = "SARING_MODEL", value_name = "PATH")]
    model: Option<PathBuf>,
}

impl ModelArg {
    pub fn path(&self) -> PathBuf {
        self.model.clone().unwrap_or_else(default_model_path)
    }

    pub fn load(&self) -> anyhow::Result<crate::engine::SpamModel> {
        let path = self.path();
        Ok(crate::engine::ModelFile::load(&path)?)
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `n` and the noun, singular for one: `1 comment`, `2 comments`.
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    match n.into() {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_are_singular_for_one_only() {
        assert_eq!(super::count(0u64, "comment"), "0 comments");
        assert_eq!(super::count(1u64, "comment"), "1 comment");
        assert_eq!(super::count(2u32, "invalid record"), "2 invalid records");
    }

    #[test]
    fn an_error_chain_says_each_cause_once() {
        use anyhow::Context;
        let io = std::io::Error::other("File exists");
        let said = crate::feedback::FeedbackError::Folder {
            path: "data".into(),
            source: io,
        };
        let e = Err::<(), _>(said).context("starting").unwrap_err();
        assert_eq!(
            super::error_chain(&e),
            "starting: cannot create data: File exists"
        );
        let e = Err::<(), _>(std::io::Error::other("disk full"))
            .context("writing out.jsonl")
            .unwrap_err();
        assert_eq!(super::error_chain(&e), "writing out.jsonl: disk full");
    }
}
