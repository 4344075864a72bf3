# Sourced by .ci/run (and usable by people: `source .ci/postgres.sh`): starts a throwaway
# PostgreSQL server on 127.0.0.1 for the control-plane tests, exports TOLLGATE_TEST_POSTGRES_URL,
# and stops and deletes it when the sourcing shell exits.
# shellcheck shell=bash

# runuser and the like live in sbin, which a minimal CI PATH may lack.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin:/sbin" ;; esac

_pg_bindir() {
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    # Resolve symlinks: createdb sits next to the real pg_ctl, not necessarily next to a link.
    dirname "$(readlink -f "$(command -v pg_ctl)")"
    return
  fi
  # Debian keeps the server binaries off PATH, one directory per major version.
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

_pg_as_owner() {
  # initdb and postgres refuse to run as root; they run as the postgres user then.
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

_pg_stop() {
  if [ -n "${_PG_ROOT:-}" ] && [ -d "$_PG_ROOT" ]; then
    _pg_as_owner "$_PG_BIN/pg_ctl" -D "$_PG_ROOT/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$_PG_ROOT"
  fi
}

_PG_BIN="$(_pg_bindir || true)"
if [ -z "$_PG_BIN" ]; then
  echo "==> installing PostgreSQL (initdb/pg_ctl not found)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq </dev/null
  apt-get install -y -qq postgresql </dev/null >/dev/null
  _PG_BIN="$(_pg_bindir)"
fi

# Replaces any EXIT trap of the sourcing shell.
trap _pg_stop EXIT
_PG_ROOT="$(mktemp -d "${TMPDIR:-/tmp}/tollgate-pg.XXXXXX")"
if [ "$(id -u)" -eq 0 ]; then
  chown postgres: "$_PG_ROOT"
fi
_PG_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

echo "==> starting PostgreSQL ($_PG_BIN) on 127.0.0.1:$_PG_PORT" >&2
_pg_as_owner "$_PG_BIN/initdb" -D "$_PG_ROOT/data" -U postgres -A trust --no-sync -E UTF8 >/dev/null
# Unix socket in the data dir: /var/run/postgresql may not exist or be writable.
_pg_as_owner "$_PG_BIN/pg_ctl" -D "$_PG_ROOT/data" -l "$_PG_ROOT/server.log" -w -t 60 \
  -o "-h 127.0.0.1 -p $_PG_PORT -k $_PG_ROOT -c fsync=off" start >/dev/null
_pg_as_owner "$_PG_BIN/createdb" -h 127.0.0.1 -p "$_PG_PORT" -U postgres tollgate_test
export TOLLGATE_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$_PG_PORT/tollgate_test"
