#!/usr/bin/env bash
# Builds the browser verifier — sdk/verify for wasm32-unknown-unknown, then wasm-bindgen
# (--target web) — into sdk/js/pkg/, which the explorer embeds and the npm package ships:
# strata_verify.js, strata_verify_bg.wasm, their .d.ts files, and BUILD (the rustc and
# wasm-bindgen that made them and their sha256).
#
# Committed for the same reason as the system contracts: the node binary embeds the
# bundle, and building it needs a Wasm target and wasm-bindgen-cli that a plain `cargo
# build` of the node should not. Paths are remapped so the bytes do not depend on where
# the checkout or cargo's home is.
#
#   scripts/build-verifier.sh           rebuild and overwrite sdk/js/pkg
#   scripts/build-verifier.sh --check   rebuild elsewhere and compare byte for byte
#                                       (exit 1 if different; "skipped" on another
#                                       rustc), then run the crate's tests compiled to
#                                       wasm32 (wasm-bindgen-test-runner, in Node.js)
#
# wasm-bindgen-cli (the exact version of the wasm-bindgen crate) is installed into
# $STRATA_TOOLS (default ~/.cache/strata-tools) on first use.
set -euo pipefail

mode=build
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "$0")/.." && pwd -P)"
cd "$root"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
target_dir="${CARGO_TARGET_DIR:-target}/verifier"
pkg="$root/sdk/js/pkg"
tools="${STRATA_TOOLS:-$HOME/.cache/strata-tools}"
bindgen_version="$(sed -n 's/^wasm-bindgen = "=\(.*\)"$/\1/p' sdk/verify/Cargo.toml)"
rustc_version="$("${RUSTC:-rustc}" -V)"

if [ "$mode" = check ]; then
  built_with="$(grep '^rustc ' "$pkg/BUILD" 2>/dev/null || true)"
  if [ "$built_with" != "$rustc_version" ]; then
    echo "build-verifier: skipped: sdk/js/pkg was built with '$built_with'; the check needs that toolchain (this is '$rustc_version')"
    exit 0
  fi
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  echo "build-verifier: adding Rust target wasm32-unknown-unknown" >&2
  rustup target add wasm32-unknown-unknown >&2
fi
bindgen="$tools/bin/wasm-bindgen"
if [ "$("$bindgen" --version 2>/dev/null || true)" != "wasm-bindgen $bindgen_version" ]; then
  echo "build-verifier: installing wasm-bindgen-cli $bindgen_version into $tools" >&2
  cargo install -q wasm-bindgen-cli --version "$bindgen_version" --root "$tools" >&2
fi

RUSTFLAGS="--remap-path-prefix=$cargo_home=/cargo --remap-path-prefix=$root=/strata" \
  CARGO_TARGET_DIR="$target_dir" \
  cargo build --locked -q -p strata-verify --target wasm32-unknown-unknown --profile verifier
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$bindgen" --target web --remove-name-section --remove-producers-section --out-dir "$out" --out-name strata_verify \
  "$target_dir/wasm32-unknown-unknown/verifier/strata_verify.wasm"
{
  echo "$rustc_version"
  echo "wasm-bindgen $bindgen_version"
  (cd "$out" && sha256sum strata_verify.js strata_verify_bg.wasm)
} >"$out/BUILD"

files=(strata_verify.js strata_verify.d.ts strata_verify_bg.wasm strata_verify_bg.wasm.d.ts BUILD)
if [ "$mode" = check ]; then
  for f in "${files[@]}"; do
    if ! cmp -s "$out/$f" "$pkg/$f"; then
      echo "build-verifier: sdk/js/pkg/$f is not what sdk/verify builds to; run scripts/build-verifier.sh and commit" >&2
      exit 1
    fi
  done
  echo "build-verifier: sdk/js/pkg is what sdk/verify builds to ($(wc -c <"$pkg/strata_verify_bg.wasm") bytes of Wasm)"
  # The same bytes' tests: the profile and flags of the build above, so its
  # dependencies are compiled once.
  RUSTFLAGS="--remap-path-prefix=$cargo_home=/cargo --remap-path-prefix=$root=/strata" \
    CARGO_TARGET_DIR="$target_dir" CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="$tools/bin/wasm-bindgen-test-runner" \
    cargo test --locked -p strata-verify --target wasm32-unknown-unknown --profile verifier --test it
else
  mkdir -p "$pkg"
  for f in "${files[@]}"; do cp "$out/$f" "$pkg/$f"; done
  echo "build-verifier: wrote sdk/js/pkg ($(wc -c <"$pkg/strata_verify_bg.wasm") bytes of Wasm)"
fi
