//! Black-box tests of the `saring` binary, each in its own temporary folder.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

mod common;
use common::{assert_success, saring};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Trains on the tiny fixture corpus into `dir/model.saring`.
fn trained_model(dir: &Path) -> PathBuf {
    let model = dir.join("model.saring");
    let out = saring()
        .args(["train", "--input"])
        .arg(fixture("tiny-corpus.jsonl"))
        .arg("--model")
        .arg(&model)
        .output()
        .expect("runs");
    assert_success(&out);
    model
}

/// A temporary folder with a model trained on the tiny corpus and `text` as `in.jsonl`: the folder,
/// the model and the input.
fn model_and_input(text: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = trained_model(dir.path());
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, text).expect("writes the input");
    (dir, model, input)
}

/// The standard error of a command that must fail.
fn failure(out: &Output) -> String {
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("valid JSON output")
}

/// `saring batch [EXTRA...] --input INPUT --output OUTPUT --model MODEL`.
fn batch(input: &Path, output: &Path, model: &Path, extra: &[&str]) -> Output {
    saring()
        .arg("batch")
        .args(extra)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .arg("--model")
        .arg(model)
        .output()
        .expect("runs")
}

#[test]
fn train_reports_counts_and_prints_no_debug_output() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = dir.path().join("m.saring");
    let out = saring()
        .args(["train", "--input"])
        .arg(fixture("tiny-corpus.jsonl"))
        .arg("--model")
        .arg(&model)
        .output()
        .expect("runs");
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("on 40 comments (20 spam, 20 ham)"),
        "{stderr}"
    );
    // linfa-bayes 0.8.1's stray dbg! would print class histograms here.
    assert!(
        !stderr.contains("ClassHistogram") && !stderr.contains("feature_log_prob"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    assert!(model.exists());
}

#[test]
fn score_reads_json_on_stdin_and_explains() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = trained_model(dir.path());
    let out = saring()
        .arg("score")
        .arg("--model")
        .arg(&model)
        .write_stdin(r#"{"content":"Gas main di 𝐙𝐄𝐔𝐒𝟏𝟑𝟖 pasti gacor maxwin, depo 10k!","post_title":"Resep soto ayam"}"#)
        .output()
        .expect("runs");
    assert_success(&out);
    let v = json(&out.stdout);
    let score = v["score"].as_f64().expect("score");
    assert!((0.0..=1.0).contains(&score));
    assert!(score > 0.5, "{v}");
    assert_ne!(v["verdict"], "ham");
    let reasons = v["reasons"].as_array().expect("reasons");
    assert!(
        !reasons.is_empty() && reasons[0]["weight"].as_f64().unwrap_or(0.0) > 0.0,
        "{v}"
    );
    assert!(v["model"].as_str().is_some_and(|m| m.starts_with("nb-")));
}

#[test]
fn score_text_flag_scores_plain_text() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = trained_model(dir.path());
    let out = saring()
        .args([
            "score",
            "--text",
            "Thanks, this was very helpful for my garden",
        ])
        .arg("--model")
        .arg(&model)
        .output()
        .expect("runs");
    assert!(out.status.success());
    let v = json(&out.stdout);
    assert!(v["score"].as_f64().expect("score") < 0.5, "{v}");
}

#[test]
fn score_rejects_a_comment_without_content() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = trained_model(dir.path());
    let out = saring()
        .arg("score")
        .arg("--model")
        .arg(&model)
        .write_stdin(r#"{"author":"x"}"#)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("content"));
}

#[test]
fn batch_writes_one_line_per_comment_in_input_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = trained_model(dir.path());
    let output = dir.path().join("scores.jsonl");
    let out = batch(&fixture("tiny-corpus.jsonl"), &output, &model, &[]);
    assert_success(&out);
    let text = std::fs::read_to_string(&output).expect("output written");
    let ids: Vec<String> = text
        .lines()
        .map(|l| json(l.as_bytes())["id"].as_str().unwrap_or("").to_owned())
        .collect();
    let expected: Vec<String> = (1..=40).map(|i| format!("t{i:02}")).collect();
    assert_eq!(ids, expected);
    for line in text.lines() {
        let v = json(line.as_bytes());
        assert!(v["score"].is_f64() && v["verdict"].is_string() && v["discard"].is_boolean());
    }
    assert!(String::from_utf8_lossy(&out.stderr).contains("scored 40 comments"));
}

