#!/usr/bin/env bash
# Load test of `saring serve` (release build) on this machine: the README's service figures.
#  1. throughput of POST /v1/check with keep-alive (wrk, 64 connections);
#  2. latency at half that rate (oha, fixed rate, with latency correction, the same 64 connections:
#     with fewer, requests queue in the client for a free connection, not in the server), and at
#     20,000 requests/s, half the bar of 40,000 (the faster the server, the higher half its measured
#     rate, and oha, which spends more per request than wrk, shares the two cores with it);
#  3. reloads of the model under load: any failed request is counted.
# Traffic goes to 127.0.0.1 only, bounded in time. Installs wrk (Debian) and oha (crates.io) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
command -v wrk >/dev/null || { apt-get update -q && apt-get install -y -q wrk; }
command -v oha >/dev/null || cargo install oha --locked
cargo build --release -q
work=target/loadtest
rm -rf "$work" && mkdir -p "$work"
model=${SARING_MODEL:-models/default.saring}
if [ ! -f "$model" ]; then
  model=$work/model.saring
  target/release/saring train --input tests/fixtures/tiny-corpus.jsonl --model "$model" 2>/dev/null
fi
SARING_ADMIN_TOKEN=loadtest target/release/saring serve --listen 127.0.0.1:0 --rate-limit 0 \
  --model "$model" --data-dir "$work/data" >"$work/serve.out" 2>"$work/serve.err" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^saring listening on //p' "$work/serve.out")
url="$base/v1/check"
body=$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" scripts/loadtest-check.lua | sed "s/\\\\'/'/g")

# The machine's speed can change from one minute to the next: RUNS=N repeats the throughput and
# latency measurements N times and prints every run and the medians.
RUNS=${RUNS:-1}
summary=$work/summary.txt
: >"$summary"
for run in $(seq "$RUNS"); do
  echo "== run $run of $RUNS: throughput: wrk -t1 -c64 -d${DURATION}s POST /v1/check"
  wrk -t1 -c64 -d"${DURATION}s" --latency -s scripts/loadtest-check.lua "$url" | tee "$work/wrk.txt"
  if grep -q "Non-2xx" "$work/wrk.txt" || grep -q "Socket errors" "$work/wrk.txt"; then
    echo "FAILED: errors in the throughput run"; exit 1
  fi
  rps=$(awk '/^Requests\/sec/ {print int($2)}' "$work/wrk.txt")
  half=$((rps / 2))

  echo "== run $run of $RUNS: latency at half that rate: oha -q $half for ${DURATION}s"
  oha --no-tui -z "${DURATION}s" -c 64 -q "$half" --latency-correction -m POST \
    -H 'content-type: application/json' -d "$body" "$url" | tee "$work/oha.txt" | sed -n -e '/Summary/,/Average/p' -e '/Response time distribution/,/99.99%/p' -e '/Status code distribution/,/^$/p'
  # (oha's "Error distribution" may list requests it cut off itself at the end of its run: not errors.)
  if sed -n '/Status code distribution/,/^$/p' "$work/oha.txt" | grep -E '^\s+\[[0-9]+\]' | grep -vq '\[200\]'; then
    echo "FAILED: errors in the latency run"; exit 1
  fi
  p99=$(awk '/99.00% in/ {print $3, $4}' "$work/oha.txt")

  echo "== run $run of $RUNS: latency at 20000 requests/s (half the bar): oha -q 20000 for ${DURATION}s"
  oha --no-tui -z "${DURATION}s" -c 64 -q 20000 --latency-correction -m POST \
    -H 'content-type: application/json' -d "$body" "$url" | tee "$work/oha-bar.txt" | sed -n -e '/Response time distribution/,/99.99%/p' -e '/Status code distribution/,/^$/p'
  if sed -n '/Status code distribution/,/^$/p' "$work/oha-bar.txt" | grep -E '^\s+\[[0-9]+\]' | grep -vq '\[200\]'; then
    echo "FAILED: errors in the latency run at 20000 requests/s"; exit 1
  fi
  p99_bar=$(awk '/99.00% in/ {print $3, $4}' "$work/oha-bar.txt")
  echo "$rps $p99 $p99_bar" >>"$summary"
done
echo "== runs (requests/s with wrk; p99 at half that rate, and at 20000 requests/s, with oha)"
awk '{printf "run %d: %d req/s, p99 %s %s, at 20000/s %s %s\n", NR, $1, $2, $3, $4, $5}' "$summary"
if [ "$RUNS" -gt 1 ]; then
  median() { sort -g -k"$1" "$summary" | awk -v k="$1" '{a[NR]=$k} END {print a[int((NR+1)/2)]}'; }
  echo "median: $(median 1) req/s, p99 $(median 2) ms, at 20000/s $(median 4) ms"
fi

echo "== reloads under load: 20 reloads during ${DURATION}s of wrk"
wrk -t1 -c64 -d"${DURATION}s" -s scripts/loadtest-check.lua "$url" >"$work/wrk-reload.txt" &
load=$!
sleep 1
ok=0
for _ in $(seq 20); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer loadtest' "$base/v1/model/reload")
  [ "$code" = 200 ] && ok=$((ok + 1))
  sleep 0.3
done
wait $load
cat "$work/wrk-reload.txt"
echo "reloads that succeeded: $ok of 20"
if grep -q "Non-2xx" "$work/wrk-reload.txt" || grep -q "Socket errors" "$work/wrk-reload.txt"; then
  echo "FAILED: requests failed during reloads"; exit 1
fi
echo "no failed requests during reloads"
