#!/usr/bin/env bash
# Real-client test: web3.py, installed into a local virtual environment, against a
# fresh `strata dev` node (tests/python/test_web3.py, health_record.py, hierarchy_abi.py).
# Called by scripts/test.sh after the Rust tests (which build the `strata` binary);
# runnable on its own too.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "python-test: installing python3-venv" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
fi
venv="${STRATA_PYVENV:-$HOME/.cache/strata-pyvenv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import web3, eth_account, trie' >/dev/null 2>&1 \
  || ! "$venv/bin/pip" freeze | grep -qx 'web3==8.0.0'; then
  echo "python-test: installing tests/python/requirements.txt into $venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/python/requirements.txt
fi

cargo build --locked -p strata-node --bin strata
bin="$CARGO_TARGET_DIR/debug/strata"
work="$(mktemp -d)"
node_pid=""
cleanup() {
  if [ -n "$node_pid" ]; then kill "$node_pid" 2>/dev/null || true; wait "$node_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
"$bin" contract build --manifest-path contracts/examples/erc20/Cargo.toml --out "$work/erc20" >/dev/null
"$bin" contract build --manifest-path contracts/storage/deal/Cargo.toml --out "$work/deal" >/dev/null
"$bin" dev --data-dir "$work/chain" --rpc-addr 127.0.0.1:0 --block-time 100ms >"$work/node.out" 2>"$work/node.log" &
node_pid=$!
url="$(dev_node_url "$work/node.out")"
if [ -z "$url" ]; then
  echo "python-test: the dev node did not start" >&2
  cat "$work/node.log" >&2
  exit 1
fi
"$venv/bin/python" tests/python/test_web3.py "$url" "${url/http:/ws:}" "$work/erc20"
# Storage certificates from a client's side: a health record stored with a certificate.
"$venv/bin/python" tests/python/health_record.py "$url" "$bin"
# The chain registry and the storage-deal contract through their ABI JSON.
"$venv/bin/python" tests/python/hierarchy_abi.py "$url" "$work/deal"