#[test]
fn batch_fails_on_a_bad_line_naming_it_and_writes_nothing() {
    let (dir, model, input) =
        model_and_input("{\"content\":\"ok\"}\n{\"content\": broken\n{\"content\":\"fine\"}\n");
    let output = dir.path().join("out.jsonl");
    let out = batch(&input, &output, &model, &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("in.jsonl:line 2"), "{stderr}");
    assert!(!output.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".saring"))
        .collect();
    assert!(leftovers.is_empty());

    let out = batch(&input, &output, &model, &["--skip-invalid"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("skipped 1 invalid"));
    let lines = std::fs::read_to_string(&output)
        .expect("output")
        .lines()
        .count();
    assert_eq!(lines, 2);
}

#[test]
fn a_line_that_is_not_utf8_is_named_with_its_column_and_the_lines_around_it_are_read_as_ever() {
    // Lines are checked to be UTF-8 a chunk at a time; a chunk holding a bad line is checked line by
    // line, for the message, and its good lines (not ASCII here) are read as in a good chunk.
    let good = [
        "{\"content\":\"caf\u{e9} na\u{ef}ve r\u{e9}sum\u{e9}\"}",
        "{\"content\":\"\u{1d40c}\u{1d404}\u{1d406}\u{1d400} slot\"}",
    ];
    let (dir, model, input) = model_and_input("");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(good[0].as_bytes());
    bytes.extend_from_slice(b"\n{\"content\":\"ab\xff\"}\n");
    bytes.extend_from_slice(good[1].as_bytes());
    bytes.push(b'\n');
    std::fs::write(&input, &bytes).expect("write");
    let output = dir.path().join("out.jsonl");
    let stderr = failure(&batch(&input, &output, &model, &[]));
    assert!(
        stderr.contains("in.jsonl:line 2: invalid UTF-8 at column 15"),
        "{stderr}"
    );
    assert!(!output.exists());

    assert_success(&batch(&input, &output, &model, &["--skip-invalid"]));
    let skipped = std::fs::read_to_string(&output).expect("output");
    let clean = dir.path().join("clean.jsonl");
    std::fs::write(&clean, format!("{}\n{}\n", good[0], good[1])).expect("write");
    let clean_out = dir.path().join("clean-out.jsonl");
    assert_success(&batch(&clean, &clean_out, &model, &[]));
    let clean_text = std::fs::read_to_string(&clean_out).expect("output");
    let fields = |text: &str| -> Vec<(Value, Value)> {
        text.lines()
            .map(|l| {
                let v = json(l.as_bytes());
                (v["score"].clone(), v["reasons"].clone())
            })
            .collect()
    };
    assert_eq!(fields(&skipped).len(), 2, "{skipped}");
    assert_eq!(fields(&skipped), fields(&clean_text));
    let ids: Vec<Value> = skipped
        .lines()
        .map(|l| json(l.as_bytes())["id"].clone())
        .collect();
    assert_eq!(ids, [Value::from("1"), Value::from("3")]);
}

#[test]
fn a_line_too_long_to_be_a_record_is_a_bad_record_with_its_line_number() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = trained_model(dir.path());
    let input = dir.path().join("huge.jsonl");
    // 17 MiB on line 2, over the 16 MiB a record may have, between two good lines.
    let huge = format!("{{\"content\":\"{}\"}}", "spam ".repeat(17 << 18));
    let text = format!("{{\"content\":\"a\"}}\n{huge}\n{{\"content\":\"b\"}}\n");
    std::fs::write(&input, text).expect("write");
    let output = dir.path().join("o.jsonl");
    let out = batch(&input, &output, &model, &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("huge.jsonl:line 2: a record longer than 16 MiB"),
        "{stderr}"
    );
    assert!(!output.exists());

    let out = batch(&input, &output, &model, &["--skip-invalid"]);
    assert_success(&out);
    let written = std::fs::read_to_string(&output).expect("output");
    let ids: Vec<Value> = written
        .lines()
        .map(|l| json(l.as_bytes())["id"].clone())
        .collect();
    // Comments without an id are named by their line, as a string like any id.
    assert_eq!(ids, [Value::from("1"), Value::from("3")], "{written}");
}

