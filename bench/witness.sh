#!/usr/bin/env bash
# Witnessing benchmark: the cost of witnessing to writes, and how soon checkpoints are
# cosigned. The release server on a fresh SQLite database takes durable signature submissions
# from wrk (64 connections), once without a witness policy and once with a policy of two local
# `amity witness` servers and a quorum of both, alternating ROUNDS times in one run (these
# machines are noisy; compare within a run). After each witnessed round it reads from the
# database:
#
# - checkpoint to quorum: for each checkpoint both witnesses cosigned, the time from the
#   checkpoint's signing to the storing of the second cosignature;
# - entry to quorum: for each log entry written during the load, the time from its logging to
#   the storing of the quorum on the first checkpoint that covers it (this one includes the
#   wait for the next checkpoint, AMITY_WITNESS_INTERVAL_MS, default 1000).
#
#   bench/witness.sh
#
# Knobs (environment): DURATION (default 10s per run), CONC (default 64), ROUNDS (default 3),
# MOUS (default 2500: 125,000 prepared signatures, more than a run submits),
# AMITY_WITNESS_INTERVAL_MS (passed to the server), OUT (working directory, default
# target/bench-witness, removed at the end unless KEEP=1).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DURATION=${DURATION:-10s}
MOUS=${MOUS:-2500}
CONC=${CONC:-64}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-$ROOT/target/bench-witness}
PORT=${PORT:-$((20000 + RANDOM % 20000))}
W1_PORT=$((PORT + 1))
W2_PORT=$((PORT + 2))

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
need_tools wrk curl python3
build_bench_bins

rm -rf "$OUT"
mkdir -p "$OUT"
finish() {
  cleanup_on_exit
  if [ "${KEEP:-0}" != 1 ]; then rm -rf "$OUT"; fi
}
trap finish EXIT
RESULTS=$OUT/results.tsv
: >"$RESULTS"

