//! Throughput benchmark: batch scoring of 1,000,000 comments, training on 200,000, and the latency of
//! scoring one comment. Run with `cargo bench --bench throughput` (figures go in the README).
//!
//! The comments are generated from the test fixture corpus: each is a fixture comment with a few
//! extra words drawn from the corpus vocabulary, so texts are distinct and of realistic length, and,
//! as in real exports, a post's comments come together (runs of 1 to 40 share a post title).
//! The CLI runs as a child process so that its wall time and peak memory (max RSS) are its own.
//! A WXR export of 1,000,000 comments (with approved, pending, spam and trash statuses) is generated the
//! same way, batch-scored to CSV and trained on. `SARING_BENCH_COMMENTS`, `SARING_BENCH_TRAIN` and
//! `SARING_BENCH_WXR` change the sizes. Training and the two batch runs are timed `SARING_BENCH_RUNS`
//! times (3 unless told), with the best and the median reported; the WXR runs once each.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use saring::engine::{Comment, FeatureExtractor, ModelFile};

const FIXTURE: &str = include_str!("../tests/fixtures/tiny-corpus.jsonl");

/// A small deterministic generator (xorshift), so every run scores the same comments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn generate(path: &Path, n: usize, labeled: bool, seed: u64) -> std::io::Result<()> {
    let base: Vec<Comment> = FIXTURE
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let words: Vec<&str> = FIXTURE
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 2)
        .collect();
    let titles: Vec<Option<String>> = base.iter().map(|c| c.post_title.clone()).collect();
    let mut rng = Rng(seed);
    let mut out = BufWriter::new(File::create(path)?);
    // Exports list a post's comments together: runs of 1 to 40 comments share a post title.
    let mut title = None;
    let mut left_in_post = 0;
    for i in 0..n {
        if left_in_post == 0 {
            title = titles[rng.below(titles.len())].clone();
            left_in_post = 1 + rng.below(40);
        }
        left_in_post -= 1;
        let mut c = base[rng.below(base.len())].clone();
        c.post_title = title.clone();
        for _ in 0..(1 + rng.below(4)) {
            c.content.push(' ');
            c.content.push_str(words[rng.below(words.len())]);
        }
        c.id = Some(format!("c{i}"));
        if !labeled {
            c.label = None;
        }
        serde_json::to_writer(&mut out, &c)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// A WXR export of `n` comments, 1 to 40 per post, with moderation statuses.
fn generate_wxr(path: &Path, n: usize, seed: u64) -> std::io::Result<()> {
    let base: Vec<Comment> = FIXTURE
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut rng = Rng(seed);
    let mut out = BufWriter::new(File::create(path)?);
    writeln!(
        out,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:wp="http://wordpress.org/export/1.2/"><channel><title>bench</title>"#
    )?;
    let mut written = 0;
    let mut post = 0;
    while written < n {
        post += 1;
        let title = base[rng.below(base.len())]
            .post_title
            .clone()
            .unwrap_or_default();
        writeln!(
            out,
            "<item><title>{}</title><link>https://blog.example/p/{post}</link>",
            esc(&title)
        )?;
        for _ in 0..(1 + rng.below(40)).min(n - written) {
            let c = &base[rng.below(base.len())];
            let status = match (c.label, rng.below(10)) {
                (_, 0) => "0",
                (_, 1) => "trash",
                (Some(saring::engine::Label::Spam), _) => "spam",
                _ => "1",
            };
            writeln!(
                out,
                "<wp:comment><wp:comment_id>{written}</wp:comment_id><wp:comment_author><![CDATA[{}]]></wp:comment_author>\
                 <wp:comment_author_url>{}</wp:comment_author_url><wp:comment_content><![CDATA[{} {}]]></wp:comment_content>\
                 <wp:comment_approved>{status}</wp:comment_approved><wp:comment_type>{}</wp:comment_type></wp:comment>",
                c.author.as_deref().unwrap_or("reader"),
                esc(c.author_url.as_deref().unwrap_or("")),
                c.content,
                written,
                c.kind.as_deref().unwrap_or(""),
            )?;
            written += 1;
        }
        writeln!(out, "</item>")?;
    }
    writeln!(out, "</channel></rss>")?;
    out.flush()
}

/// The machine's speed right now, as the time of a fixed piece of work (sorting 262,144 pseudo-random
/// numbers 16 times on one thread, best of three): this machine is shared and its speed changes by half
/// from one day or one minute to the next, so figures of different runs compare only with it. (Small,
/// so this process stays small: a child started by `posix_spawn` inherits its peak memory.)
fn reference_ms() -> f64 {
    let mut rng = Rng(0x5eed);
    let keys: Vec<u64> = (0..1 << 18).map(|_| rng.next()).collect();
    let mut k = keys.clone();
    (0..3)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..16 {
                k.copy_from_slice(&keys);
                k.sort_unstable();
            }
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            assert!(k.windows(2).all(|w| w[0] <= w[1]));
            ms
        })
        .fold(f64::INFINITY, f64::min)
}