#[test]
fn eval_cross_validates_and_reports_every_metric() {
    let out = saring()
        .args(["eval", "--folds", "4", "--json", "--input"])
        .arg(fixture("tiny-corpus.jsonl"))
        .output()
        .expect("runs");
    assert_success(&out);
    let v = json(&out.stdout);
    assert_eq!(v["comments"], 40);
    assert_eq!(v["folds"], 4);
    for key in [
        "roc_auc",
        "precision",
        "recall",
        "f1",
        "false_positive_rate",
        "recall_at_1pct_fpr",
        "recall_at_0_1pct_fpr",
    ] {
        assert!(v[key].is_f64(), "{key} missing in {v}");
    }
    let c = &v["confusion"];
    let total: u64 = ["true_spam", "false_spam", "true_ham", "false_ham"]
        .iter()
        .map(|k| c[k].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(total, 40);
}

#[test]
fn eval_on_a_test_file_leaves_out_texts_seen_in_training() {
    let out = saring()
        .args(["eval", "--json", "--input"])
        .arg(fixture("tiny-corpus.jsonl"))
        .arg("--test")
        .arg(fixture("tiny-corpus.jsonl"))
        .output()
        .expect("runs");
    // Every test text was trained on: nothing is left to measure, which is an error, not a report of
    // zeros.
    let stderr = failure(&out);
    assert!(
        stderr.contains("nothing left to measure") && stderr.contains("40 texts also in training"),
        "{stderr}"
    );
}

#[test]
fn a_corrupt_model_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = trained_model(dir.path());
    let mut bytes = std::fs::read(&model).expect("model");
    let n = bytes.len();
    bytes.truncate(n - 7);
    std::fs::write(&model, &bytes).expect("write");
    let out = saring()
        .args(["score", "--text", "hello"])
        .arg("--model")
        .arg(&model)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"));
}

#[test]
fn every_subcommand_has_help() {
    for sub in ["train", "score", "batch", "eval"] {
        let out = saring().args([sub, "--help"]).output().expect("runs");
        assert!(out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("--model"),
            "{sub}"
        );
    }
}

#[test]
fn batch_keeps_order_across_read_chunks_with_crlf_blank_lines_and_no_final_newline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = trained_model(dir.path());
    let input = dir.path().join("big.jsonl");
    let mut text = String::new();
    let n = 30_000;
    for i in 0..n {
        // ~70 bytes a line: more than two read chunks of 1 MiB.
        text.push_str(&format!(
            "{{\"id\":\"c{i}\",\"content\":\"comment number {i} about the article, thanks\"}}"
        ));
        text.push_str(if i % 3 == 0 { "\r\n" } else { "\n" });
        if i % 1000 == 0 {
            text.push_str("\n   \n");
        }
    }
    text.pop(); // no final newline
    std::fs::write(&input, &text).expect("write");
    let output = dir.path().join("out.jsonl");
    let out = batch(&input, &output, &model, &["--reasons", "0"]);
    assert_success(&out);
    let written = std::fs::read_to_string(&output).expect("output");
    let ids: Vec<String> = written
        .lines()
        .map(|l| json(l.as_bytes())["id"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(ids.len(), n);
    assert!(ids.iter().enumerate().all(|(i, id)| *id == format!("c{i}")));
}

#[test]
fn a_bad_line_far_into_a_big_file_is_named_by_its_number() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = trained_model(dir.path());
    let input = dir.path().join("big.jsonl");
    let mut text = String::new();
    for i in 0..25_000 {
        if i == 24_321 {
            text.push_str("{\"content\": \"unterminated\n");
        } else {
            text.push_str(&format!(
                "{{\"content\":\"line {i} of a long export file, nothing to see\"}}\n"
            ));
        }
    }
    std::fs::write(&input, &text).expect("write");
    let out = batch(&input, &dir.path().join("o.jsonl"), &model, &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("big.jsonl:line 24322"), "{stderr}");
}

