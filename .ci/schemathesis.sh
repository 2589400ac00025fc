#!/usr/bin/env bash
# API fuzzing with schemathesis (from PyPI, pinned) against /api/v1/openapi.json of the release
# server, on a fresh database of each backend (SQLite always; PostgreSQL when
# AMITY_TEST_POSTGRES_URL is set, and required when CI=true) with a few seeded records, once
# per principal: admin, office, auditor, anonymous. Every check schemathesis has (`--checks
# all`: no 5xx, status codes, content types, headers and bodies as documented, data the schema
# allows accepted and data it forbids refused, links, authentication) plus every error a
# problem+json document (.ci/schemathesis_hooks.py), in every phase (examples, coverage,
# fuzzing, stateful walks along the document's links).
#
#   .ci/schemathesis.sh [MAX_EXAMPLES]      (AMITY_BIN defaults to target/release/amity)
#
# CI runs it with a fixed seed and 50 examples per operation; before a release, run it longer,
# e.g. `.ci/schemathesis.sh 1000` (docs/operations.md).
#
# Prints "SCHEMATHESIS RESULT backend=... principal=... cases=... failures=..." per run and
# exits non-zero when any run found a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
max_examples=${1:-${SCHEMATHESIS_MAX_EXAMPLES:-50}}
bin=${AMITY_BIN:-target/release/amity}
venv=${SCHEMATHESIS_VENV:-/tmp/amity-schemathesis-venv}

die() { printf '\nSCHEMATHESIS FAILURE: %s\n' "$*" >&2; exit 1; }

[ -x "$bin" ] || die "$bin is not built (cargo build --release --locked)"

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  rm -rf "$venv"
  python3 -m venv "$venv" || die "python3 -m venv failed (is python3-venv installed?)"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION" || die "pip install schemathesis==$SCHEMATHESIS_VERSION failed"
fi
"$venv/bin/schemathesis" --version

# shellcheck source=.ci/registry.sh
. .ci/registry.sh

post() {
  local token=$1 path=$2 body=$3
  curl -fsS -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    --data "$body" "$base$path"
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

# Seeded records, so some generated requests reach real ones (the examples in the document
# name these codes). Sets the tokens `office` and `auditor`.
seed() {
  post "$admin" /api/v1/admin/cities '{"code":"us-hou","name":"Houston","country":"US","lat":29.76,"lon":-95.37}' >/dev/null
  post "$admin" /api/v1/admin/cities '{"code":"cn-sha","name":"Shanghai","country":"CN","lat":31.23,"lon":121.47}' >/dev/null
  post "$admin" /api/v1/admin/cities '{"code":"de-ber","name":"Berlin","country":"DE"}' >/dev/null
  local office_id partnership mou
  office_id=$(post "$admin" /api/v1/admin/offices '{"city":"us-hou","name":"Office of International Affairs"}' | field id)
  post "$admin" /api/v1/admin/offices '{"city":"cn-sha","name":"Foreign Affairs Office"}' >/dev/null
  office=$(post "$admin" /api/v1/admin/tokens "{\"role\":\"office\",\"office\":\"$office_id\"}" | field token)
  auditor=$(post "$admin" /api/v1/admin/tokens '{"role":"auditor"}' | field token)
  partnership=$(post "$office" /api/v1/partnerships '{"cities":["us-hou","cn-sha"],"kind":"sister","established":"1979"}' | field id)
  mou=$(post "$office" /api/v1/mous "{\"partnership\":\"$partnership\",\"title\":\"Memorandum of Understanding\"}" | field id)
  curl -fsS -X POST -H "Authorization: Bearer $office" -H 'Content-Type: text/plain' \
    --data 'Memorandum text' "$base/api/v1/mous/$mou/versions?filename=mou.txt" >/dev/null
  post "$office" "/api/v1/partnerships/$partnership/activities" \
    '{"kind":"delegation","mode":"in_person","start_date":"2024-05-01","outcome":"Trade delegation"}' >/dev/null
  echo "seeded: partnership $partnership, MOU $mou"
}

export SCHEMATHESIS_HOOKS="$PWD/.ci/schemathesis_hooks.py"
# `positive_data_acceptance` is replaced by `every_rule_is_stated` (the hooks file): the same
# check, except that a refusal for one of the rules the document states beside the schemas
# (`x-amity-rules`) is expected.
checks=${SCHEMATHESIS_CHECKS:-all,errors_are_problem_json,every_rule_is_stated}
exclude_checks=${SCHEMATHESIS_EXCLUDE_CHECKS:-positive_data_acceptance}
phases=${SCHEMATHESIS_PHASES:-examples,coverage,fuzzing,stateful}
failed=0
for backend in "${backends[@]}"; do
  # The budget of failed authentications per address is lifted: schemathesis sends thousands
  # of bad tokens from one address, and its `ignored_auth` check wants their 401, not the 429
  # the budget gives past 10 a minute (tests/api/abuse.rs tests the budget).
  AMITY_AUTH_FAILURES_PER_MINUTE=1000000 start_registry "$backend" --auto-approve-keys
  seed
  for principal in ${SCHEMATHESIS_PRINCIPALS:-admin office auditor anonymous}; do
    auth=()
    case $principal in
      admin) auth=(-H "Authorization: Bearer $admin") ;;
      office) auth=(-H "Authorization: Bearer $office") ;;
      auditor) auth=(-H "Authorization: Bearer $auditor") ;;
    esac
    out="$work/$backend-$principal.out"
    set +e
    # One worker: with two, schemathesis 4.32.5 on CPython 3.11 sometimes fails inside itself
    # ("AST constructor recursion depth mismatch"), an error of the tool, not of the API.
    # From the scratch dir: schemathesis keeps a cache of past failures in the working
    # directory, which would make one run depend on the last.
    (cd "$work" && "$venv/bin/schemathesis" run "$base/api/v1/openapi.json" --url "$base" \
      "${auth[@]}" --checks "$checks" --exclude-checks "$exclude_checks" --max-examples "$max_examples" --seed 20261128 \
      --phases "$phases" --workers 1 --no-color --output-truncate false \
      --generation-database none --request-timeout 20 --max-failures 50) | tee "$out"
    rc=${PIPESTATUS[0]}
    set -e
    # The summary line: "N generated, N passed" or "N generated, M found M unique failures".
    summary=$(grep -E '^ *[0-9]+ generated' "$out" | tail -n 1)
    cases=$(sed -E 's/^ *([0-9]+) generated.*/\1/' <<<"$summary")
    failures=$(grep -oE '[0-9]+ found' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
    [ -n "$cases" ] || die "no summary from schemathesis for $principal on $backend"
    echo "SCHEMATHESIS RESULT backend=$backend principal=$principal max_examples=$max_examples cases=$cases failures=$failures exit=$rc"
    [ "$rc" -eq 0 ] || failed=1
  done
  stop_registry
done
[ "$failed" -eq 0 ] || die "schemathesis found failures (see above)"
echo "schemathesis: no failures"
