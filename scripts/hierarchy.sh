#!/usr/bin/env bash
# Starts a hierarchy of chains on loopback — main → contract chain → proof chain, each
# with its validators — deploys the storage market, starts a relayer each way (and one
# that checkpoints the contract chain on main) and a storage provider, and prints what
# runs where. Ctrl-C stops every process (by its PID).
#
#   scripts/hierarchy.sh [--validators N] [--dir DIR] [--demo]
#
#   --validators N   validators per chain (default 4; 1 is lighter)
#   --dir DIR        where everything lives (default .strata/hierarchy; wiped first)
#   --demo           also open a deal for a sample file (window 3 left unproven by the
#                    provider), print its windows as they settle, slash the missed one
#                    after its grace, and exit
set -euo pipefail
cd "$(dirname "$0")/.."

validators=4
dir=.strata/hierarchy
demo=false
while [ $# -gt 0 ]; do
  case "$1" in
    --validators) validators="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --demo) demo=true; shift ;;
    -h | --help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

source scripts/setup.sh
echo "hierarchy: building strata and the storage contracts" >&2
cargo build -q -p strata-node --bin strata
strata="$CARGO_TARGET_DIR/debug/strata"
# Wiped only if it is a hierarchy this script made (or empty): never someone's data.
if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ] && [ ! -f "$dir/.strata-hierarchy" ]; then
  echo "hierarchy: $dir exists and was not made by this script; choose another --dir" >&2
  exit 1
fi
rm -rf "$dir"
mkdir -p "$dir/wasm"
touch "$dir/.strata-hierarchy"
for c in deal proof; do
  "$strata" contract build --manifest-path "contracts/storage/$c/Cargo.toml" --out "$dir/wasm" >/dev/null
done

pids=()
stop() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT INT TERM

# Ports: main from 31000, contract chain from 32000, proof chain from 33000 (p2p; RPC +100).
init_chain() { # name chain-id base [parent]
  local args=(init --out "$dir/$1" --validators "$validators" --chain-id "$2" --p2p-port "$3" --rpc-port "$(($3 + 100))")
  [ -n "${4:-}" ] && args+=(--parent "$dir/$4/genesis.json")
  "$strata" "${args[@]}" >/dev/null
  for cfg in "$dir/$1"/validator-*/config.toml; do
    "$strata" run --config "$cfg" >"$(dirname "$cfg")/log" 2>&1 &
    pids+=($!)
  done
}
init_chain main 1100 31000
init_chain contract 2200 32000 main
init_chain proof 3300 33000 contract
main=http://127.0.0.1:31100 contract=http://127.0.0.1:32100 proof=http://127.0.0.1:33100

wait_rpc() {
  for _ in $(seq 1 300); do
    if curl -sf -X POST -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' "$1" | grep -q '"result":"0x[1-9a-f]'; then return 0; fi
    sleep 0.2
  done
  echo "hierarchy: $1 did not start; see its log under $dir" >&2
  exit 1
}
for url in "$main" "$contract" "$proof"; do wait_rpc "$url"; done

# Dev key 0 is every chain's admin (strata init funds the public dev accounts).
"$strata" chain register --rpc "$main" --genesis "$dir/contract/genesis.json" --dev-key 0 >&2
"$strata" chain register --rpc "$contract" --genesis "$dir/proof/genesis.json" --dev-key 0 >&2
market=$("$strata" deal deploy --contract-rpc "$contract" --proof-rpc "$proof" \
  --deal-wasm "$dir/wasm/strata_storage_deal.wasm" --proof-wasm "$dir/wasm/strata_storage_proof.wasm" --grace-blocks 10 --dev-key 0)
deals=$(echo "$market" | awk '/^deals/ {print $2}')
proofs=$(echo "$market" | awk '/^proofs/ {print $2}')

daemon() { # log-name args...
  local log="$dir/$1.log"
  shift
  "$strata" "$@" >"$log" 2>&1 &
  pids+=($!)
}
skip=()
$demo && skip=(--skip 1:3)
daemon provider provider run --contract-rpc "$contract" --proof-rpc "$proof" --deals "$deals" --proofs "$proofs" \
  --data "$dir/provider" --dev-key 2 "${skip[@]}"
daemon relay-down relay --from "$contract" --to "$proof" --route "$deals:DealOpened=$proofs:announceDeal" \
  --dev-key 3 --state "$dir/relay-down.json"
daemon relay-up relay --from "$proof" --to "$contract" --route "$proofs:StorageProved=$deals:settleProof" \
  --dev-key 3 --state "$dir/relay-up.json" --checkpoint-every 2
daemon relay-main relay --from "$contract" --to "$main" --dev-key 3 --state "$dir/relay-main.json"

cat <<EOF
hierarchy running under $dir ($validators validator(s) per chain):
  main chain      1100  RPC $main   (validators: $dir/main/validator-*/log)
  contract chain  2200  RPC $contract   deals  $deals
  proof chain     3300  RPC $proof   proofs $proofs
  provider        dev key 2, files in $dir/provider   log $dir/provider.log
  relayers        contract→proof (DealOpened), proof→contract (StorageProved), contract→main (checkpoints)
                  logs $dir/relay-{down,up,main}.log
Try:
  $strata chain status --rpc $proof
  $strata provider store FILE --data $dir/provider
  $strata deal open --rpc $contract --deals $deals --file FILE --provider 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC \
      --windows 4 --window-blocks 10 --start-block <proof-chain height + 30> --price 1ether --collateral 2ether --dev-key 1
  $strata deal status --rpc $contract --deals $deals 1
EOF

if ! $demo; then
  echo "Ctrl-C stops everything."
  wait
  exit 0
fi

# The demo: a 20 KiB file, 4 windows of 10 proof-chain blocks; the provider skips window 3.
head -c 20517 /dev/urandom >"$dir/record.bin"
"$strata" provider store "$dir/record.bin" --data "$dir/provider"
provider_addr=0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC
start=$(( $(curl -s -X POST -H 'content-type: application/json' -d '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' "$proof" | sed 's/.*"result":"\(0x[0-9a-f]*\)".*/\1/') + 30 ))
"$strata" deal open --rpc "$contract" --deals "$deals" --file "$dir/record.bin" --provider "$provider_addr" \
  --windows 4 --window-blocks 10 --start-block "$start" --price 1ether --collateral 2ether --dev-key 1
last=""
slashed=false
for _ in $(seq 1 600); do
  status=$("$strata" deal status --rpc "$contract" --deals "$deals" 1)
  # Print the windows' states when they change.
  now=$(echo "$status" | grep -o 'window [0-9]* ([^)]*): [a-z]*' | sed 's/ (.*)//' | paste -sd ' ' -)
  if [ "$now" != "$last" ]; then echo "deal 1: $now"; last="$now"; fi
  if echo "$status" | grep -q 'window 2 .*: paid'; then
    if "$strata" deal slash --rpc "$contract" --deals "$deals" 1 3 --dev-key 4 2>/dev/null; then slashed=true; break; fi
  fi
  sleep 2
done
"$strata" deal status --rpc "$contract" --deals "$deals" 1
if ! $slashed; then
  echo "hierarchy: the demo did not finish (window 3 never slashed); logs under $dir" >&2
  exit 1
fi
