#!/usr/bin/env bash
# The served OpenAPI document, checked two ways against the release server on a fresh registry
# (SQLite; PostgreSQL too when AMITY_TEST_POSTGRES_URL is set, required with CI=true):
# openapi-spec-validator must accept it (an invalid document, a query parameter
# declared in the path say, breaks every client generated from it, and schemathesis tolerates
# some of what a strict validator refuses), and openapi-python-client must generate every
# operation of it; then .ci/client_walkthrough.py runs the README's walkthrough and MOU signing
# (cities, offices, tokens, partnerships, keys registered with proof of possession and approved,
# an MOU uploaded, signed by both mayors with ssh-keygen, executed, audited) through nothing but
# the generated client. Both tools come from PyPI, pinned, in a virtualenv kept between runs.
#
#   .ci/openapi_client.sh      (AMITY_BIN defaults to target/release/amity)
#
# Prints "OPENAPI CLIENT operations=N generated=N" and "CLIENT WALKTHROUGH ok steps=N", and
# exits non-zero on an invalid document, a skipped operation or any failed step.
set -euo pipefail
cd "$(dirname "$0")/.."

OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0
OPENAPI_PYTHON_CLIENT_VERSION=0.29.1
bin=${AMITY_BIN:-target/release/amity}
venv=${OPENAPI_SPEC_VALIDATOR_VENV:-/tmp/amity-openapi-venv}

die() { printf '\nOPENAPI CLIENT FAILURE: %s\n' "$*" >&2; exit 1; }

# Everything this needs, or a loud failure: nothing is skipped.
[ -x "$bin" ] || die "$bin is not built (cargo build --release --locked)"
command -v python3 >/dev/null 2>&1 || die "python3 is not installed"
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 \
  || die "python3-venv is not installed (python3 -m venv needs ensurepip)"
command -v ssh-keygen >/dev/null 2>&1 || die "ssh-keygen is not installed (openssh-client)"
command -v curl >/dev/null 2>&1 || die "curl is not installed"

pinned() { "$venv/bin/python" -m pip show "$1" 2>/dev/null | grep -qx "Version: $2"; }
if ! pinned openapi-spec-validator "$OPENAPI_SPEC_VALIDATOR_VERSION" \
  || ! pinned openapi-python-client "$OPENAPI_PYTHON_CLIENT_VERSION"; then
  rm -rf "$venv"
  python3 -m venv "$venv" || die "python3 -m venv failed (is python3-venv installed?)"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION" \
    "openapi-python-client==$OPENAPI_PYTHON_CLIENT_VERSION" \
    || die "pip install of the OpenAPI tools failed"
fi

# shellcheck source=.ci/registry.sh
. .ci/registry.sh

# The signing namespaces name the registry's origin (README, "Signing an MOU"); fixed here so
# that the walkthrough signs under the README's amity-mou-v1@amity.localhost.
export AMITY_ORIGIN=amity.localhost

# The registry is served without --auto-approve-keys: the walkthrough's admin approves the
# signatories' keys.
start_registry "${backends[0]}"
curl -fsS "$base/api/v1/openapi.json" >"$work/openapi.json" \
  || die "cannot fetch $base/api/v1/openapi.json"
"$venv/bin/openapi-spec-validator" "$work/openapi.json" \
  || die "the served OpenAPI document is invalid (openapi-spec-validator, above)"

# A client generated from the document must have every operation: the generator skips one
# it cannot express ("Endpoint will not be generated") and still exits 0.
mkdir "$work/client"
(cd "$work/client" && "$venv/bin/openapi-python-client" generate --path ../openapi.json \
  --meta none) >"$work/generate.log" 2>&1 \
  || die "openapi-python-client failed: $(cat "$work/generate.log")"
[ -d "$work/client/amity_client/api" ] \
  || die "openapi-python-client made no amity_client package: $(cat "$work/generate.log")"
generated=$(find "$work/client/amity_client/api" -name '*.py' ! -name '__init__.py' | wc -l)
operations=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(1 for p in d["paths"].values() for m in p if m in ("get","post","put","patch","delete")))' "$work/openapi.json")
echo "OPENAPI CLIENT operations=$operations generated=$generated"
if grep -q "will not be generated" "$work/generate.log" || [ "$generated" -ne "$operations" ]; then
  die "openapi-python-client skipped operations: $(grep -A2 'will not be generated' "$work/generate.log")"
fi

# The README's walkthrough through the generated client, on a fresh registry of each backend
# (keys and documents in $work).
for backend in "${backends[@]}"; do
  [ -n "$server_pid" ] || start_registry "$backend"
  rm -rf "$work/walkthrough" && mkdir "$work/walkthrough"
  echo "walkthrough on $backend"
  AMITY_URL=$base AMITY_ADMIN_TOKEN=$admin AMITY_CLIENT_DIR="$work/client" \
    AMITY_WALKTHROUGH_DIR="$work/walkthrough" \
    "$venv/bin/python" .ci/client_walkthrough.py \
    || die "the walkthrough through the generated client failed on $backend (above; server log: $(tail -n 20 "$work/server.log"))"
  stop_registry
done
