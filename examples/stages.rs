use saring::engine::normalize::Obfuscation;
use saring::engine::normalize::{normalize_into, NormalizedText};
use saring::engine::tokenize::{tokenize_into, Tokens};
use saring::engine::{Comment, FeatureExtractor, ModelFile};
use std::time::Instant;
fn main() {
    let comments: Vec<Comment> = std::fs::read_to_string("/tmp/b200k.jsonl")
        .unwrap()
        .lines()
        .take(100000)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let model = ModelFile::load(std::path::Path::new("target/bench-data/bench.saring")).unwrap();
    let n = comments.len() as f64;
    let mut nt = NormalizedText::default();
    let t = Instant::now();
    for c in &comments {
        normalize_into(&c.content, &mut nt);
    }
    println!("normalize {:.0} ns", t.elapsed().as_nanos() as f64 / n);
    let mut toks = Tokens::default();
    let t = Instant::now();
    for c in &comments {
        normalize_into(&c.content, &mut nt);
        let mut f = Obfuscation::default();
        tokenize_into(&nt.text, &mut toks, &mut f);
    }
    println!("+tokenize {:.0} ns", t.elapsed().as_nanos() as f64 / n);
    let mut ex = FeatureExtractor::new();
    let mut ids = Vec::new();
    let t = Instant::now();
    let mut total = 0usize;
    for c in &comments {
        ids.clear();
        ex.extract(c, &mut ids);
        total += ids.len();
    }
    println!(
        "extract {:.0} ns ({} features avg)",
        t.elapsed().as_nanos() as f64 / n,
        total as f64 / n
    );
    let t = Instant::now();
    for c in &comments {
        ex.ids(c, &mut ids);
    }
    println!("+sort {:.0} ns", t.elapsed().as_nanos() as f64 / n);
    let t = Instant::now();
    let mut s = 0.0;
    for c in &comments {
        s += model.score(c, &mut ex, &mut ids).score;
    }
    println!(
        "+score {:.0} ns {}",
        t.elapsed().as_nanos() as f64 / n,
        s > 0.0
    );
    let lines: Vec<String> = std::fs::read_to_string("/tmp/b200k.jsonl")
        .unwrap()
        .lines()
        .take(100000)
        .map(|l| l.to_owned())
        .collect();
    let t = Instant::now();
    let mut k = 0;
    for l in &lines {
        let c: Comment = serde_json::from_str(l).unwrap();
        k += c.content.len();
    }
    println!(
        "parse {:.0} ns {}",
        t.elapsed().as_nanos() as f64 / n,
        k > 0
    );
}
