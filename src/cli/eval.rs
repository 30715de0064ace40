//! `saring eval`: accuracy on comments the model was not trained on.

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::bail;
use clap::Args;

use super::input::FormatArgs;
use super::train::TrainFlags;
use super::ModelArg;
use crate::engine::evaluate::{cross_validate, evaluate, Report};
use crate::engine::{featurize, train, Comment, Example, SpamModel};

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Labeled comments to train on (cross-validation, or training before --test)
    #[arg(long = "input", short = 'i', num_args = 1.., value_name = "FILE")]
    pub inputs: Vec<PathBuf>,
    /// k-fold cross-validation over --input, folding by normalized text (without it and without
    /// --test, the --model file is measured on --input)
    #[arg(long, conflicts_with = "test")]
    pub folds: Option<usize>,
    /// Labeled comments to measure on; with --input the model is trained on those first, without it
    /// the --model file is measured
    #[arg(long, num_args = 1.., value_name = "FILE")]
    pub test: Vec<PathBuf>,
    /// Seed of the fold assignment
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
    /// Also list the N most confident mistakes at the spam threshold (ham called spam, spam not called
    /// spam)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub mistakes: usize,
    #[command(flatten)]
    pub model: ModelArg,
    #[command(flatten)]
    pub format: FormatArgs,
    #[command(flatten)]
    pub options: TrainFlags,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let options = args.options.options()?;
    let measured: Vec<Comment>;
    let report = if let Some(folds) = args.folds {
        if args.inputs.is_empty() {
            bail!("--folds needs --input FILE... to cross-validate on");
        }
        (measured, _) = args.format.read_all(&args.inputs)?;
        cross_validate(labeled(&measured, "--input")?, folds, args.seed, options)?
    } else if args.test.is_empty() {
        if args.inputs.is_empty() {
            bail!("give --input FILE... (with --folds K to cross-validate), or --test FILE...");
        }
        // The model file measured on labeled comments (an export's moderation history, say).
        (measured, _) = args.format.read_all(&args.inputs)?;
        let model = args.model.load()?;
        evaluate(&model, labeled(&measured, "--input")?, None)
    } else {
        (measured, _) = args.format.read_all(&args.test)?;
        let test = labeled(&measured, "--test")?;
        if args.inputs.is_empty() {
            let model = args.model.load()?;
            evaluate(&model, test, None)
        } else {
            let (comments, _) = args.format.read_all(&args.inputs)?;
            let examples = labeled(&comments, "--input")?;
            let trained: HashSet<u64> = examples.iter().map(|e| e.group).collect();
            let model = SpamModel::from_data(train(&examples, options, 0)?);
            evaluate(&model, test, Some(&trained))
        }
    };
    if report.comments == 0 {
        anyhow::bail!(
            "nothing left to measure: {} duplicates and {} texts also in training were left out",
            report.duplicates_removed,
            report.overlap_removed
        );
    }
    let (ham, spam) = report.worst_mistakes(args.mistakes);
    let text_of = |o: &crate::engine::evaluate::Outcome| -> String {
        let text: String = measured[o.index].content.chars().take(160).collect();
        text.replace('\n', " ")
    };
    let out = if args.json {
        // With --mistakes, the mistakes are part of the JSON document, which stays one document.
        let mut value = serde_json::to_value(&report)?;
        if args.mistakes > 0 {
            let list = |list: &[crate::engine::evaluate::Outcome]| -> Vec<serde_json::Value> {
                list.iter()
                    .map(|o| serde_json::json!({"logit": o.logit, "text": text_of(o)}))
                    .collect()
            };
            value["mistakes"] = serde_json::json!({
                "ham_scored_most_like_spam": list(&ham),
                "spam_scored_most_like_ham": list(&spam),
            });
        }
        serde_json::to_string_pretty(&value)? + "\n"
    } else {
        let mut out = render(&report);
        if args.mistakes > 0 {
            for (title, list) in [
                (
                    "ham called spam, scored most like spam (logit, text):",
                    &ham,
                ),
                (
                    "spam not called spam, scored most like ham (logit, text):",
                    &spam,
                ),
            ] {
                out += &format!("{title}\n");
                for o in list {
                    out += &format!("  {:>8.3}  {}\n", o.logit, text_of(o));
                }
            }
        }
        out
    };
    super::write_stdout(&out)?;
    Ok(())
}

/// The labeled comments of `comments` (read from the files of option `from`), ready to train on or
/// measure; says how many had no label, and having none is an error.
fn labeled(comments: &[Comment], from: &str) -> anyhow::Result<Vec<Example>> {
    let examples = featurize(comments);
    let unlabeled = comments.len() - examples.len();
    if examples.is_empty() {
        bail!(
            "none of the {} read from {from} has a label (\"spam\" or \"ham\")",
            super::count(comments.len() as u64, "comment")
        );
    }
    if unlabeled > 0 {
        eprintln!(
            "left out {} from {from} without a label",
            super::count(unlabeled as u64, "comment")
        );
    }
    Ok(examples)
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".into(), |v| format!("{v:.4}"))
}

fn render(r: &Report) -> String {
    let c = &r.confusion;
    let mut s = String::new();
    let setup = match r.folds {
        Some(k) => format!("{k}-fold cross-validation"),
        None => "held-out test set".into(),
    };
    s += &format!(
        "{setup}: {} ({} spam, {} ham); {} removed",
        super::count(r.comments as u64, "comment"),
        r.spam,
        r.ham,
        super::count(r.duplicates_removed as u64, "duplicate")
    );
    if r.overlap_removed > 0 {
        s += &format!(", {} texts also in training left out", r.overlap_removed);
    }
    s += "\n";
    s += &format!("ROC AUC               {}\n", opt(r.roc_auc));
    s += &format!("recall at 1% FPR      {}\n", opt(r.recall_at_1pct_fpr));
    s += &format!("recall at 0.1% FPR    {}\n", opt(r.recall_at_0_1pct_fpr));
    s += "at the model's spam threshold:\n";
    s += &format!("  precision           {}\n", opt(r.precision));
    s += &format!("  recall              {}\n", opt(r.recall));
    s += &format!("  F1                  {}\n", opt(r.f1));
    s += &format!("  false-positive rate {}\n", opt(r.false_positive_rate));
    s += "  confusion matrix    called spam  called not spam\n";
    s += &format!(
        "    spam              {:>11}  {:>15}\n",
        c.true_spam, c.false_ham
    );
    s += &format!(
        "    ham               {:>11}  {:>15}\n",
        c.false_spam, c.true_ham
    );
    s += &format!(
        "  held as unsure      {} spam, {} ham\n",
        r.unsure_spam, r.unsure_ham
    );
    s
}
