#!/usr/bin/env bash
# The explorer in a real browser: Debian's Chromium (installed here when missing), driven
# headless by playwright-core (pinned in tests/browser/package-lock.json), against
#   1. a `strata dev` node with a transfer, a token contract (calls, events, a revert);
#   2. a cluster of 4 validator slots, each a primary and a backup machine (8 real
#      processes over TCP), with a certified transaction.
# Every page must render without console errors; a real receipt must say "verified"
# and a tampered bundle (the test rewrites the node's answer) "not verified" with the
# reason. Screenshots go to $STRATA_BROWSER_OUT (default target/browser-test), with
# the measured figures (verification time, Wasm size, first load) in summary.json.
#
#   scripts/browser-test.sh            both topologies
#   scripts/browser-test.sh dev        only the dev node
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

only="${1:-all}"
out="${STRATA_BROWSER_OUT:-$CARGO_TARGET_DIR/browser-test}"
rm -rf "$out"
mkdir -p "$out"

if [ ! -x /usr/bin/chromium ]; then
  echo "browser-test: installing Debian's chromium" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
npm_ci_locked tests/browser

# The nodes are the debug build, as the other client tests run them; the explorer
# benchmark asks for the release build (STRATA_BROWSER_PROFILE=release).
profile="${STRATA_BROWSER_PROFILE:-debug}"
if [ "$profile" = release ]; then
  cargo build --locked --release -p strata-node --bin strata
else
  cargo build --locked -p strata-node --bin strata
