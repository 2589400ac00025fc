#!/usr/bin/env bash
# Upload benchmark: only the document-upload scenarios of bench/load.sh (same wrk script, same
# documents, same peak-RSS reading), each size and concurrency run against Amity's release
# server and then against the bare SHA-256 baseline (`amity-baseline`, `POST /upload`) back to
# back, so the ratio compares two runs seconds apart on the same machine state.
#
#   bench/upload.sh                    # SQLite
#   AMITY_BENCH_POSTGRES_URL=postgres://amity:amity@localhost/postgres bench/upload.sh
#                                      # PostgreSQL instead (a fresh database, dropped after)
#
# Knobs (environment): DURATION (default 10s per run), CONCS (connections, default "1 2"),
# SIZES (MiB, default "1 25"), OUT (default target/bench-upload), AMITY_BIN (server binary,
# default target/release/amity), PERF=1 (perf record -g on the server during each Amity run,
# written to $OUT/perf-<size>m-<conc>.data).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DURATION=${DURATION:-10s}
CONCS=${CONCS:-"1 2"}
SIZES=${SIZES:-"1 25"}
OUT=${OUT:-$ROOT/target/bench-upload}
PORT=${PORT:-$((20000 + RANDOM % 20000))}
BASE_PORT=$((PORT + 1))
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
need_tools wrk curl

build_bench_bins

rm -rf "$OUT"
mkdir -p "$OUT"
RESULTS=$OUT/results.tsv
printf 'server\tsize_mib\tconc\tok_per_s\tp50\tp99\trss_mib\terrors\tload1\tcpu_ms_per_ok\n' >"$RESULTS"

trap cleanup_on_exit EXIT