#[test]
fn wxr_exports_train_on_spam_and_approved_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = dir.path().join("m.saring");
    let out = saring()
        .args(["train", "--input"])
        .arg(fixture("tiny-corpus.jsonl"))
        .arg(fixture("moderated-1.0.wxr"))
        .arg("--model")
        .arg(&model)
        .output()
        .expect("runs");
    assert_success(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // 40 fixture comments + 2 spam + 2 approved; pending and trash left out.
    assert!(
        stderr.contains("on 44 comments (22 spam, 22 ham)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("left out 2 comments without a label"),
        "{stderr}"
    );
}

#[test]
fn the_shared_wxr_and_disqus_samples_are_read_in_full() {
    let Some(dir) = common::shared_data("format samples not read") else {
        return;
    };
    let work = tempfile::tempdir().expect("temp dir");
    let model = trained_model(work.path());
    for (file, comments) in [
        (
            "format-samples-wordpress-wxr/themeunittestdata.wordpress.xml",
            33,
        ),
        ("format-samples-wordpress-wxr/isso-tests-wordpress.xml", 8),
        ("format-samples-disqus-xml/isso-tests-disqus.xml", 6),
        (
            "format-samples-disqus-xml/disqus-import-wxr-template.xml",
            1,
        ),
    ] {
        let output = work.path().join("out.jsonl");
        let out = batch(&dir.join(file), &output, &model, &[]);
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines = std::fs::read_to_string(&output)
            .expect("output")
            .lines()
            .count();
        assert_eq!(lines, comments, "{file}");
    }
}

#[test]
fn batch_of_an_export_writes_csv_filters_by_verdict_and_sums_up_the_moderation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = trained_model(dir.path());
    let output = dir.path().join("scores.csv");
    let out = batch(&fixture("moderated-1.0.wxr"), &output, &model, &[]);
    assert_success(&out);
    let mut reader = csv::Reader::from_path(&output).expect("csv output");
    let headers = reader.headers().expect("header").clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        ["id", "post", "author", "type", "status", "score", "verdict", "discard", "reasons"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("rows");
    assert_eq!(rows.len(), 6);
    assert_eq!(&rows[3][1], "Japan's cyber diplomacy");
    assert_eq!(&rows[3][3], "pingback");
    assert_eq!(&rows[3][4], "spam");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("on the site: 2 approved, 1 pending, 2 spam, 1 trash"),
        "{stderr}"
    );
    assert!(
        stderr.contains("disagreements with the site's moderation"),
        "{stderr}"
    );

    let only = dir.path().join("spam.jsonl");
    let out = batch(
        &fixture("moderated-1.0.wxr"),
        &only,
        &model,
        &["--only", "spam"],
    );
    assert!(out.status.success());
    let kept = std::fs::read_to_string(&only).expect("output");
    assert!(!kept.is_empty());
    assert!(kept
        .lines()
        .all(|l| json(l.as_bytes())["verdict"] == "spam"));
}

#[test]
fn a_latin1_wxr_1_1_export_is_read_in_its_declared_encoding() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = trained_model(dir.path());
    let output = dir.path().join("o.jsonl");
    let out = batch(&fixture("latin1-1.1.wxr"), &output, &model, &[]);
    assert_success(&out);
    let line = std::fs::read_to_string(&output).expect("output");
    assert_eq!(json(line.trim().as_bytes())["post"], "Café da manhã");
}

#[test]
fn a_truncated_export_fails_with_its_line_and_byte_offset_even_when_skipping_invalid_records() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = trained_model(dir.path());
    let full = std::fs::read_to_string(fixture("moderated-1.0.wxr")).expect("fixture");
    let cut = &full[..full.find("deleted by the owner").unwrap_or(full.len())];
    let input = dir.path().join("cut.wxr");
    std::fs::write(&input, cut).expect("write");
    let output = dir.path().join("o.jsonl");
    let out = batch(&input, &output, &model, &["--skip-invalid"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The file ends inside a comment: the error is at its end, on its last line.
    let lines = cut.lines().count();
    let at = format!("cut.wxr:line {lines} (byte ");
    assert!(stderr.contains(&at), "{at}: {stderr}");
    assert!(!output.exists());
}

#[test]
fn eval_measures_a_model_on_an_exports_moderation_history() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = trained_model(dir.path());
    let out = saring()
        .args(["eval", "--json", "--input"])
        .arg(fixture("moderated-1.0.wxr"))
        .arg("--model")
        .arg(&model)
        .output()
        .expect("runs");
    assert_success(&out);
    let v = json(&out.stdout);
    // 2 spam and 2 approved; pending and trash are not moderation verdicts.
    assert_eq!(v["comments"], 4);
    assert_eq!(v["spam"], 2);
    assert!(v["folds"].is_null());
}

