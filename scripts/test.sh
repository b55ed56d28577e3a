#!/usr/bin/env bash
# Set up (first run) and run the whole test suite: `./scripts/test.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
start=$(date +%s)
cargo test --locked --workspace --all-targets
echo "test.sh: all tests passed in $(( $(date +%s) - start ))s"
