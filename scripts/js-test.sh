#!/usr/bin/env bash
# Real-client test: ethers v6 and viem (pinned in tests/js/package-lock.json, installed
# into tests/js/node_modules) against fresh `strata dev` nodes, once with instant mining
# (the default) and once with interval mining. Called by scripts/test.sh after the Rust
# tests (which build the `strata` binary); runnable on its own:
#
#   scripts/js-test.sh             both mining modes once
#   scripts/js-test.sh --runs 20   twenty times in a row (prints a summary; exit 1 if any failed)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

runs=1
case "${1:-}" in
  "") ;;
  --runs) runs="${2:?--runs N}" ;;
  *) echo "usage: $0 [--runs N]" >&2; exit 2 ;;
esac

npm_ci_locked tests/js

cargo build --locked -p strata-node --bin strata
bin="$CARGO_TARGET_DIR/debug/strata"
work="$(mktemp -d)"
node_pid=""
stop_node() {
  if [ -n "$node_pid" ]; then kill "$node_pid" 2>/dev/null || true; wait "$node_pid" 2>/dev/null || true; fi
  node_pid=""
}
cleanup() { stop_node; rm -rf "$work"; }
trap cleanup EXIT
"$bin" contract build --manifest-path contracts/examples/erc20/Cargo.toml --out "$work/erc20" >/dev/null

# Runs the suite against a fresh dev node started with the arguments given.
run_once() {
  rm -rf "$work/chain"
  "$bin" dev --data-dir "$work/chain" --rpc-addr 127.0.0.1:0 "$@" >"$work/node.out" 2>"$work/node.log" &
  node_pid=$!
  local url
  url="$(dev_node_url "$work/node.out")"
  if [ -z "$url" ]; then
    echo "js-test: the dev node did not start" >&2
    cat "$work/node.log" >&2
    stop_node
    return 1
  fi
  local status=0
  node tests/js/test_clients.mjs "$url" "${url/http:/ws:}" "$work/erc20" >"$work/run.out" 2>&1 || status=$?
  stop_node
  if [ "$status" -ne 0 ]; then
    cat "$work/run.out" >&2
    echo "--- node log (last 40 lines)" >&2
    tail -40 "$work/node.log" >&2
  fi
  return "$status"
}

passed=0
failed=0
for i in $(seq 1 "$runs"); do
  for mode in instant interval; do
    args=()
    [ "$mode" = interval ] && args=(--block-time 250ms)
    t0=$(date +%s%N)
    if run_once "${args[@]}"; then
      passed=$((passed + 1))
      [ "$runs" -eq 1 ] && cat "$work/run.out"
      echo "js-test: run $i ($mode mining) passed in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
    else
      failed=$((failed + 1))
      echo "js-test: run $i ($mode mining) FAILED"
    fi
  done
done
echo "js-test: $passed passed, $failed failed ($runs run(s) x 2 mining modes)"
[ "$failed" -eq 0 ]