/// `saring` as a std `Command`, for tests that wire its standard streams themselves.
fn std_saring() -> std::process::Command {
    #[allow(deprecated)] // cargo_bin: the binary of this package, built by `cargo test`
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("saring"));
    cmd.env_remove("SARING_MODEL");
    cmd
}

/// `saring batch --input /dev/stdin --output OUTPUT --model MODEL`, its standard input a pipe.
fn batch_from_a_pipe(output: &Path, model: &Path) -> std::process::Command {
    let mut cmd = std_saring();
    cmd.args(["batch", "--input", "/dev/stdin", "--output"])
        .arg(output)
        .arg("--model")
        .arg(model)
        .stdin(std::process::Stdio::piped());
    cmd
}

#[test]
fn a_piped_input_is_read_whole_whatever_its_format() {
    // A pipe can be read only once: the bytes its format is told from must still be read as data.
    let dir = tempfile::tempdir().expect("temp dir");
    let model = trained_model(dir.path());
    for name in ["tiny-corpus.jsonl", "moderated-1.0.wxr"] {
        let input = std::fs::read(fixture(name)).expect("fixture");
        let output = dir.path().join("out.jsonl");
        let mut child = batch_from_a_pipe(&output, &model)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("runs");
        let mut stdin = child.stdin.take().expect("stdin");
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            stdin.write_all(&input).expect("writes");
        });
        let out = child.wait_with_output().expect("waits");
        writer.join().expect("writer");
        assert_success(&out);
        // As many results as the same file gives when read from its path.
        let direct = dir.path().join("direct.jsonl");
        assert_success(&batch(&fixture(name), &direct, &model, &[]));
        let lines = |p: &Path| std::fs::read_to_string(p).expect("output").lines().count();
        assert!(lines(&direct) > 2, "{name}");
        assert_eq!(lines(&output), lines(&direct), "{name}");
    }
}

