#!/usr/bin/env bash
# Load benchmark: Amity's release server on a fresh database, driven over loopback by wrk,
# each scenario next to a bare actix-web baseline (bench binary `amity-baseline`) measured by
# the same generator in the same run. Prints a Markdown table and writes results to $OUT.
#
#   bench/load.sh                      # SQLite
#   AMITY_BENCH_POSTGRES_URL=postgres://amity:amity@localhost/postgres bench/load.sh
#                                      # SQLite, then PostgreSQL (a fresh database is created
#                                      # through that URL's server and dropped afterwards)
#   AMITY_BENCH_POSTGRES_URL=... AMITY_BENCH_POSTGRES_REPLICA_URL=postgres://amity:amity@localhost:5433/postgres bench/load.sh
#                                      # ... then reads with a streaming replica of that server:
#                                      # two servers reading from the replica against one
#                                      # server without, same data, same run
#
# Knobs (environment): DURATION (default 5s per run), SWEEP (concurrency levels for signature
# submission, default "1 4 16 64 256"), CONC (connections for the other scenarios, default 64),
# OUT (results directory, default target/bench-load), AMITY_BIN (server binary to measure,
# default target/release/amity; lets a run compare an older build).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DURATION=${DURATION:-5s}
SWEEP=${SWEEP:-"1 4 16 64 256"}
CONC=${CONC:-64}
OUT=${OUT:-$ROOT/target/bench-load}
PORT=${PORT:-$((20000 + RANDOM % 20000))}
BASE_PORT=$((PORT + 1))
read -r -a LEVELS <<<"$SWEEP"
GROUPS_NEEDED=${#LEVELS[@]}

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
# The load generator and the small tool the script uses, installed only when missing.
need_tools wrk curl

build_bench_bins

rm -rf "$OUT"
mkdir -p "$OUT"
RESULTS=$OUT/results.tsv
printf 'backend\tscenario\tconc\tok_per_s\tp50\tp99\trss_mib\terrors\n' >"$RESULTS"

trap cleanup_on_exit EXIT

# run_wrk BACKEND SCENARIO CONC PID URL SCRIPT ARGS...: one wrk run, one result line.
run_wrk() {
  local backend=$1 scenario=$2 conc=$3 pid=$4 url=$5 script=$6
  shift 6
  local threads=2
  [ "$conc" -lt 2 ] && threads=1
  rss_reset "$pid"
  local log=$OUT/wrk-$backend-$scenario-$conc.txt
  WRK_THREADS=$threads wrk -t"$threads" -c"$conc" -d"$DURATION" --latency --timeout 30s -s "bench/$script" "$url" -- "$@" >"$log" 2>&1
  local rss
  rss=$(rss_peak "$pid")
  awk -v b="$backend" -v s="$scenario" -v c="$conc" -v rss="$rss" "$WRK_MS_AWK"'
    /requests in/ { total = $1; secs = $4; sub(/s,?$/, "", secs) }
    /Non-2xx or 3xx/ { bad = $NF }
    /Socket errors/ { sockerr = $0 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    END { ok = total - bad; printf "%s\t%s\t%s\t%.0f\t%.2f\t%.2f\t%s\t%d\n", b, s, c, ok / secs, p50, p99, rss, bad + 0 }
  ' "$log" >>"$RESULTS"
  tail -n1 "$RESULTS" >&2
}

# The baseline server, shared by both backends' runs.
"$BASELINE_BIN" "127.0.0.1:$BASE_PORT" >"$OUT/baseline.log" 2>&1 &
BASE_PID=$!
PIDS+=("$BASE_PID")
wait_http "http://127.0.0.1:$BASE_PORT/json"

make_doc $((1024 * 1024)) "$OUT/doc-1m.txt"
make_doc $((25 * 1024 * 1024)) "$OUT/doc-25m.txt"
printf '/json\n' >"$OUT/json-paths.txt"

bench_backend() {
  local backend=$1 url=$2
  local dir=$OUT/$backend
  mkdir -p "$dir"
  local t0 t1
  t0=$(date +%s.%N)
  "$AMITY_BIN" import data/twin_cities.csv --database-url "$url" >"$dir/import.log" 2>&1
  t1=$(date +%s.%N)
  printf '%s\timport_twin_cities_s\t-\t%.2f\t-\t-\t-\t0\n' "$backend" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" >>"$RESULTS"
  local admin
  admin=$("$AMITY_BIN" admin create-token --role admin --database-url "$url" 2>/dev/null)
  AMITY_BIND="127.0.0.1:$PORT" DATABASE_URL="$url" AMITY_KEYS_DIR="$dir/keys" \
    AMITY_AUTO_APPROVE_KEYS=true RUST_LOG=warn \
    "$AMITY_BIN" serve >"$dir/server.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait_http "http://127.0.0.1:$PORT/healthz"
  local api=http://127.0.0.1:$PORT
  local t2 t3
  t2=$(date +%s.%N)
  "$PREP_BIN" "$api" "$admin" "$dir/prep" --groups "$GROUPS_NEEDED" --mous "${MOUS:-1000}" --signers "${SIGNERS:-25}" >&2
  t3=$(date +%s.%N)
  printf '%s\tsetup_http_s\t-\t%.2f\t-\t-\t-\t0\n' "$backend" "$(awk -v a="$t2" -v b="$t3" 'BEGIN { print b - a }')" >>"$RESULTS"

  local g=0
  for c in "${LEVELS[@]}"; do
    run_wrk "$backend" signature_submit "$c" "$pid" "$api" signatures.lua "$dir/prep/sig-$g.tsv"
    if [ "$backend" = sqlite ]; then
      run_wrk baseline verify_only "$c" "$BASE_PID" "http://127.0.0.1:$BASE_PORT" signatures.lua "$dir/prep/sig-$g.tsv"
    fi
    g=$((g + 1))
  done

  sed 's|^|/api/v1/partnerships/|' "$dir/prep/partnerships.txt" >"$dir/by-id.txt"
  printf '%s\n' '/api/v1/partnerships?limit=50' '/api/v1/partnerships?limit=50&country=DE' \
    '/api/v1/partnerships?limit=50&status=active' '/api/v1/partnerships?limit=50&since=1990-01-01' \
    '/api/v1/partnerships?limit=50&city=aq-mcm' >"$dir/list.txt"
  printf '/api/v1/log/checkpoint\n' >"$dir/checkpoint.txt"
  local size
  size=$(cat "$dir/prep/log_size.txt")
  awk -v n="$size" 'BEGIN { srand(1); for (i = 0; i < 2000; i++) printf "/api/v1/log/proof/inclusion?index=%d&size=%d\n", int(rand() * n), n }' \
    >"$dir/inclusion.txt"

  run_wrk "$backend" partnership_by_id "$CONC" "$pid" "$api" paths.lua "$dir/by-id.txt"
  run_wrk "$backend" partnership_list_50 "$CONC" "$pid" "$api" paths.lua "$dir/list.txt"
  run_wrk "$backend" checkpoint "$CONC" "$pid" "$api" paths.lua "$dir/checkpoint.txt"
  run_wrk "$backend" inclusion_proof "$CONC" "$pid" "$api" paths.lua "$dir/inclusion.txt"
  if [ "$backend" = sqlite ]; then
    run_wrk baseline json "$CONC" "$BASE_PID" "http://127.0.0.1:$BASE_PORT" paths.lua "$OUT/json-paths.txt"
  fi

  local draft token
  IFS=$'\t' read -r draft token <"$dir/prep/upload.tsv"
  run_wrk "$backend" upload_1mib 4 "$pid" "$api" upload.lua "$OUT/doc-1m.txt" "/api/v1/mous/$draft/versions?filename=mou.txt" "$token"
  run_wrk "$backend" upload_25mib 2 "$pid" "$api" upload.lua "$OUT/doc-25m.txt" "/api/v1/mous/$draft/versions?filename=mou.txt" "$token"
  if [ "$backend" = sqlite ]; then
    run_wrk baseline sha256_1mib 4 "$BASE_PID" "http://127.0.0.1:$BASE_PORT" upload.lua "$OUT/doc-1m.txt" /upload
    run_wrk baseline sha256_25mib 2 "$BASE_PID" "http://127.0.0.1:$BASE_PORT" upload.lua "$OUT/doc-25m.txt" /upload
  fi
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}

# wrk_pair LABEL SCENARIO PATHS URL1 URL2: wrk on two servers at once, CONC/2 connections each;
# one result line with the two rates added (p50/p99: the worse of the two).
wrk_pair() {
  local label=$1 scenario=$2 paths=$3 half=$((CONC / 2))
  local log1=$OUT/wrk-$label-$scenario-1.txt log2=$OUT/wrk-$label-$scenario-2.txt
  wrk -t1 -c"$half" -d"$DURATION" --latency --timeout 30s -s bench/paths.lua "$4" -- "$paths" >"$log1" 2>&1 &
  local w1=$!
  wrk -t1 -c"$half" -d"$DURATION" --latency --timeout 30s -s bench/paths.lua "$5" -- "$paths" >"$log2" 2>&1
  wait "$w1"
  paste <(wrk_summary "$label" "$log1") <(wrk_summary "$label" "$log2") | awk -F'\t' -v s="$scenario" -v c="$CONC" '
    { printf "%s\t%s\t%s\t%d\t%.2f\t%.2f\t%d\n", $1, s, c, $2 + $7, ($3 > $8 ? $3 : $8), ($4 > $9 ? $4 : $9), $5 + $10 }' >>"$OUT/replica.tsv"
  tail -n1 "$OUT/replica.tsv" >&2
}

# bench_replica PRIMARY_URL REPLICA_URL: the reads of `bench_backend postgres` (by id, lists
# of 50) on the same database, first from one server on the primary alone, then from two
# servers that each read from the streaming replica (AMITY_REPLICA_URL), in the same run.
bench_replica() {
  local primary=$1 replica=$2 dir=$OUT/postgres
  local p1=$((PORT + 2)) p2=$((PORT + 3)) p3=$((PORT + 4))
  printf 'setup\tscenario\tconc\tok_per_s\tp50\tp99\terrors\n' >"$OUT/replica.tsv"
  start() { # PORT [REPLICA_URL]
    if [ -n "${2:-}" ]; then
      AMITY_BIND="127.0.0.1:$1" DATABASE_URL="$primary" AMITY_REPLICA_URL="$2" AMITY_KEYS_DIR="$dir/keys" \
        RUST_LOG=warn "$AMITY_BIN" serve >"$dir/server-$1.log" 2>&1 &
    else
      AMITY_BIND="127.0.0.1:$1" DATABASE_URL="$primary" AMITY_KEYS_DIR="$dir/keys" \
        RUST_LOG=warn "$AMITY_BIN" serve >"$dir/server-$1.log" 2>&1 &
    fi
    PIDS+=("$!")
    wait_http "http://127.0.0.1:$1/healthz"
  }
  start "$p1"
  for scenario in by-id list; do
    wrk -t2 -c"$CONC" -d"$DURATION" --latency --timeout 30s -s bench/paths.lua "http://127.0.0.1:$p1" -- "$dir/$scenario.txt" \
      >"$OUT/wrk-primary_only-$scenario.txt" 2>&1
    wrk_summary primary_only "$OUT/wrk-primary_only-$scenario.txt" | awk -F'\t' -v s="$scenario" -v c="$CONC" \
      '{ printf "%s\t%s\t%s\t%d\t%.2f\t%.2f\t%d\n", $1, s, c, $2, $3, $4, $5 }' >>"$OUT/replica.tsv"
    tail -n1 "$OUT/replica.tsv" >&2
  done
  kill "${PIDS[-1]}"
  start "$p2" "$replica"
  start "$p3" "$replica"
  for scenario in by-id list; do
    wrk_pair two_servers_on_replica "$scenario" "$dir/$scenario.txt" "http://127.0.0.1:$p2" "http://127.0.0.1:$p3"
  done
  # The reads were the replica's: its counters on both servers.
  for p in "$p2" "$p3"; do
    curl -s "http://127.0.0.1:$p/metrics" | grep '^amity_replica_reads_total' | sed "s/^/server $p: /" >>"$OUT/replica-metrics.txt"
  done
  cat "$OUT/replica-metrics.txt" >&2
}

bench_backend sqlite "sqlite://$OUT/sqlite/amity.db"
if [ -n "${AMITY_BENCH_POSTGRES_URL:-}" ]; then
  PG_DB=amity_bench_$$
  psql -q "$AMITY_BENCH_POSTGRES_URL" -c "CREATE DATABASE $PG_DB" >/dev/null
  bench_backend postgres "$(pg_url_for "$AMITY_BENCH_POSTGRES_URL" "$PG_DB")"
  if [ -n "${AMITY_BENCH_POSTGRES_REPLICA_URL:-}" ]; then
    bench_replica "$(pg_url_for "$AMITY_BENCH_POSTGRES_URL" "$PG_DB")" "$(pg_url_for "$AMITY_BENCH_POSTGRES_REPLICA_URL" "$PG_DB")"
  fi
fi

"$ROOT/bench/report.sh" "$RESULTS" "$OUT"
if [ -s "$OUT/replica.tsv" ]; then
  echo
  echo "Reads with a replica (two servers on the replica against one server on the primary alone):"
  awk -F'\t' 'NR == 1 { next } { rate[$1 "/" $2] = $4; line[NR] = $0 }
    END {
      print "| setup | scenario | conc | ok req/s | p50 ms | p99 ms | errors | against one server alone |"
      print "|---|---|---|---|---|---|---|---|"
      for (i = 2; i <= NR; i++) { split(line[i], f, "\t"); base = rate["primary_only/" f[2]];
        printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", f[1], f[2], f[3], f[4], f[5], f[6], f[7], (base > 0 ? sprintf("%.2fx", f[4] / base) : "-") }
    }' "$OUT/replica.tsv"
fi
