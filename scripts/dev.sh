#!/usr/bin/env bash
# Set up (first run) and run a single-validator dev node: `./scripts/dev.sh [strata dev options]`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --locked -p strata-node --bin strata
exec "$CARGO_TARGET_DIR/debug/strata" dev "$@"
