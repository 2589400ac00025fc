# Shell helpers shared by the benchmark scripts (sourced, not run).

# need_tools TOOL...: installs the missing ones with apt-get (sudo when not root).
need_tools() {
  local missing=() tool
  for tool in "$@"; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}" >&2
    local sudo=
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# build_bench_bins: builds the release server, the baseline server and the workload generator;
# sets AMITY_BIN (unless the caller named another build to measure), BASELINE_BIN and PREP_BIN.
build_bench_bins() {
  cargo build --release --locked --bins --example loadprep >&2
  AMITY_BIN=${AMITY_BIN:-$ROOT/target/release/amity}
  BASELINE_BIN=$ROOT/target/release/amity-baseline
  PREP_BIN=$ROOT/target/release/examples/loadprep
}

# Servers a script starts in the background (it appends their PIDs to PIDS) are killed on exit
# by `trap cleanup_on_exit EXIT`, and the PostgreSQL database it created (PG_DB, on the server
# of AMITY_BENCH_POSTGRES_URL) is dropped.
PIDS=()
cleanup_on_exit() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "${PG_DB:-}" ]; then psql -q "$AMITY_BENCH_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true; fi
}

# pg_url_for URL DB: URL naming database DB instead, its query string (e.g. `?sslmode=disable`)
# kept.
pg_url_for() {
  local url=$1 db=$2 query=""
  case "$url" in *\?*)
    query="?${url#*\?}"
    url=${url%%\?*}
    ;;
  esac
  printf '%s/%s%s' "${url%/*}" "$db" "$query"
}

# wait_http URL: waits up to 20 s for a 2xx answer.
wait_http() {
  for _ in $(seq 1 200); do
    if curl -sf -o /dev/null "$1"; then return 0; fi
    sleep 0.1
  done
  echo "no answer from $1" >&2
  return 1
}

# rss_reset PID / rss_peak PID: peak resident set since the last reset, in MiB.
rss_reset() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null || true; }
rss_peak() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

# make_doc BYTES FILE: printable text (a document is text or PDF), exactly BYTES long.
make_doc() {
  head -c $(($1 * 3 / 4)) /dev/urandom | base64 -w 100 >"$2"
  truncate -s "$1" "$2"
}

# An awk function that turns a wrk latency ("850.00us", "1.20ms", "2.00s", "1.00m") into ms.
# shellcheck disable=SC2034 # used by the scripts that source this file
WRK_MS_AWK='function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /m$/) return v * 60000; if (v ~ /s$/) return v * 1000; return v }'

# wrk_summary LABEL LOG: one line "LABEL<TAB>ok/s<TAB>p50 ms<TAB>p99 ms<TAB>non-2xx" from a wrk
# run's output (run with --latency); ok/s counts 2xx and 3xx answers only.
wrk_summary() {
  awk -v m="$1" "$WRK_MS_AWK"'
    /requests in/ { total = $1; secs = $4; sub(/s,?$/, "", secs) }
    /Non-2xx or 3xx/ { bad = $NF }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    END { printf "%s\t%.0f\t%.2f\t%.2f\t%d\n", m, (total - bad) / secs, p50, p99, bad + 0 }
  ' "$2"
}
