#!/usr/bin/env bash
# The group briefing's build time against the single-city briefing, on the demo registry
# (`serve --demo`: the Wikipedia data set and the seeded engagement sample). The group is the
# 50 cities with the most partnerships; the single city is Shanghai, one of them. Each request
# is timed RUNS times, in Markdown and in PDF, and the medians are reported with their ratio,
# all from the same server in the same run (issue 18: "the briefing's build time for a group of
# 50 cities on the demo data against the single-city briefing").
#
#   bench/briefing.sh                 # RUNS=9 PROFILE=release
#
# PROFILE=debug uses target/debug/amity (no release build). The registry lives in a temporary
# directory removed at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RUNS=${RUNS:-9}
PROFILE=${PROFILE:-release}
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
need_tools curl python3
if [ "$PROFILE" = release ]; then
  cargo build --release --locked --bin amity >&2
else
  cargo build --locked --bin amity >&2
fi
BIN=$ROOT/target/$PROFILE/amity
DIR=$(mktemp -d)
PORT=${PORT:-18181}
DATABASE_URL="sqlite://$DIR/amity.db" AMITY_KEYS_DIR="$DIR/keys" AMITY_BIND="127.0.0.1:$PORT" \
  "$BIN" serve --demo >"$DIR/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 1 300); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 1
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null || { cat "$DIR/serve.log" >&2; exit 1; }
python3 - "$DIR/amity.db" "http://127.0.0.1:$PORT" "$RUNS" "$PROFILE" <<'PY'
import sqlite3, statistics, sys, time, urllib.request
db, base, runs, profile = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rows = sqlite3.connect(f"file:{db}?mode=ro", uri=True).execute(
    "SELECT c, COUNT(*) FROM (SELECT city_a c FROM partnerships UNION ALL "
    "SELECT city_b c FROM partnerships) GROUP BY c ORDER BY COUNT(*) DESC, c LIMIT 50").fetchall()
codes = [c for c, _ in rows]
def median_ms(path):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        with urllib.request.urlopen(base + path) as r:
            r.read()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000
print(f"{profile} build, {runs} runs each, median; the 50 cities hold "
      f"{sum(n for _, n in rows)} partnership ends")
print("| format | Shanghai alone | group of 50 | ratio | per city in the group |")
print("|---|---|---|---|---|")
for fmt in ["md", "pdf"]:
    one = median_ms(f"/api/v1/cities/cn-shanghai/briefing?format={fmt}")
    group = median_ms(f"/api/v1/briefings?cities={','.join(codes)}&format={fmt}")
    print(f"| {fmt} | {one:.1f} ms | {group:.1f} ms | {group / one:.1f}x | {group / 50:.2f} ms |")
PY