#[test]
fn standard_output_that_fails_is_an_error_and_one_closed_early_is_not() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = trained_model(dir.path());
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = std_saring()
        .args(["score", "--text", "hello world", "--model"])
        .arg(&model)
        .stdout(full)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("writing to standard output"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // A reader that stops early (`| head -c1`) ends the output quietly.
    let mut child = std_saring()
        .args(["eval", "--folds", "2", "--input"])
        .arg(fixture("tiny-corpus.jsonl"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("waits");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn eval_json_with_mistakes_is_one_json_document() {
    let out = saring()
        .args([
            "eval",
            "--folds",
            "2",
            "--json",
            "--mistakes",
            "2",
            "--input",
        ])
        .arg(fixture("tiny-corpus.jsonl"))
        .output()
        .expect("runs");
    assert_success(&out);
    let report = json(&out.stdout);
    // Mistakes as the confusion matrix counts them, at most 2 of each.
    let confusion = &report["confusion"];
    for (list, count) in [
        ("ham_scored_most_like_spam", "false_spam"),
        ("spam_scored_most_like_ham", "false_ham"),
    ] {
        let expected = confusion[count].as_u64().map(|n| n.min(2) as usize);
        let mistakes = &report["mistakes"][list];
        assert_eq!(mistakes.as_array().map(Vec::len), expected, "{report}");
    }
    let mistakes = &report["mistakes"]["spam_scored_most_like_ham"];
    assert!(mistakes[0]["text"].is_string() && mistakes[0]["logit"].is_number());
}

#[test]
fn an_output_that_is_an_input_is_refused_and_a_stream_is_written_in_place() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = trained_model(dir.path());
    let input = dir.path().join("in.jsonl");
    std::fs::copy(fixture("tiny-corpus.jsonl"), &input).expect("copies");
    let before = std::fs::read(&input).expect("reads");
    let out = batch(&input, &input, &model, &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is also an input"));
    let out = saring()
        .args(["train", "--input"])
        .arg(&input)
        .arg("--model")
        .arg(&input)
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert_eq!(std::fs::read(&input).expect("reads"), before);
    // Standard output (a pipe here), named as /dev/stdout names it (a link to /proc/self/fd/1, made
    // in the test's folder), is written in place, and the link is not replaced by a file.
    let stdout = dir.path().join("stdout");
    std::os::unix::fs::symlink("/proc/self/fd/1", &stdout).expect("links");
    let out = batch(&input, &stdout, &model, &["--reasons", "0"]);
    assert_success(&out);
    let lines = String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(lines, String::from_utf8_lossy(&before).lines().count());
    assert!(std::fs::symlink_metadata(&stdout).is_ok_and(|m| m.file_type().is_symlink()));
}

#[test]
fn an_input_that_yields_no_comments_is_an_error_not_an_empty_success() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = trained_model(dir.path());
    let output = dir.path().join("out.jsonl");
    // Empty (or only a byte-order mark and blanks), or read in a format it is not in.
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, b"\xEF\xBB\xBF \n").expect("writes");
    let out = batch(&empty, &output, &model, &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is empty"));
    let out = batch(
        &fixture("tiny-corpus.jsonl"),
        &output,
        &model,
        &["--format", "wxr"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no comments found"));
    assert!(!output.exists());
    // eval says how many comments it left out for want of a label, and fails when that is all.
    let unlabeled = dir.path().join("unlabeled.jsonl");
    std::fs::write(
        &unlabeled,
        "{\"content\":\"buy now\",\"label\":\"spam\"}\n{\"content\":\"thanks\",\"label\":\"ham\"}\n{\"content\":\"no label\"}\n",
    )
    .expect("writes");
    let eval = |input: &Path| {
        saring()
            .args(["eval", "--input"])
            .arg(input)
            .arg("--model")
            .arg(&model)
            .output()
            .expect("runs")
    };
    let out = eval(&unlabeled);
    assert_success(&out);
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("left out 1 comment from --input without a label"));
    std::fs::write(&unlabeled, "{\"content\":\"no label\"}\n").expect("writes");
    let out = eval(&unlabeled);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("has a label"));
}

#[cfg(unix)]
#[test]
fn a_batch_stopped_by_a_signal_leaves_no_temporary_file() {
    use std::io::Write;
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let model = trained_model(dir.path());
    let lines = std::fs::read(fixture("tiny-corpus.jsonl")).expect("fixture");
    for (signal, code) in [("TERM", 143), ("INT", 130), ("HUP", 129)] {
        let out_dir = tempfile::tempdir().expect("temp dir");
        let output = out_dir.path().join("scored.jsonl");
        // Input from a pipe kept open: the batch is still running when the signal comes.
        let mut child = batch_from_a_pipe(&output, &model)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("runs");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(&lines).expect("writes");
        let temporary = || {
            std::fs::read_dir(out_dir.path())
                .expect("lists")
                .filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(".saring-batch-")
                })
                .count()
        };
        let started = std::time::Instant::now();
        while temporary() == 0 && started.elapsed() < std::time::Duration::from_secs(30) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(temporary(), 1, "the batch made its temporary file");
        // The handler is set up right after the file is made; give it a moment.
        std::thread::sleep(std::time::Duration::from_millis(200));
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let status = child.wait().expect("waits");
        drop(stdin);
        assert_eq!(status.code(), Some(code), "{signal}: {status:?}");
        assert_eq!(status.signal(), None);
        assert_eq!(temporary(), 0, "{signal}: the temporary file is removed");
        assert!(!output.exists(), "{signal}: no output is claimed");
    }
}

