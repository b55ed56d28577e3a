#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests, on loopback only.
#
#   scripts/postgres.sh install      install Debian's postgresql if missing (apt-get)
#   scripts/postgres.sh start DIR    initdb in DIR and start on a free 127.0.0.1 port;
#                                    prints the connection URL (superuser, trust auth on
#                                    loopback); the server's PID is in DIR/pid
#   scripts/postgres.sh stop DIR     stop it by its PID and remove DIR
#
# As root, the server runs as the `postgres` user (PostgreSQL refuses root).
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

bindir() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  [ -n "$d" ] && [ -x "$d/postgres" ] || { echo "postgres.sh: PostgreSQL is not installed (scripts/postgres.sh install)" >&2; return 1; }
  echo "$d"
}

# Runs a command as the server's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  install)
    if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
      echo "postgres.sh: installing postgresql" >&2
      as_root apt-get update -qq
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
    ;;
  start)
    dir="${2:?usage: postgres.sh start DIR}"
    bin="$(bindir)"
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    as_owner "$bin/postgres" -D "$dir/data" -h 127.0.0.1 -p "$port" -k "$dir" -c fsync=off >"$dir/server.log" 2>&1 &
    for _ in $(seq 1 100); do
      if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
        # The server's own PID (postmaster.pid's first line), not its runuser parent's.
        head -1 "$dir/data/postmaster.pid" >"$dir/pid"
        echo "postgres://postgres@127.0.0.1:$port/postgres"
        exit 0
      fi
      sleep 0.1
    done
    echo "postgres.sh: the server did not start:" >&2
    cat "$dir/server.log" >&2
    exit 1
    ;;
  stop)
    dir="${2:?usage: postgres.sh stop DIR}"
    if [ -f "$dir/pid" ]; then
      pid="$(cat "$dir/pid")"
      # SIGINT: a fast shutdown; wait for it to go.
      kill -INT "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
    ;;
  *)
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
