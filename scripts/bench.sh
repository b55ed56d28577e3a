#!/usr/bin/env bash
# Runs Strata's benchmarks (release build) and prints each figure beside its
# same-run baseline as a ratio. Arguments go to strata-bench, e.g.
#   ./scripts/bench.sh state --accounts 100000
#   ./scripts/bench.sh explorer [RUNS]     (headless Chromium; see scripts/browser-test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
if [ "${1:-}" = explorer ]; then
  # The explorer in headless Chromium against a cluster of slots (scripts/browser-test.sh):
  # in-browser verification time, first page load and the Wasm size beside their bounds.
  STRATA_BROWSER_BENCH="${2:-30}" STRATA_BROWSER_PROFILE=release exec bash scripts/browser-test.sh cluster
fi
cargo build --locked --release -p strata-bench -p strata-node --bin strata-bench --bin strata
exec "$CARGO_TARGET_DIR/release/strata-bench" "$@"