#[test]
fn csv_output_never_holds_a_spreadsheet_formula() {
    let (dir, model, input) = model_and_input(concat!(
        r#"{"id":"=1+1","content":"cheap pills","author":"=HYPERLINK(\"http://evil.example\")","post_title":"@home"}"#,
        "\n",
        r#"{"id":"7","content":"nice post","author":"Rina","post_title":"-5 tips"}"#,
        "\n"
    ));
    let output = dir.path().join("out.csv");
    assert_success(&batch(&input, &output, &model, &[]));
    let mut reader = csv::Reader::from_path(&output).expect("csv output");
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("rows");
    assert_eq!(&rows[0][0], "'=1+1");
    assert_eq!(&rows[0][1], "'@home");
    assert_eq!(&rows[0][2], "'=HYPERLINK(\"http://evil.example\")");
    assert_eq!(&rows[1][0], "7");
    assert_eq!(&rows[1][1], "'-5 tips");
    assert_eq!(&rows[1][2], "Rina");
    // JSON output is not a spreadsheet's: the values stay as they were.
    let json_out = dir.path().join("out.jsonl");
    assert_success(&batch(&input, &json_out, &model, &[]));
    let first = std::fs::read_to_string(&json_out).expect("output");
    let first: serde_json::Value =
        serde_json::from_str(first.lines().next().unwrap_or("")).expect("json");
    assert_eq!(first["author"], "=HYPERLINK(\"http://evil.example\")");
}

#[test]
fn eval_refuses_more_folds_than_comments() {
    let out = saring()
        .args(["eval", "--folds", "41", "--input"])
        .arg(fixture("tiny-corpus.jsonl"))
        .output()
        .expect("runs");
    let stderr = failure(&out);
    assert!(
        stderr.contains("41 folds for 40 distinct comments"),
        "{stderr}"
    );
    let out = saring()
        .args(["eval", "--folds", "40", "--input"])
        .arg(fixture("tiny-corpus.jsonl"))
        .output()
        .expect("runs");
    assert_success(&out);
}

#[cfg(unix)]
#[test]
fn train_reads_feedback_from_a_folder_it_may_not_write_to() {
    // The service's data folder, read by another account (the site owner retraining): the database
    // was closed cleanly, so it has no `-shm` file, and SQLite cannot make one there. Run as root, the
    // test runs `saring` as `nobody` (folder permissions do not bind root); otherwise as itself.
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let open = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    open(dir.path(), 0o755);
    let data = dir.path().join("data");
    let db = data.join("feedback.sqlite");
    {
        let store = saring::feedback::FeedbackStore::open(&db).expect("creates");
        for text in ["jual obat kuat murah", "cheap pills online"] {
            let comment = saring::engine::Comment::from_text(text);
            store
                .record(&comment, saring::engine::Label::Spam, "api", 1)
                .expect("stores");
        }
    }
    let files = |folder: &Path| {
        let mut names: Vec<_> = std::fs::read_dir(folder)
            .expect("lists")
            .map(|e| e.expect("entry").file_name())
            .collect();
        names.sort();
        names
    };
    assert_eq!(files(&data), ["feedback.sqlite"], "closed cleanly");
    open(&db, 0o644);
    open(&data, 0o555);
    // Everything the other account needs, where it may read it.
    let bin = dir.path().join("saring");
    std::fs::copy(assert_cmd::cargo::cargo_bin("saring"), &bin).expect("copies the binary");
    open(&bin, 0o755);
    let corpus = dir.path().join("corpus.jsonl");
    std::fs::copy(fixture("tiny-corpus.jsonl"), &corpus).expect("copies the corpus");
    open(&corpus, 0o644);
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).expect("creates");
    open(&out_dir, 0o777);
    // SAFETY: geteuid takes nothing and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let mut cmd = if root {
        let mut cmd = std::process::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin);
        cmd
    } else {
        std::process::Command::new(&bin)
    };
    let out = cmd
        .args(["train", "--input"])
        .arg(&corpus)
        .arg("--feedback")
        .arg(&db)
        .arg("--model")
        .arg(out_dir.join("model.saring"))
        .env_remove("SARING_MODEL")
        .output()
        .expect("runs (as root, setpriv from util-linux runs it as nobody)");
    open(&data, 0o755);
    assert_success(&out);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("adding 2 comments of moderators' feedback"),
        "{said}"
    );
    assert!(out_dir.join("model.saring").exists());
    assert_eq!(files(&data), ["feedback.sqlite"], "nothing left beside it");
}