fi
bin="$CARGO_TARGET_DIR/$profile/strata"
work="$(mktemp -d)"
pids=()
cleanup() {
  local rc=$?
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "$rc" -ne 0 ]; then
    # The nodes' logs go with the screenshots when something failed.
    mkdir -p "$out/logs"
    cp "$work"/*.log "$out/logs/" 2>/dev/null || true
    for d in "$work"/cluster/validator-*; do
      if [ -f "$d/log" ]; then cp "$d/log" "$out/logs/$(basename "$d").log" || true; fi
    done
    echo "browser-test: failed; node logs in $out/logs" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# A free loopback port (the kernel's choice).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Two bases of N consecutive free loopback ports each, not overlapping (the cluster's
# RPC and p2p ports are base + i): "RPC_BASE P2P_BASE".
free_port_ranges() {
  python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
def free(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()
# Below the kernel's ephemeral range, whose ports client sockets (and their TIME_WAIT)
# take at any moment.
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    base = random.randrange(10000, low - 2 * n)
    if all(free(p) for p in range(base, base + 2 * n)):
        print(base, base + n)
        sys.exit(0)
sys.exit("no free port range")
PY
}

# Fails unless every value given is non-empty (what populate captured).
require() {
  for pair in "$@"; do
    if [ -z "${pair#*=}" ]; then echo "browser-test: no ${pair%%=*} (populate failed)" >&2; exit 1; fi
  done
}

"$bin" contract build --manifest-path contracts/examples/erc20/Cargo.toml --out "$work/erc20" >/dev/null
"$bin" contract build --manifest-path contracts/examples/kvstore/Cargo.toml --out "$work/kvstore" >/dev/null
# The same store without the ABI its module carries (as another toolchain would build it).
python3 - "$work/kvstore/kvstore.wasm" "$work/kvstore/bare.wasm" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
out, pos = bytearray(data[:8]), 8
def leb(p):
    n = shift = 0
    while True:
        b = data[p]; p += 1; n |= (b & 0x7F) << shift; shift += 7
        if b < 0x80: return n, p
while pos < len(data):
    start, sid = pos, data[pos]
    size, body = leb(pos + 1)
    end = body + size
    if sid == 0:
        nlen, name_at = leb(body)
        if data[name_at:name_at + nlen] == b"strata_abi":
            pos = end
            continue
    out += data[start:end]
    pos = end
open(sys.argv[2], "wb").write(out)
PY

# Transactions worth looking at: a transfer, a token deploy, a token transfer (events), a
# failing token transfer (a revert reason), and a key-value store that archives an entry
# (a tombstone). Writes $work/<name>.json for the test.
populate() {
  local url="$1" name="$2" key="$3"
  local transfer deploy token call bad
  transfer="$("$bin" tx send 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --value 1.5ether --rpc "$url" $key | awk '/^transaction/ && !seen {print $2; seen = 1}')"
  token="$("$bin" contract deploy "$work/erc20/erc20.wasm" --args "Tok" "TOK" 1000000 --rpc "$url" $key | awk '/^contract/ && !seen {print $2; seen = 1}')"
  call="$("$bin" contract call "$token" transfer 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 250 --rpc "$url" $key | awk '/^transaction/ && !seen {print $2; seen = 1}')"
  # Reverts (the sender has 999,750 tokens): the CLI says so and exits non-zero.
  bad="$("$bin" contract call "$token" transfer 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 99999999999 --send --gas 2000000 \
    --rpc "$url" $key 2>>"$work/cli.log" | awk '/^transaction/ && !seen {print $2; seen = 1}' || true)"
  local kv
  kv="$("$bin" contract deploy "$work/kvstore/kvstore.wasm" --rpc "$url" $key | awk '/^contract/ && !seen {print $2; seen = 1}')"
  # "record" = "hello", then archived for an hour: its storage key is "v" ++ "record".
  "$bin" contract call "$kv" set 0x7265636f7264 0x68656c6c6f --rpc "$url" $key >/dev/null
  "$bin" contract call "$kv" archiveOwn "[0x7265636f7264]" 3600 --rpc "$url" $key >/dev/null
  local bare bare_set
  bare="$("$bin" contract deploy "$work/kvstore/bare.wasm" --rpc "$url" $key | awk '/^contract/ && !seen {print $2; seen = 1}')"
  bare_set="$("$bin" contract call "$bare" set 0x6b6579 0x76616c7565 --abi "$work/kvstore/kvstore.abi.json" --rpc "$url" $key |
    awk '/^transaction/ && !seen {print $2; seen = 1}')"
  require transfer="$transfer" token="$token" tokenTransfer="$call" failed="$bad" kvstore="$kv" bareStore="$bare" bareSet="$bare_set"
  python3 - "$work/$name.json" "$url" "$transfer" "$token" "$call" "$bad" "$kv" "$bare" "$bare_set" "$work/kvstore/kvstore.abi.json" <<'PY'
import json, sys
path, url, transfer, token, call, bad, kv, bare, bare_set, abi = sys.argv[1:]
json.dump({"url": url, "transfer": transfer, "token": token, "tokenTransfer": call, "failed": bad,
           "kvstore": kv, "archivedKey": "0x767265636f7264", "bareStore": bare, "bareSet": bare_set, "abiFile": abi}, open(path, "w"))
PY
}

if [ "$only" = all ] || [ "$only" = dev ]; then
  port="$(free_port)"
  "$bin" dev --data-dir "$work/dev" --rpc-addr "127.0.0.1:$port" >"$work/dev.out" 2>"$work/dev.log" &
  pids+=($!)
  url="$(dev_node_url "$work/dev.out")"
  [ -n "$url" ] || { echo "browser-test: the dev node did not start" >&2; cat "$work/dev.log" >&2; exit 1; }
  populate "$url" dev "--dev-key 0"
  node tests/browser/explorer.test.mjs --topology n1_dev --fixture "$work/dev.json" --out "$out/n1_dev"
fi

if [ "$only" = all ] || [ "$only" = cluster ]; then
  read -r base_rpc base_p2p < <(free_port_ranges 8) || true
  [ -n "${base_p2p:-}" ] || { echo "browser-test: no free loopback port range for the cluster" >&2; exit 1; }
  "$bin" init --out "$work/cluster" --validators 4 --backups --chain-id 4243 --rpc-port "$base_rpc" --p2p-port "$base_p2p" >/dev/null
  for d in "$work"/cluster/validator-*; do
    "$bin" run --config "$d/config.toml" >"$d/log" 2>&1 &
    pids+=($!)
  done
  url="http://127.0.0.1:$base_rpc"
  up=""
  for _ in $(seq 1 150); do
    if curl -sf -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' "$url" >/dev/null 2>&1; then
      up=yes
      break
    fi
    sleep 0.2
  done
  [ -n "$up" ] || { echo "browser-test: the cluster's first validator did not answer on $url" >&2; exit 1; }
  populate "$url" cluster "--dev-key 1"
  "$bin" tx send 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --value 1wei --certified --save "$work/cert.json" --rpc "$url" --dev-key 2 >/dev/null
  node tests/browser/explorer.test.mjs --topology n4_f1_slots_with_backups --fixture "$work/cluster.json" --certificate "$work/cert.json" \
    --genesis "$work/cluster/genesis.json" --slots yes --out "$out/n4_f1_slots_with_backups"
fi
echo "browser-test: screenshots and summary in $out"
