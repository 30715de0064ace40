//! The shipped corpus (`training/`) and default model (`models/default.saring`).
//!
//! - the corpus has the size, balance, languages and notes the project promises;
//! - the shipped model is exactly what `saring train` makes of the corpus, and training is deterministic;
//! - a "good sense" suite of comments written fresh for this test (not in the corpus) is classified right.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

mod common;
use common::{assert_success, saring};
use saring::engine::{Comment, FeatureExtractor, Label, ModelData, ModelFile, SpamModel, Verdict};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn default_model() -> PathBuf {
    root().join("models/default.saring")
}

fn corpus_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("training"))
        .expect("training/ exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .jsonl files in training/");
    files
}

/// Every corpus line as raw JSON (to see `note`, which the comment type ignores) and as a comment.
fn corpus() -> Vec<(serde_json::Value, Comment)> {
    let mut all = Vec::new();
    for file in corpus_files() {
        let text = std::fs::read_to_string(&file).expect("corpus file is readable");
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let raw: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}:{}: {e}", file.display(), n + 1));
            let comment: Comment = serde_json::from_value(raw.clone())
                .unwrap_or_else(|e| panic!("{}:{}: {e}", file.display(), n + 1));
            all.push((raw, comment));
        }
    }
    all
}

fn good_sense() -> Vec<(serde_json::Value, Comment)> {
    let text = std::fs::read_to_string(root().join("tests/fixtures/good-sense.jsonl"))
        .expect("good-sense fixture");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let raw: serde_json::Value = serde_json::from_str(l).expect("valid JSON");
            let comment = serde_json::from_value(raw.clone()).expect("a comment");
            (raw, comment)
        })
        .collect()
}

#[test]
fn corpus_has_the_promised_shape() {
    let corpus = corpus();
    let ham = corpus
        .iter()
        .filter(|(_, c)| c.label == Some(Label::Ham))
        .count();
    let spam = corpus
        .iter()
        .filter(|(_, c)| c.label == Some(Label::Spam))
        .count();
    assert_eq!(ham + spam, corpus.len(), "every comment is labeled");
    assert!(corpus.len() >= 3000, "{} comments", corpus.len());
    assert!(
        ham * 10 >= corpus.len() * 4,
        "{ham} ham of {}",
        corpus.len()
    );

    let mut langs: BTreeMap<String, usize> = BTreeMap::new();
    for (raw, c) in &corpus {
        assert!(
            raw["note"].as_str().is_some_and(|n| !n.is_empty()),
            "{:?} has no note",
            c.id
        );
        *langs.entry(c.lang.clone().unwrap_or_default()).or_default() += 1;
    }
    for lang in ["id", "en", "pt"] {
        assert!(langs.get(lang).is_some_and(|&n| n >= 200), "{langs:?}");
    }
    let others = langs
        .keys()
        .filter(|l| !["id", "en", "pt", ""].contains(&l.as_str()))
        .count();
    assert!(others >= 10, "other languages: {langs:?}");

    let ids: HashSet<_> = corpus.iter().map(|(_, c)| c.id.clone()).collect();
    assert_eq!(ids.len(), corpus.len(), "ids are unique");
    let linkbacks = corpus
        .iter()
        .filter(|(_, c)| matches!(c.kind.as_deref(), Some("pingback" | "trackback")))
        .count();
    assert!(linkbacks >= 100, "{linkbacks} pingbacks and trackbacks");
}

/// The words of a text as the model sees them, to compare texts whatever their spacing and case.
fn key(extractor: &mut FeatureExtractor, comment: &Comment) -> u64 {
    let mut ids = Vec::new();
    extractor.ids(comment, &mut ids);
    extractor.content_key()
}

#[test]
fn good_sense_comments_are_not_in_the_corpus() {
    let mut extractor = FeatureExtractor::new();
    let corpus: HashSet<u64> = corpus()
        .iter()
        .map(|(_, c)| key(&mut extractor, c))
        .collect();
    for (_, c) in good_sense() {
        assert!(
            !corpus.contains(&key(&mut extractor, &c)),
            "{:?} is in the corpus",
            c.id
        );
    }
}

#[test]
fn good_sense_covers_both_labels_and_languages() {
    let suite = good_sense();
    for label in [Label::Spam, Label::Ham] {
        for lang in ["id", "en"] {
            assert!(
                suite
                    .iter()
                    .any(|(_, c)| c.label == Some(label) && c.lang.as_deref() == Some(lang)),
                "no {label:?} in {lang}"
            );
        }
    }
}

/// Ham is published (`ham`); spam never is (`spam`, or `unsure`: held for a moderator); and every
/// spam comment scores above every ham comment.
#[test]
fn default_model_has_good_sense() {
    let model = ModelFile::load(&default_model()).expect("the shipped model loads");
    let mut extractor = FeatureExtractor::new();
    let mut ids = Vec::new();
    let mut wrong = Vec::new();
    let suite = good_sense();
    let (mut lowest_spam, mut highest_ham) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut spam, mut called_spam) = (0, 0);
    for (raw, c) in &suite {
        let score = model.score(c, &mut extractor, &mut ids);
        let is_spam = c.label == Some(Label::Spam);
        let right = if is_spam {
            spam += 1;
            called_spam += usize::from(score.verdict == Verdict::Spam);
            lowest_spam = lowest_spam.min(score.logit);
            score.verdict != Verdict::Ham
        } else {
            highest_ham = highest_ham.max(score.logit);
            score.verdict == Verdict::Ham
        };
        if !right {
            wrong.push(format!(
                "{} ({}, {:?}): {:?} at {:.3}: {}",
                c.id.as_deref().unwrap_or("?"),
                raw["note"].as_str().unwrap_or(""),
                c.label,
                score.verdict,
                score.score,
                c.content
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} wrong:\n{}",
        wrong.len(),
        suite.len(),
        wrong.join("\n")
    );
    assert!(
        lowest_spam > highest_ham,
        "a ham comment scores above a spam one (logits {highest_ham:.3} >= {lowest_spam:.3})"
    );
    // Held for moderation is the exception, for the politest spam, not the rule.
    assert!(
        called_spam * 10 >= spam * 8,
        "{called_spam} of {spam} spam called spam"
    );
}

fn train_corpus(model: &Path) {
    let out = saring()
        .arg("train")
        .arg("--input")
        .args(corpus_files())
        .arg("--model")
        .arg(model)
        .output()
        .expect("runs");
    assert_success(&out);
}

fn data(path: &Path) -> ModelData {
    let bytes = std::fs::read(path).expect("model file");
    let mut data = ModelFile::decode(&bytes, path).expect("model decodes");
    data.info.trained_at = 0;
    data
}

#[test]
fn training_is_deterministic_and_makes_the_shipped_model() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (a, b) = (dir.path().join("a.saring"), dir.path().join("b.saring"));
    train_corpus(&a);
    train_corpus(&b);
    // Apart from the time of training, the same corpus gives the same model, byte for byte.
    assert_eq!(
        ModelFile::encode(&data(&a)).expect("encodes"),
        ModelFile::encode(&data(&b)).expect("encodes")
    );
    let shipped = data(&default_model());
    assert!(
        data(&a) == shipped,
        "models/default.saring is not what `saring train` makes of training/ (retrain it, see README)"
    );
    assert_eq!(
        SpamModel::from_data(data(&a)).id(),
        SpamModel::from_data(shipped).id()
    );
}
