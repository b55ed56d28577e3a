#!/usr/bin/env bash
# Runs the consensus simulator over many seeds (release build):
#   ./scripts/sim.sh [SEEDS]        SEEDS per validator count (n = 4 and n = 7), default 10000
# The first seed is STRATA_SEED, or the current time so that every run explores new
# seeds. A failing seed prints the command that replays it alone (any profile replays
# it exactly; add STRATA_SIM_TRACE=1 to see every event).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
seeds="${1:-10000}"
export STRATA_SIM_SEEDS="$seeds"
export STRATA_SEED="${STRATA_SEED:-$(date +%s)}"
start=$(date +%s)
cargo test --locked --release -p strata-consensus --test it sim_ -- --nocapture
echo "sim.sh: $seeds seeds each for n = 4 and n = 7 from seed $STRATA_SEED passed in $(( $(date +%s) - start ))s"
