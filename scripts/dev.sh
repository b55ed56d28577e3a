#!/usr/bin/env bash
# Set up (first run) and run a single-validator dev node: `./scripts/dev.sh [strata dev options]`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# The dev profile, not release: dependencies are optimised in it too (opt-level 2), and
# under `scripts/bench.sh load` (2,000 transfers over JSON-RPC; 3 runs each, medians,
# 2 cores) the debug node committed 2,146 tx/s at p50 494 ms against the release
# node's 2,140 tx/s at 474 ms (`strata-bench load --strata target/debug/strata`),
# while a cold release build takes ~27 minutes more than the debug build CI makes anyway.
cargo build --locked -p strata-node --bin strata
exec "$CARGO_TARGET_DIR/debug/strata" dev "$@"
