#!/usr/bin/env bash
# Instructions per comment (valgrind's callgrind), one thread: a measure of the code's cost that does not
# change with how fast this shared machine happens to be (wall times do, by 2x from one day to the next).
#   batch r0: `saring batch --reasons 0` of the benchmark's 20,000 comments;
#   batch r3: the same with 3 reasons each (the default);
#   train:    `saring train` on the benchmark's 20,000 labeled comments.
# Everything the process does counts (reading, parsing, writing, loading the model). Run
# `cargo bench --bench throughput` once first: it generates the inputs. Installs valgrind (Debian) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { apt-get update -q && apt-get install -y -q valgrind; }
cargo build --release -q
data=target/bench-data
model=$data/bench.saring
for f in "$data/batch-20000.jsonl" "$data/train-20000.jsonl" "$model"; do
  [ -f "$f" ] || { echo "missing $f: run SARING_BENCH_COMMENTS=20000 SARING_BENCH_TRAIN=20000 SARING_BENCH_WXR=1000 cargo bench --bench throughput first" >&2; exit 1; }
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
per_comment() {
  local total
  total=$(valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" "$@" 2>&1 >/dev/null |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
  echo $((total / 20000))
}
bin=target/release/saring
echo "batch r0: $(per_comment $bin batch --threads 1 --reasons 0 --input $data/batch-20000.jsonl --output "$out/s.jsonl" --model $model) instructions per comment"
echo "batch r3: $(per_comment $bin batch --threads 1 --input $data/batch-20000.jsonl --output "$out/s.jsonl" --model $model) instructions per comment"
echo "train:    $(RAYON_NUM_THREADS=1 per_comment $bin train --input $data/train-20000.jsonl --model "$out/t.saring") instructions per comment"
