#!/usr/bin/env bash
# List latency against registry size: the same partnership list queries on a registry of 10^3
# and of 10^6 partnerships (SQLite, release build), each driven by wrk for the same time at the
# same concurrency in the same run. Issue 6's target: p99 at 10^6 within 2x of p99 at 10^3.
#
#   bench/list_scale.sh               # SIZES="1000 1000000" DURATION=10s CONC=16
#
# The registries are synthetic (the real data set has 24,704 partnerships): cities named
# "Benchtown N" spread over ten countries, about 20 partnerships each, imported with
# `amity import` (one log entry per city and per partnership, as for the real file). The 10^6
# import takes a few minutes; the databases are kept in target/bench-list/ for re-runs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SIZES=${SIZES:-"1000 1000000"}
DURATION=${DURATION:-10s}
CONC=${CONC:-16}
OUT=${OUT:-$ROOT/target/bench-list}
mkdir -p "$OUT"

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
need_tools wrk curl python3
cargo build --release --locked --bin amity >&2
BIN=$ROOT/target/release/amity

# gen_csv N FILE: N partnerships among N/10 cities (at least 100), each city tied to about 20
# others (city i with i+1 ... i+10, wrapping), so a city's list stays the size of a real one.
gen_csv() {
  python3 - "$1" "$2" <<'PY'
import math, sys
n, path = int(sys.argv[1]), sys.argv[2]
k = max(100, n // 10)
d = math.ceil(n / k)
countries = ["France", "Germany", "Japan", "Brazil", "Kenya", "Canada", "India", "Mexico", "Poland", "Italy"]
def city(i):
    return (f"Benchtown {i}", countries[i % 10], round(-60 + (i * 7.3) % 120, 4), round(-170 + (i * 13.7) % 340, 4))
with open(path, "w") as f:
    f.write("city1,country1,lat1,lng1,city2,country2,lat2,lng2\n")
    written = 0
    for step in range(1, d + 1):
        for i in range(k):
            if written == n:
                break
            a, b = city(i), city((i + step) % k)
            f.write(f"{a[0]},{a[1]},{a[2]},{a[3]},{b[0]},{b[1]},{b[2]},{b[3]}\n")
            written += 1
PY
}

trap cleanup_on_exit EXIT

printf '| partnerships | query | req/s | p50 ms | p99 ms |\n|---:|---|---:|---:|---:|\n' >"$OUT/table.md"
declare -A P99
for n in $SIZES; do
  db=$OUT/list-$n.db
  keys=$OUT/keys-$n
  if [ ! -s "$db" ]; then
    gen_csv "$n" "$OUT/list-$n.csv"
    start=$(date +%s.%N)
    DATABASE_URL="sqlite://$db" AMITY_KEYS_DIR="$keys" "$BIN" import "$OUT/list-$n.csv" >"$OUT/import-$n.txt" 2>&1
    echo "imported $n partnerships in $(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo '?') s" >&2
  fi
  # Port 0: the server picks a free port and prints its URL.
  DATABASE_URL="sqlite://$db" AMITY_KEYS_DIR="$keys" "$BIN" serve --bind 127.0.0.1:0 \
    >"$OUT/serve-$n.out" 2>"$OUT/serve-$n.log" &
  PIDS+=($!)
  url=
  for _ in $(seq 1 300); do
    url=$(grep -o 'http://[0-9.:]*' "$OUT/serve-$n.out" | head -n 1 || true)
    [ -n "$url" ] && curl -sf -o /dev/null "$url/healthz" && break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "the server did not start: $(cat "$OUT/serve-$n.log")" >&2; exit 1; }
  base="$url/api/v1/partnerships"
  # A cursor from the middle of the registry, for a deep page.
  mid=$(curl -sf "$base?limit=500" | python3 -c 'import sys, json; print(json.load(sys.stdin)["next_cursor"])')
  for q in "first page|?limit=50" "status filter|?limit=50&status=active" "city filter|?limit=50&city=fr-benchtown-10" "next page|?limit=50&cursor=$mid"; do
    name=${q%%|*}; query=${q#*|}
    curl -sf -o /dev/null "$base$query" || { echo "query failed: $base$query" >&2; exit 1; }
    wrk -t2 -c"$CONC" -d"$DURATION" --latency "$base$query" >"$OUT/wrk-$n-${name// /-}.txt"
    line=$(awk -v n="$n" -v q="$name" "$WRK_MS_AWK"'
      /Requests\/sec/ { rps = $2 } / 50%/ { p50 = ms($2) } / 99%/ { p99 = ms($2) }
      END { printf "| %s | %s | %.0f | %.2f | %.2f |", n, q, rps, p50, p99 }' "$OUT/wrk-$n-${name// /-}.txt")
    echo "$line" | tee -a "$OUT/table.md"
    P99["$n|$name"]=$(echo "$line" | awk -F'|' '{gsub(/ /, "", $6); print $6}')
  done
  kill "${PIDS[-1]}" 2>/dev/null || true
done

read -r -a S <<<"$SIZES"
small=${S[0]}; large=${S[-1]}
echo
for name in "first page" "status filter" "city filter" "next page"; do
  a=${P99["$small|$name"]}; b=${P99["$large|$name"]}
  python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(f'{sys.argv[3]}: p99 {b:.2f} ms at $large against {a:.2f} ms at $small: {b / a:.2f}x ' + ('(within 2x: met)' if b <= 2 * a else '(over 2x: missed)'))" "$a" "$b" "$name" | tee -a "$OUT/table.md"
done
