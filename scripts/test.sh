#!/usr/bin/env bash
# Set up (first run) and run the whole test suite: `./scripts/test.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
start=$(date +%s)
cargo test --locked --workspace --all-targets
# Contracts live in their own workspace (wasm32); their tests run the compiled Wasm.
cargo test --locked --manifest-path contracts/Cargo.toml
echo "test.sh: all tests passed in $(( $(date +%s) - start ))s"
