#!/usr/bin/env bash
# Idempotent set-up shared by scripts/dev.sh and scripts/test.sh: system packages,
# the Rust targets, and a build cache outside the clone. Source it, don't run it.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# rocksdb's bindgen needs libclang; its C++ build needs a compiler.
missing=()
dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
command -v c++ >/dev/null 2>&1 || missing+=(g++)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Contracts are built for a pinned Wasm target (MVP features only: a new Rust
# release cannot change the instructions we emit).
if ! rustup target list --installed | grep -qx wasm32v1-none; then
  echo "setup: adding Rust target wasm32v1-none" >&2
  rustup target add wasm32v1-none >&2
fi

# Reuse builds across clones (CI runs in a fresh clone); not required, just faster.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# For the JavaScript test scripts: Node.js and npm (Debian's) when missing, then the
# packages pinned in DIR/package-lock.json, installed into DIR/node_modules when the lock
# changed since the last install.
npm_ci_locked() {
  local dir="$1" lock_sum
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "setup: installing Node.js and npm" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  fi
  lock_sum="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [ "$(cat "$dir/node_modules/.strata-lock" 2>/dev/null || true)" != "$lock_sum" ]; then
    echo "setup: npm ci ($dir/package-lock.json)" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$lock_sum" >"$dir/node_modules/.strata-lock"
  fi
}

# For the client test scripts: the JSON-RPC URL a `strata dev` prints to OUT_FILE once it
# listens (empty after 30 s).
dev_node_url() {
  local out_file="$1" url=""
  for _ in $(seq 1 300); do
    url="$(grep -o 'JSON-RPC: http://[0-9.:]*' "$out_file" | head -1 | cut -d' ' -f2 || true)"
    [ -n "$url" ] && break
    sleep 0.1
  done
  echo "$url"
}
