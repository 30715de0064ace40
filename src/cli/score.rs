//! `saring score`: score one comment and say why.

use std::io::Read;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use super::ModelArg;
use crate::engine::{Comment, FeatureExtractor, Reason, Verdict};

#[derive(Debug, Args)]
pub struct ScoreArgs {
    #[command(flatten)]
    pub model: ModelArg,
    /// Score this text instead of reading a JSON comment from stdin
    #[arg(long, value_name = "TEXT")]
    pub text: Option<String>,
    /// How many reasons to give
    #[arg(long, default_value_t = 5)]
    pub reasons: usize,
}

#[derive(Serialize)]
struct Output<'a> {
    score: f64,
    verdict: Verdict,
    discard: bool,
    reasons: Vec<Reason>,
    model: &'a str,
}

pub fn run(args: ScoreArgs) -> anyhow::Result<()> {
    let model = args.model.load()?;
    let comment = match args.text {
        Some(text) => Comment::from_text(text),
        None => {
            let mut input = String::new();
            std::io::stdin()
                .read_to_string(&mut input)
                .context("reading the comment from stdin")?;
            serde_json::from_str(input.trim_start_matches('\u{FEFF}')).context(
                "stdin must hold one comment as JSON, e.g. {\"content\": \"…\"} (or use --text)",
            )?
        }
    };
    let (score, reasons) = model.explain(&comment, &mut FeatureExtractor::new(), args.reasons);
    let out = Output {
        score: score.score,
        verdict: score.verdict,
        discard: score.discard,
        reasons,
        model: model.id(),
    };
    super::write_stdout(&(serde_json::to_string_pretty(&out)? + "\n"))?;
    Ok(())
}
