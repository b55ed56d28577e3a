#!/usr/bin/env bash
# Starts a local validator cluster on 127.0.0.1 with one command:
#   ./scripts/cluster.sh              # 4 validators (f = 1)
#   ./scripts/cluster.sh 7            # 7 validators (f = 2)
#   ./scripts/cluster.sh 4 --backups  # 4 validator slots, each a primary and a backup
#                                     # machine with its own key: 8 processes
# Each machine has its own RocksDB under $STRATA_CLUSTER_DIR (default .strata/cluster)
# and logs to validator-<i>[-backup]/log there. The chain resumes if the directory
# exists; delete it for a fresh genesis. Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
n="${1:-4}"
backups=""
if [ "${2:-}" = "--backups" ]; then backups="--backups"; fi
dir="${STRATA_CLUSTER_DIR:-.strata/cluster}"
cargo build --locked -p strata-node --bin strata
bin="$CARGO_TARGET_DIR/debug/strata"
if [ ! -f "$dir/genesis.json" ]; then
  "$bin" init --out "$dir" --validators "$n" $backups >/dev/null
fi
machines=()
for d in "$dir"/validator-*; do machines+=("$d"); done
pids=()
stop() {
  trap - EXIT INT TERM
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop EXIT INT TERM
for d in "${machines[@]}"; do
  "$bin" run --config "$d/config.toml" >"$d/log" 2>&1 &
  pids+=($!)
done
echo "cluster: ${#machines[@]} machines, data in $dir (logs: $dir/validator-<i>[-backup]/log)"
for k in "${!machines[@]}"; do
  d="${machines[$k]}"
  rpc="$(grep '^rpc_addr' "$d/config.toml" | cut -d'"' -f2)"
  echo "  $(basename "$d")  JSON-RPC http://$rpc  (WebSocket ws://$rpc)  pid ${pids[$k]}"
done
echo "chain id $(grep -o '"chain_id": [0-9]*' "$dir/genesis.json" | grep -o '[0-9]*$'); funded accounts: the strata dev test accounts"
wait
