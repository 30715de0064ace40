#!/usr/bin/env bash
# Load test of `saring serve` (release build) on this machine: the README's service figures.
#  1. throughput of POST /v1/check with keep-alive (wrk, 64 connections);
#  2. latency at half that rate (oha, fixed rate, with latency correction, the same 64 connections:
#     with fewer, requests queue in the client for a free connection, not in the server), and at
#     20,000 requests/s, half the bar of 40,000;
#  3. reloads of the model under load: any failed request is counted.
# Each latency figure is the p99 of every request of three back-to-back oha runs of DURATION/3
# seconds' worth of requests each, at most 120,000, read from the per-request records oha writes
# (--db-url). Why not one long run: oha keeps every result in one queue until its run ends, and each
# time that queue doubles oha stalls while it copies it; the requests it should have sent meanwhile go
# out late and count as latency, while the server sits idle. The longest stalls, 10 to 30 ms, come at
# 131,072 and 262,144 results (3.5 and 7.1 s into a run at 37,000/s), which a run of 120,000 never
# reaches; the shorter ones at 32,768 and 65,536 remain (README, "Service load").
# Traffic goes to 127.0.0.1 only, bounded in time. Installs wrk, sqlite3 (Debian) and oha (crates.io)
# if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
if ! command -v wrk >/dev/null || ! command -v sqlite3 >/dev/null; then
  apt-get update -q && apt-get install -y -q wrk sqlite3
fi
# The reasoning above and the parsing of its output are for oha 1.16.
command -v oha >/dev/null || cargo install oha --locked --version 1.16.0
case "$(oha --version)" in
  "oha 1.16."*) ;;
  *) echo "note: $(oha --version) installed; what follows was worked out for oha 1.16" >&2 ;;
esac
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

# latency RATE NAME: three oha runs at RATE requests/s, each of DURATION/3 seconds' worth of requests
# but at most 120,000; fails on any error or any status but 200 (every request asked for must be in
# oha's records, which hold only those answered); prints the p50, p99, p99.9 and slowest of all their
# requests, and leaves the p99 in ms in $work/NAME.p99.
latency() {
  local rate=$1 name=$2 db=$work/$2.db n out stats
  n=$((rate * DURATION / 3))
  [ "$n" -le 120000 ] || n=120000
  [ "$n" -ge 1 ] || n=1
  rm -f "$db"
  for part in 1 2 3; do
    out=$work/$name-$part.txt
    if ! oha --no-tui -u ms -n "$n" -c 64 -q "$rate" --latency-correction -m POST \
      -H 'content-type: application/json' -d "$body" --db-url "$db" "$url" >"$out" 2>"$out.err"; then
      cat "$out" "$out.err"; echo "FAILED: oha did not finish (latency run at $rate requests/s)"; exit 1
    fi
    if grep -q '^Error distribution' "$out" ||
      ! awk '/^Status code distribution/ {s = 1; next} s && /^ *\[/ && $1 != "[200]" {bad = 1} END {exit bad}' "$out"; then
      cat "$out"; echo "FAILED: errors in the latency run at $rate requests/s"; exit 1
    fi
    printf '  part %d: %s requests in %s, p99 %s ms\n' "$part" "$n" \
      "$(awk '/Total:/ {print $2, $3}' "$out")" "$(awk '/99.00% in/ {print $3}' "$out")"
  done
  stats=$(sqlite3 -batch -bail -noheader -list -init /dev/null "$db" "
    WITH r AS (SELECT duration * 1000 AS ms, row_number() OVER (ORDER BY duration) AS k,
                      count(*) OVER () AS n FROM oha)
    SELECT n, max(CASE WHEN k = (n + 1) / 2 THEN ms END), max(CASE WHEN k = (99 * n + 99) / 100 THEN ms END),
           max(CASE WHEN k = (999 * n + 999) / 1000 THEN ms END), max(ms) FROM r;")
  if [ "${stats%%|*}" != $((3 * n)) ]; then
    echo "FAILED: oha recorded ${stats%%|*} answered requests of the $((3 * n)) sent at $rate requests/s"; exit 1
  fi
  awk -F'|' -v out="$work/$name.p99" '{printf "  all %d requests: p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, slowest %.2f ms\n", $1, $2, $3, $4, $5;
                                       printf "%.2f\n", $3 > out}' <<<"$stats"
}

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
  if [ "$half" -lt 1 ]; then
    echo "FAILED: wrk measured no throughput"; exit 1
  fi

  echo "== run $run of $RUNS: latency at half that rate, $half requests/s (oha, 3 runs)"
  latency "$half" half
  p99=$(cat "$work/half.p99")

  echo "== run $run of $RUNS: latency at 20000 requests/s, half the bar (oha, 3 runs)"
  latency 20000 bar
  p99_bar=$(cat "$work/bar.p99")
  echo "$rps $p99 $p99_bar" >>"$summary"
done
echo "== runs (requests/s with wrk; p99 at half that rate, and at 20000 requests/s, with oha)"
awk '{printf "run %d: %d req/s, p99 %s ms, at 20000/s %s ms\n", NR, $1, $2, $3}' "$summary"
if [ "$RUNS" -gt 1 ]; then
  median() { sort -g -k"$1" "$summary" | awk -v k="$1" '{a[NR]=$k} END {print a[int((NR+1)/2)]}'; }
  echo "median: $(median 1) req/s, p99 $(median 2) ms, at 20000/s $(median 3) ms"
fi

echo "== reloads under load: 20 reloads during ${DURATION}s of wrk"
wrk -t1 -c64 -d"${DURATION}s" -s scripts/loadtest-check.lua "$url" >"$work/wrk-reload.txt" &
load=$!
sleep 1
# The 20 reloads spread over the load's middle (1 s after it starts to 1 s before it ends).
gap=$(awk -v d="$DURATION" 'BEGIN {g = (d - 2) / 20; printf "%.3f", (g > 0 ? g : 0)}')
ok=0
for _ in $(seq 20); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer loadtest' \
    "$base/v1/model/reload" || true)
  [ "$code" = 200 ] && ok=$((ok + 1))
  sleep "$gap"
done
wait $load
cat "$work/wrk-reload.txt"
echo "reloads that succeeded: $ok of 20"
if grep -q "Non-2xx" "$work/wrk-reload.txt" || grep -q "Socket errors" "$work/wrk-reload.txt"; then
  echo "FAILED: requests failed during reloads"; exit 1
fi
if [ "$ok" -ne 20 ]; then
  echo "FAILED: $((20 - ok)) of the 20 reloads did not succeed"; exit 1
fi
echo "no failed requests during reloads"