/// Removes a file a run writes, before the run (outside its time): each run writes a new file.
/// Replacing an existing one would add the filesystem's cost of freeing the old one, not the run's:
/// 40 ms for the 220 MB of a batch with reasons on this machine, whose ext4 is mounted with `discard`.
fn fresh(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::NotFound,
            "cannot remove {path:?}: {e}"
        );
    }
    // The removal committed before the run starts, so none of its work falls inside the run.
    saring::engine::model_file::sync_folder(&saring::engine::model_file::folder_of(path));
}

/// Wall times of several runs of one command, and the most memory any of them took.
struct Timed {
    best: f64,
    median: f64,
    rss: f64,
}

/// Runs the saring binary `runs` times, `before` each run (outside its time). The machine's speed
/// changes from one minute to the next (see [`reference_ms`]): the best run says what the program can
/// do, the median what a run is likely to take.
fn timed(runs: usize, before: impl Fn(), args: &[&std::ffi::OsStr]) -> Timed {
    let mut walls = Vec::with_capacity(runs);
    let mut rss: f64 = 0.0;
    for _ in 0..runs {
        before();
        let (wall, peak) = run(args);
        walls.push(wall);
        rss = rss.max(peak);
    }
    walls.sort_by(f64::total_cmp);
    Timed {
        best: walls[0],
        median: walls[walls.len() / 2],
        rss,
    }
}

/// Runs the saring binary; returns wall seconds and peak memory in MiB.
// The child is reaped by `wait4`, which also reports its own peak memory.
#[allow(clippy::zombie_processes)]
fn run(args: &[&std::ffi::OsStr]) -> (f64, f64) {
    let start = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_saring"))
        .args(args)
        .spawn()
        .expect("saring starts");
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child and fills a zeroed rusage.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = start.elapsed().as_secs_f64();
    assert!(
        pid > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "saring {args:?} failed"
    );
    (wall, usage.ru_maxrss as f64 / 1024.0)
}