# stop PID: stops a server and waits for it, so the next round's ports are free.
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# one_round N MODE: a fresh registry (MODE off: no policy; on: two witnesses, quorum 2),
# its fixture made over HTTP, then wrk. Appends "MODE ok_per_s p50 p99" to $RESULTS.
one_round() {
  local n=$1 mode=$2
  local dir=$OUT/$mode-$n
  mkdir -p "$dir"
  local url="sqlite://$dir/amity.db"
  "$AMITY_BIN" keygen --registry --keys-dir "$dir/keys" >/dev/null 2>&1
  local vkey
  vkey=$(cat "$dir/keys/registry.vkey")
  local env=(AMITY_BIND="127.0.0.1:$PORT" DATABASE_URL="$url" AMITY_KEYS_DIR="$dir/keys"
    AMITY_AUTO_APPROVE_KEYS=true RUST_LOG=warn)
  local wpids=()
  if [ "$mode" = on ]; then
    local city port
    for city in berlin lyon; do
      "$AMITY_BIN" witness keygen --dir "$dir/witness-$city" --name "witness.$city.example/w1" \
        >"$dir/$city.vkey" 2>/dev/null
      "$AMITY_BIN" witness add-log --dir "$dir/witness-$city" --origin amity.localhost \
        --key "$vkey" >/dev/null 2>&1
    done
    "$AMITY_BIN" witness serve --dir "$dir/witness-berlin" --bind "127.0.0.1:$W1_PORT" >"$dir/berlin.log" 2>&1 &
    wpids+=($!)
    "$AMITY_BIN" witness serve --dir "$dir/witness-lyon" --bind "127.0.0.1:$W2_PORT" >"$dir/lyon.log" 2>&1 &
    wpids+=($!)
    PIDS+=("${wpids[@]}")
    wait_http "http://127.0.0.1:$W1_PORT/"
    wait_http "http://127.0.0.1:$W2_PORT/"
    cat >"$dir/witnesses.policy" <<POLICY
log $vkey
witness berlin $(cat "$dir/berlin.vkey") http://127.0.0.1:$W1_PORT
witness lyon $(cat "$dir/lyon.vkey") http://127.0.0.1:$W2_PORT
group partners all berlin lyon
quorum partners
POLICY
    env+=(AMITY_WITNESS_POLICY="$dir/witnesses.policy")
  fi
  env "${env[@]}" "$AMITY_BIN" serve >"$dir/server.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait_http "http://127.0.0.1:$PORT/healthz"
  local admin
  admin=$("$AMITY_BIN" admin create-token --role admin --database-url "$url" 2>/dev/null)
  local api=http://127.0.0.1:$PORT
  "$PREP_BIN" "$api" "$admin" "$dir/prep" --groups 1 --mous "$MOUS" --signers "${SIGNERS:-25}" >/dev/null 2>&1
  # Let the witnesses catch up with the fixture, so the load starts from a cosigned log.
  if [ "$mode" = on ]; then curl -sf -o /dev/null --max-time 30 "$api/api/v1/log/checkpoint?witnessed=1"; fi
  local size_before
  size_before=$(curl -sf "$api/api/v1/log/checkpoint" | sed -n 2p)
  local log=$dir/wrk.txt
  WRK_THREADS=2 wrk -t2 -c"$CONC" -d"$DURATION" --latency --timeout 30s -s bench/signatures.lua "$api" -- "$dir/prep/sig-0.tsv" >"$log" 2>&1
  if [ "$mode" = on ]; then
    # The witnesses cosign what the load wrote: wait for the quorum on the final size.
    curl -sf -o /dev/null --max-time 60 "$api/api/v1/log/checkpoint?witnessed=1"
  fi
  stop "$pid"
  for p in "${wpids[@]}"; do stop "$p"; done
  wrk_summary "$mode" "$log" >>"$RESULTS"
  if [ "$mode" = on ]; then
    python3 - "$dir/amity.db" "$size_before" "$OUT" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
size_before, out = int(sys.argv[2]), sys.argv[3]
# Checkpoints cosigned by both witnesses (quorum "all of two"), with when the quorum was stored.
quorum = db.execute(
    "SELECT c.size, c.created_at, MAX(s.received_at) FROM checkpoints c "
    "JOIN checkpoint_cosignatures s ON s.size = c.size WHERE c.size > ? "
    "GROUP BY c.size HAVING COUNT(DISTINCT s.witness) = 2 ORDER BY c.size",
    (size_before,),
).fetchall()
signed = db.execute("SELECT COUNT(*) FROM checkpoints WHERE size > ?", (size_before,)).fetchone()[0]
with open(f"{out}/checkpoints.txt", "a") as f:
    f.write(f"{signed} {len(quorum)}\n")
with open(f"{out}/checkpoint_ms.txt", "a") as f:
    for _, created, done in quorum:
        f.write(f"{(done - created) / 1000}\n")
# Each entry: from its logging to the quorum on the first checkpoint that covers it.
entries = db.execute("SELECT idx, logged_at FROM log_entries WHERE idx >= ? ORDER BY idx", (size_before,))
q = 0
with open(f"{out}/entry_ms.txt", "a") as f:
    for idx, logged in entries:
        while q < len(quorum) and quorum[q][0] <= idx:
            q += 1
        if q < len(quorum):
            f.write(f"{(quorum[q][2] - logged) / 1000}\n")
PY
  fi
}

for n in $(seq 1 "$ROUNDS"); do
  one_round "$n" off
  one_round "$n" on
done

echo "| witnessing | signatures/s (64 conn) | p50 ms | p99 ms | non-2xx |"
echo "|---|---|---|---|---|"
awk -F'\t' '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }' "$RESULTS"
awk -F'\t' '{ sum[$1] += $2; n[$1]++ } END { if (n["off"] && n["on"]) printf "\nthroughput with witnessing on / off: %.2f (mean of %d rounds each)\n", (sum["on"] / n["on"]) / (sum["off"] / n["off"]), n["on"] }' "$RESULTS"
python3 - "$OUT" <<'PY'
import sys
out = sys.argv[1]
def values(name):
    with open(f"{out}/{name}") as f:
        return sorted(float(line) for line in f if line.strip())
def pct(v, p):
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
with open(f"{out}/checkpoints.txt") as f:
    signed, cosigned = map(sum, zip(*(map(int, line.split()) for line in f)))
cp, entry = values("checkpoint_ms.txt"), values("entry_ms.txt")
print(f"\ncheckpoints signed during the witnessed loads: {signed}, cosigned by both witnesses: {cosigned}")
print(f"checkpoint to quorum (ms, {len(cp)} checkpoints): p50 {pct(cp, 50):.1f}, p99 {pct(cp, 99):.1f}, max {cp[-1]:.1f}")
print(f"entry to quorum (ms, {len(entry)} entries): p50 {pct(entry, 50):.0f}, p99 {pct(entry, 99):.0f}, max {entry[-1]:.0f}")
PY
