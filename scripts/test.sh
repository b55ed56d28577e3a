#!/usr/bin/env bash
# Set up (first run) and run the whole test suite: `./scripts/test.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
start=$(date +%s)
stage() { echo "test.sh: $1 ($(( $(date +%s) - start ))s)"; }
# Hygiene first: formatting, then the shared crates build for a contract's target
# (no_std, wasm32v1-none), then lints on everything (warnings are errors).
cargo fmt --all --check
cargo fmt --all --check --manifest-path contracts/Cargo.toml
cargo build --locked -p strata-protocol --target wasm32v1-none
cargo build --locked -p strata-primitives --no-default-features --target wasm32v1-none
stage "fmt and wasm32 builds passed"
cargo clippy --locked --workspace --all-targets -- -D warnings
# The SDK's crates (and the runtime crates its harness runs) are ready to publish:
# metadata, versions on path dependencies, a README each, nothing outside the package.
cargo package --locked --no-verify --allow-dirty --quiet \
  -p strata-protocol -p strata-primitives -p strata-storage -p strata-trie -p strata-state \
  -p strata-vm -p strata-executor -p strata-sdk-macros -p strata-sdk -p strata-harness
cargo clippy --locked --manifest-path contracts/Cargo.toml --all-targets -- -D warnings
stage "clippy passed"
# The attestation test reads a real PostgreSQL server (Debian's package; the test
# starts and stops its own through scripts/postgres.sh, on loopback).
bash scripts/postgres.sh install
cargo test --locked --workspace --all-targets -- --skip sim_n4 --skip sim_n7
stage "workspace tests passed"
# The consensus simulator's seed sweeps (n = 4 and n = 7), showing their summaries:
# seeds run, heights committed, view changes, crashes, slowest recovery.
cargo test --locked -p strata-consensus --test it sim_n -- --show-output
# Contracts live in their own workspace (wasm32); their tests run the compiled Wasm.
cargo test --locked --manifest-path contracts/Cargo.toml
# The genesis system contracts are committed Wasm: they must be what their source builds to.
bash scripts/build-system-contracts.sh --check
# Real Ethereum clients against dev nodes: web3.py (in a local virtual environment),
# then ethers v6 and viem (pinned npm packages), with instant and interval mining.
bash scripts/python-test.sh
bash scripts/js-test.sh
# The browser verifier: sdk/js/pkg must be what sdk/verify builds to (wasm-bindgen), and
# its tests pass compiled to wasm32 (in Node.js); the npm package's own tests; then the
# explorer in headless Chromium against a dev node and a cluster of validator slots.
bash scripts/build-verifier.sh --check
node --test sdk/js/test/*.test.mjs
bash scripts/browser-test.sh
echo "test.sh: all tests passed in $(( $(date +%s) - start ))s"
