#!/usr/bin/env bash
# Starts a local validator cluster on 127.0.0.1 with one command:
#   ./scripts/cluster.sh            # 4 validators (f = 1)
#   ./scripts/cluster.sh 7          # 7 validators (f = 2)
# Each validator has its own RocksDB under $STRATA_CLUSTER_DIR (default .strata/cluster)
# and logs to validator-<i>/log there. The chain resumes if the directory exists;
# delete it for a fresh genesis. Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
n="${1:-4}"
dir="${STRATA_CLUSTER_DIR:-.strata/cluster}"
cargo build --locked -p strata-node --bin strata
bin="$CARGO_TARGET_DIR/debug/strata"
if [ ! -f "$dir/genesis.json" ]; then
  "$bin" init --out "$dir" --validators "$n" >/dev/null
fi
n="$(ls -d "$dir"/validator-* | wc -l)"
pids=()
stop() {
  trap - EXIT INT TERM
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop EXIT INT TERM
for i in $(seq 0 $((n - 1))); do
  "$bin" run --config "$dir/validator-$i/config.toml" >"$dir/validator-$i/log" 2>&1 &
  pids+=($!)
done
echo "cluster: $n validators, data in $dir (logs: $dir/validator-<i>/log)"
for i in $(seq 0 $((n - 1))); do
  rpc="$(grep '^rpc_addr' "$dir/validator-$i/config.toml" | cut -d'"' -f2)"
  echo "  validator $i  JSON-RPC http://$rpc  (WebSocket ws://$rpc)  pid ${pids[$i]}"
done
echo "chain id $(grep -o '"chain_id": [0-9]*' "$dir/genesis.json" | grep -o '[0-9]*$'); funded accounts: the strata dev test accounts"
wait
