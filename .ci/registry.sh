# Sourced by the CI scripts that run the release server against a fresh registry of each
# backend (.ci/schemathesis.sh, .ci/openapi_client.sh). The caller defines `die` and `bin`
# (the amity binary) first; this file makes `work`, a scratch dir removed on exit with the
# server and the PostgreSQL database it made.
#
#   backends       sqlite, and postgres when AMITY_TEST_POSTGRES_URL is set (required when
#                  CI=true: the PostgreSQL run is never skipped silently)
#   start_registry BACKEND [SERVE ARGS...]
#                  a fresh database (DATABASE_URL) and keys dir, migrated, an admin token in
#                  `admin`, and `amity serve` on a free port, its URL in `base`
#   stop_registry  stops the server, failing if it had died meanwhile
#
# Variables the functions set are plain globals, never command substitutions, so that
# `cleanup` sees the server and the database to remove.

backends=(sqlite)
if [ -n "${AMITY_TEST_POSTGRES_URL:-}" ]; then
  command -v psql >/dev/null 2>&1 || die "psql is needed to make the PostgreSQL database"
  backends+=(postgres)
elif [ "${CI:-}" = true ]; then
  die "CI=true but AMITY_TEST_POSTGRES_URL is not set: the PostgreSQL run cannot be skipped"
fi

work=$(mktemp -d)
server_pid=
pg_db=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [ -n "$pg_db" ] && psql "$AMITY_TEST_POSTGRES_URL" -qtAc "DROP DATABASE IF EXISTS $pg_db" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A new database next to the one AMITY_TEST_POSTGRES_URL names (its role may create
# databases, as in the tests), or a file for SQLite; one per script run, dropped on exit.
use_fresh_database() {
  case $1 in
    sqlite)
      mkdir -p "$work/sqlite"
      rm -f "$work/sqlite/amity.db"*
      DATABASE_URL="sqlite://$work/sqlite/amity.db"
      ;;
    postgres)
      pg_db="amity_ci_run_$$"
      psql "$AMITY_TEST_POSTGRES_URL" -qtAc "DROP DATABASE IF EXISTS $pg_db" >/dev/null
      psql "$AMITY_TEST_POSTGRES_URL" -qtAc "CREATE DATABASE $pg_db" >/dev/null \
        || die "cannot create database $pg_db"
      DATABASE_URL="${AMITY_TEST_POSTGRES_URL%/*}/$pg_db"
      ;;
  esac
  export DATABASE_URL
}

start_registry() {
  local backend=$1
  shift
  use_fresh_database "$backend"
  export AMITY_KEYS_DIR="$work/$backend-keys"
  "$bin" migrate >/dev/null || die "amity migrate failed on $backend"
  admin=$("$bin" admin create-token --role admin) || die "cannot create the admin token on $backend"
  "$bin" serve --bind 127.0.0.1:0 "$@" >"$work/stdout" 2>"$work/server.log" &
  server_pid=$!
  base=
  for _ in $(seq 1 100); do
    base=$(grep -o 'http://[0-9.:]*' "$work/stdout" | head -n 1 || true)
    [ -n "$base" ] && break
    kill -0 "$server_pid" 2>/dev/null || die "amity serve exited: $(cat "$work/server.log")"
    sleep 0.1
  done
  [ -n "$base" ] || die "amity serve did not print its URL"
  echo "server at $base ($backend)"
}

stop_registry() {
  kill -0 "$server_pid" 2>/dev/null || die "the server died during the run: $(tail -n 20 "$work/server.log")"
  kill "$server_pid" && wait "$server_pid" 2>/dev/null || true
  server_pid=
}
