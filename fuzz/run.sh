#!/usr/bin/env bash
# Runs each fuzz target in turn, one libFuzzer job at a time, for SECONDS each (default 600),
# growing fuzz/corpus/<target>/ and keeping crashes in fuzz/artifacts/<target>/. Build first
# with ./build.sh. Figures (executions, coverage) go to fuzz/logs/<target>.log.
set -uo pipefail
cd "$(dirname "$0")"
secs=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(sshsig statement checkpoint cosignature bundle csv_import)
host=$(rustc -vV | sed -n 's/^host: //p')
mkdir -p logs
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  echo "=== $t: ${secs}s from $(date -u +%FT%TZ)"
  "target/$host/release/$t" "corpus/$t" -max_total_time="$secs" -print_final_stats=1 \
    -rss_limit_mb=2048 -timeout=10 -artifact_prefix="artifacts/$t/" > "logs/$t.log" 2>&1
  echo "=== $t: exit $? at $(date -u +%FT%TZ)"
  grep -E '^stat::(number_of_executed_units|peak_rss_mb|new_units_added)|^Done|==ERROR|panicked' "logs/$t.log" | head -5
done
