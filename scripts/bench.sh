#!/usr/bin/env bash
# Runs Strata's benchmarks (release build) and prints each figure beside its
# same-run baseline as a ratio. Arguments go to strata-bench, e.g.
#   ./scripts/bench.sh state --accounts 100000
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --locked --release -p strata-bench -p strata-node --bin strata-bench --bin strata
exec "$CARGO_TARGET_DIR/release/strata-bench" "$@"