# cpu_ticks PID: user + system CPU time the process has used, in clock ticks. CPU time per
# request is steadier than req/s on a machine others share: it does not count their load.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
TICKS=$(getconf CLK_TCK)
# thread_ticks PID: "name ticks" per thread name (threads of one name summed).
thread_ticks() {
  for t in /proc/"$1"/task/*; do
    printf '%s %s\n' "$(tr ' ' '_' <"$t/comm")" "$(sed 's/.*) //' "$t/stat" | awk '{print $12 + $13}')"
  done 2>/dev/null | awk '{ sum[$1] += $2 } END { for (n in sum) print n, sum[n] }' | sort
}

# run_wrk SERVER SIZE CONC PID URL ARGS...: one wrk run, one result line.
run_wrk() {
  local server=$1 size=$2 conc=$3 pid=$4 url=$5
  shift 5
  local threads=2
  [ "$conc" -lt 2 ] && threads=1
  rss_reset "$pid"
  local cpu0
  cpu0=$(cpu_ticks "$pid")
  thread_ticks "$pid" >"$OUT/threads0.txt"
  local log=$OUT/wrk-$server-${size}m-$conc.txt
  local perf_pid=
  if [ "${PERF:-}" = 1 ] && [ "$server" != baseline ]; then
    perf record -g -p "$pid" -o "$OUT/perf-${size}m-$conc.data" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  wrk -t"$threads" -c"$conc" -d"$DURATION" --latency --timeout 30s -s bench/upload.lua "$url" -- "$@" >"$log" 2>&1
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
  local rss load cpu1
  cpu1=$(cpu_ticks "$pid")
  thread_ticks "$pid" >"$OUT/threads1.txt"
  rss=$(rss_peak "$pid")
  load=$(awk '{print $1}' /proc/loadavg)
  awk -v b="$server" -v s="$size" -v c="$conc" -v rss="$rss" -v load="$load" -v cpu=$(((cpu1 - cpu0) * 1000 / TICKS)) "$WRK_MS_AWK"'
    /requests in/ { total = $1; secs = $4; sub(/s,?$/, "", secs) }
    /Non-2xx or 3xx/ { bad = $NF }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    END { ok = total - bad; printf "%s\t%s\t%s\t%.1f\t%.1f\t%.1f\t%s\t%d\t%s\t%.1f\n", b, s, c, ok / secs, p50, p99, rss, bad + 0, load, (ok > 0) ? cpu / ok : 0 }
  ' "$log" >>"$RESULTS"
  tail -n1 "$RESULTS" >&2
  # CPU ms per successful upload by thread (where the server's time goes).
  local ok
  ok=$(tail -n1 "$RESULTS" | awk -F'\t' -v d="$DURATION" '{ sub(/s$/, "", d); print $4 * d }')
  join -a2 -e0 -o2.1,1.2,2.2 "$OUT/threads0.txt" "$OUT/threads1.txt" |
    awk -v ok="$ok" -v t="$TICKS" '{ d = $3 - $2; if (d > 0 && ok > 0) printf "%s %.1f\n", $1, d * 1000 / t / ok }' \
      >"$OUT/threads-$server-${size}m-$conc.txt"
}

for s in $SIZES; do make_doc $((s * 1024 * 1024)) "$OUT/doc-${s}m.txt"; done

"$BASELINE_BIN" "127.0.0.1:$BASE_PORT" >"$OUT/baseline.log" 2>&1 &
BASE_PID=$!
PIDS+=("$BASE_PID")
wait_http "http://127.0.0.1:$BASE_PORT/json"

if [ -n "${AMITY_BENCH_POSTGRES_URL:-}" ]; then
  BACKEND=postgres
  PG_DB=amity_upload_$$
  psql -q "$AMITY_BENCH_POSTGRES_URL" -c "CREATE DATABASE $PG_DB" >/dev/null
  DB_URL="$(pg_url_for "$AMITY_BENCH_POSTGRES_URL" "$PG_DB")"
else
  BACKEND=sqlite
  mkdir -p "$OUT/sqlite"
  DB_URL="sqlite://$OUT/sqlite/amity.db"
fi
"$AMITY_BIN" migrate --database-url "$DB_URL" >"$OUT/migrate.log" 2>&1
ADMIN=$("$AMITY_BIN" admin create-token --role admin --database-url "$DB_URL" 2>/dev/null)
AMITY_BIND="127.0.0.1:$PORT" DATABASE_URL="$DB_URL" AMITY_KEYS_DIR="$OUT/keys" \
  AMITY_AUTO_APPROVE_KEYS=true RUST_LOG=warn \
  "$AMITY_BIN" serve >"$OUT/server.log" 2>&1 &
PID=$!
PIDS+=("$PID")
API=http://127.0.0.1:$PORT
wait_http "$API/healthz"
"$PREP_BIN" "$API" "$ADMIN" "$OUT/prep" --groups 1 --mous 1 --signers 1 >&2
IFS=$'\t' read -r DRAFT TOKEN <"$OUT/prep/upload.tsv"
# The server's resident set before any upload: subtracted, it gives the cost per upload in flight.
awk '/VmRSS/ {printf "idle RSS MiB: %.0f\n", $2 / 1024}' "/proc/$PID/status" | tee "$OUT/idle_rss.txt" >&2

for s in $SIZES; do
  for c in $CONCS; do
    run_wrk "$BACKEND" "$s" "$c" "$PID" "$API" "$OUT/doc-${s}m.txt" "/api/v1/mous/$DRAFT/versions?filename=mou.txt" "$TOKEN"
    run_wrk baseline "$s" "$c" "$BASE_PID" "http://127.0.0.1:$BASE_PORT" "$OUT/doc-${s}m.txt" /upload
  done
done

kill "$PID"
wait "$PID" 2>/dev/null || true
# The document store grows by every upload; keep only the figures.
rm -rf "$OUT/sqlite"

awk -F'\t' '
  NR == 1 { print "| server | MiB | conc | ok req/s | p50 ms | p99 ms | peak RSS MiB | errors | load1 | server CPU ms/upload | ratio |"; print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"; next }
  $1 != "baseline" { amity = $4; printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10; next }
  { r = ($4 > 0) ? sprintf("%.0f%%", 100 * amity / $4) : "-"; printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, r }
' "$RESULTS" | tee "$OUT/table.md"