fn main() {
    let size = |var: &str, default: usize| {
        std::env::var(var)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let n_batch = size("SARING_BENCH_COMMENTS", 1_000_000);
    let n_train = size("SARING_BENCH_TRAIN", 200_000);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).expect("bench folder");
    let train_file = dir.join(format!("train-{n_train}.jsonl"));
    let batch_file = dir.join(format!("batch-{n_batch}.jsonl"));
    let model = dir.join("bench.saring");
    let scores = dir.join("scores.jsonl");
    if !train_file.exists() {
        generate(&train_file, n_train, true, 7).expect("training data");
    }
    if !batch_file.exists() {
        generate(&batch_file, n_batch, false, 11).expect("batch data");
    }
    let runs = size("SARING_BENCH_RUNS", 3).max(1);
    let os = |p: &Path| p.as_os_str().to_owned();
    let reference_before = reference_ms();

    let train = timed(
        runs,
        || {},
        &[
            "train".as_ref(),
            "--input".as_ref(),
            &os(&train_file),
            "--model".as_ref(),
            &os(&model),
        ],
    );
    // The two batch runs differ only in their reasons.
    let batch_args = |reasons: &[&str]| {
        let mut args: Vec<std::ffi::OsString> = vec!["batch".into()];
        args.extend(reasons.iter().map(Into::into));
        for (flag, path) in [
            ("--input", &batch_file),
            ("--output", &scores),
            ("--model", &model),
        ] {
            args.extend([flag.into(), os(path)]);
        }
        args
    };
    let timed_batch = |reasons: &[&str]| {
        let args = batch_args(reasons);
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        timed(runs, || fresh(&scores), &args)
    };
    let batch = timed_batch(&[]);
    let fast = timed_batch(&["--reasons", "0"]);

    let n_wxr = size("SARING_BENCH_WXR", 1_000_000);
    let wxr_file = dir.join(format!("export-{n_wxr}.wxr"));
    if !wxr_file.exists() {
        generate_wxr(&wxr_file, n_wxr, 13).expect("WXR export");
    }
    let wxr_scores = dir.join("wxr-scores.csv");
    fresh(&wxr_scores);
    let (wxr_wall, wxr_rss) = run(&[
        "batch".as_ref(),
        "--input".as_ref(),
        &os(&wxr_file),
        "--output".as_ref(),
        &os(&wxr_scores),
        "--model".as_ref(),
        &os(&model),
    ]);
    let wxr_model = dir.join("wxr.saring");
    let (wxr_train_wall, wxr_train_rss) = run(&[
        "train".as_ref(),
        "--input".as_ref(),
        &os(&wxr_file),
        "--model".as_ref(),
        &os(&wxr_model),
    ]);

    // One comment at a time, in process: features, lookups and calibration.
    let model = ModelFile::load(&model).expect("model loads");
    let comments: Vec<Comment> = FIXTURE
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let mut extractor = FeatureExtractor::new();
    let mut ids = Vec::new();
    let rounds = 5_000;
    let start = Instant::now();
    let mut sink = 0.0;
    for _ in 0..rounds {
        for c in &comments {
            sink += model.score(c, &mut extractor, &mut ids).score;
        }
    }
    let per_comment = start.elapsed().as_secs_f64() / (rounds * comments.len()) as f64;
    let start = Instant::now();
    for _ in 0..rounds / 10 {
        for c in &comments {
            sink += model.explain(c, &mut extractor, 5).0.score;
        }
    }
    let per_explained = start.elapsed().as_secs_f64() / (rounds / 10 * comments.len()) as f64;
    assert!(sink.is_finite());

    let reference_after = reference_ms();
    println!(
        "| what | comments | wall time, best of {runs} | comments/s | median wall time, comments/s | peak memory |"
    );
    println!("|---|---|---|---|---|---|");
    for (what, n, t) in [
        ("`saring train`", n_train, &train),
        ("`saring batch` (3 reasons each)", n_batch, &batch),
        ("`saring batch --reasons 0`", n_batch, &fast),
    ] {
        println!(
            "| {what} | {n} | {:.2} s | {:.0} | {:.2} s, {:.0} | {:.0} MiB |",
            t.best,
            n as f64 / t.best,
            t.median,
            n as f64 / t.median,
            t.rss
        );
    }
    println!(
        "| `saring batch` of a WXR export, CSV out (3 reasons), one run | {n_wxr} | {wxr_wall:.2} s | {:.0} | | {wxr_rss:.0} MiB |",
        n_wxr as f64 / wxr_wall
    );
    println!(
        "| `saring train` on the same WXR export, one run | {n_wxr} | {wxr_train_wall:.2} s | {:.0} | | {wxr_train_rss:.0} MiB |",
        n_wxr as f64 / wxr_train_wall
    );
    println!(
        "| score one comment (in process) | {} | {:.2} µs each | {:.0} | | |",
        rounds * comments.len(),
        per_comment * 1e6,
        1.0 / per_comment
    );
    println!(
        "| score and explain one comment | {} | {:.2} µs each | {:.0} | | |",
        rounds / 10 * comments.len(),
        per_explained * 1e6,
        1.0 / per_explained
    );
    println!(
        "\nmachine reference (16 sorts of 262,144 pseudo-random u64, one thread, best of 3): {reference_before:.0} ms before, {reference_after:.0} ms after"
    );
}
