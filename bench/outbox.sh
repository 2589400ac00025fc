#!/usr/bin/env bash
# Outbox benchmark: what notifications cost the write path, and how fast they arrive. The load
# benchmark's write scenario (durable signature submission, bench/load.sh) runs twice in one
# run on fresh SQLite registries: once with no webhook endpoint, once with an endpoint for each
# party city subscribed to every event type, delivering to a local receiver
# (bench/webhook_receiver.py). Reported: signatures per second of both runs and their ratio,
# and for the second run the deliveries received and their latency from the event's log entry
# to its arrival (p50, p99), after the outbox drained.
#
#   bench/outbox.sh
#
# Knobs (environment): DURATION (default 5s), CONC (connections, default 64), MOUS (MOUs
# prepared, default 20000: enough that the run does not sign them all), OUT (results
# directory, default target/bench-outbox).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DURATION=${DURATION:-5s}
CONC=${CONC:-64}
OUT=${OUT:-$ROOT/target/bench-outbox}
PORT=${PORT:-$((20000 + RANDOM % 20000))}
RECEIVER_PORT=$((PORT + 1))

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
need_tools wrk curl python3
build_bench_bins
rm -rf "$OUT"
mkdir -p "$OUT"
trap cleanup_on_exit EXIT

python3 bench/webhook_receiver.py "$RECEIVER_PORT" "$OUT/received.tsv" &
PIDS+=("$!")
: >"$OUT/received.tsv"

# run MODE: a fresh registry, prepared by loadprep; with MODE=webhooks each party city gets an
# endpoint for every event; then wrk submits signatures. Prints "MODE<TAB>ok/s<TAB>p50<TAB>p99".
run() {
  local mode=$1 dir=$OUT/$1
  mkdir -p "$dir"
  local url="sqlite://$dir/amity.db"
  local admin
  "$AMITY_BIN" migrate --database-url "$url" >/dev/null 2>&1
  admin=$("$AMITY_BIN" admin create-token --role admin --database-url "$url" 2>/dev/null)
  AMITY_BIND="127.0.0.1:$PORT" DATABASE_URL="$url" AMITY_KEYS_DIR="$dir/keys" \
    AMITY_AUTO_APPROVE_KEYS=true AMITY_WEBHOOK_ALLOW_INTERNAL=true RUST_LOG=warn \
    "$AMITY_BIN" serve >"$dir/server.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  local api=http://127.0.0.1:$PORT
  wait_http "$api/healthz"
  "$PREP_BIN" "$api" "$admin" "$dir/prep" --groups 1 --mous "${MOUS:-20000}" --signers 1 --block 512 >&2
  if [ "$mode" = webhooks ]; then
    local events='["signature_request.sent","signature_request.signed","signature_request.declined","signature_request.expired","signature_request.reminder","mou.executed","partnership.status_changed"]'
    for city in aq-mcm aq-vos; do
      curl -sf -X POST "$api/api/v1/cities/$city/webhooks" -H "Authorization: Bearer $admin" \
        -H 'Content-Type: application/json' \
        -d "{\"url\": \"http://127.0.0.1:$RECEIVER_PORT/$city\", \"event_types\": $events}" >/dev/null
    done
  fi
  local log=$dir/wrk.txt
  WRK_THREADS=2 wrk -t2 -c"$CONC" -d"$DURATION" --latency --timeout 30s -s bench/signatures.lua \
    "$api" -- "$dir/prep/sig-0.tsv" >"$log" 2>&1
  if [ "$mode" = webhooks ]; then
    # The outbox drains after the load: wait until no delivery arrived for 5 s.
    local last=-1 now
    while now=$(wc -l <"$OUT/received.tsv") && [ "$now" != "$last" ]; do
      last=$now
      sleep 5
    done
  fi
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  wrk_summary "$mode" "$log"
}

{
  printf 'mode\tsignatures_per_s\tp50_ms\tp99_ms\terrors\n'
  run none
  run webhooks
} >"$OUT/results.tsv"

python3 - "$OUT/results.tsv" "$OUT/received.tsv" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
rate = {r[0]: float(r[1]) for r in rows}
lines = [l.split("\t") for l in open(sys.argv[2]) if l.strip()]
latency = sorted(float(a) - float(t) for a, _, t in lines)
ids = {i for _, i, _ in lines}
def pct(p):
    return latency[min(len(latency) - 1, int(p * len(latency)))] if latency else float("nan")
print("| run | signatures/s | p50 ms | p99 ms | errors |")
print("|---|---|---|---|---|")
for r in rows:
    print(f"| {r[0]} | {float(r[1]):,.0f} | {r[2]} | {r[3]} | {r[4]} |")
print()
print(f"with webhooks / without: {rate['webhooks'] / rate['none']:.2f}x")
span = (max(float(a) for a, _, _ in lines) - min(float(a) for a, _, _ in lines)) if lines else 0
print(f"deliveries: {len(lines)} ({len(ids)} distinct webhook-id), "
      f"{len(lines) / span if span else 0:.0f}/s while arriving; latency from log entry to "
      f"arrival p50 {pct(0.50):.2f} s, p99 {pct(0.99):.2f} s")
PY
