#!/usr/bin/env bash
# Builds the system contracts (contracts/system/{fee,archive,registry}) and writes the Wasm
# the genesis installs: runtime/executor/system-contracts/{fee,archive,registry}.wasm, plus BUILD (the
# rustc that built them and their sha256).
#
# Why committed artifacts: genesis code must not change when someone's toolchain or
# checkout path does. The build is made path independent: it runs through a symlink at
# a fixed path (cargo hashes the absolute path of a path dependency outside the
# workspace, as sdk/ is for contracts/, into every crate's -C metadata, which orders
# symbols and so the code), and --remap-path-prefix rewrites the checkout and cargo's
# home in embedded paths. It uses the locked dependencies, its own target directory
# (other RUSTFLAGS would otherwise invalidate the usual build cache) and no profile
# overrides from the environment.
#
#   scripts/build-system-contracts.sh           rebuild and overwrite the artifacts
#   scripts/build-system-contracts.sh --check   rebuild elsewhere and compare byte for
#                                               byte: exit 0 identical, 1 different;
#                                               "skipped" (exit 0) on another rustc
set -euo pipefail

mode=build
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  -h | --help)
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "usage: $0 [--check]" >&2
    exit 2
    ;;
esac

# The checkout, as a physical path (the build itself reads it through $stable, below).
root="$(cd "$(dirname "$0")/.." && pwd -P)"
cd "$root"
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
target_dir="${CARGO_TARGET_DIR:-target}/system-contracts"
artifacts="$root/runtime/executor/system-contracts"
# crate (file stem in target/) -> artifact name
crates=(strata_fee:fee strata_archive:archive strata_registry:registry)

rustc_version="$("${RUSTC:-rustc}" -V)"

if [ "$mode" = check ]; then
  if [ ! -f "$artifacts/BUILD" ]; then
    echo "build-system-contracts: no $artifacts/BUILD; run $0 first" >&2
    exit 1
  fi
  built_with="$(grep '^rustc ' "$artifacts/BUILD" || true)"
  if [ "$built_with" != "$rustc_version" ]; then
    echo "build-system-contracts: skipped: the artifacts were built with '$built_with'; the check needs that toolchain (this is '$rustc_version')"
    exit 0
  fi
fi

# The last step of every contract build (empty what no call reaches) is the strata
# binary's; built first, with the caller's environment and build cache.
cargo build --locked -q -p strata-node --bin strata
strata_bin="${CARGO_TARGET_DIR:-target}/debug/strata"

# The fixed path every build goes through (one build at a time: it is a symlink).
stable=/tmp/strata-system-contracts
if [ -e "$stable" ] && [ ! -L "$stable" ]; then
  echo "build-system-contracts: $stable exists and is not a symlink; remove it" >&2
  exit 1
fi
if command -v flock >/dev/null; then
  exec 9>"$stable.lock"
  flock 9
else
  echo "build-system-contracts: no flock: do not run two builds at once" >&2
fi
out=""
cleanup() {
  rm -f "$stable"
  if [ -n "$out" ] && [ "$out" != "$artifacts" ]; then rm -rf "$out"; fi
}
trap cleanup EXIT
ln -sfn "$root" "$stable"

# Nothing from the caller's environment may change the code generated.
unset CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_TARGET_WASM32V1_NONE_RUSTFLAGS RUSTC_WORKSPACE_WRAPPER
while IFS= read -r var; do unset "$var"; done < <(env | sed -n 's/^\(CARGO_PROFILE_[A-Z0-9_]*\)=.*/\1/p')
# The checkout's own path is remapped too: rustc never sees it (cargo reads the sources
# through $stable), but as part of RUSTFLAGS it makes cargo rebuild, rather than reuse,
# what another checkout built through the same symlink into a shared target directory.
RUSTFLAGS="--remap-path-prefix=$root=/strata --remap-path-prefix=$stable=/strata --remap-path-prefix=$cargo_home=/cargo"
# Cargo names registry sources under its home as given; a symlinked home may also
# appear resolved.
if [ -d "$cargo_home" ] && [ "$(cd "$cargo_home" && pwd -P)" != "$cargo_home" ]; then
  RUSTFLAGS="$RUSTFLAGS --remap-path-prefix=$(cd "$cargo_home" && pwd -P)=/cargo"
fi
export RUSTFLAGS

echo "build-system-contracts: $rustc_version; target dir $target_dir" >&2
cargo build --release --locked --target wasm32v1-none --target-dir "$target_dir" \
  --manifest-path "$stable/contracts/Cargo.toml" -p strata-fee -p strata-archive -p strata-registry

if [ "$mode" = check ]; then
  out="$(mktemp -d)"
else
  out="$artifacts"
  mkdir -p "$out"
fi
for c in "${crates[@]}"; do
  "$strata_bin" contract shrink "$target_dir/wasm32v1-none/release/${c%%:*}.wasm" --out "$out/${c##*:}.wasm" >/dev/null
  chmod 644 "$out/${c##*:}.wasm"
done

sha() { sha256sum "$1" | cut -d' ' -f1; }

if [ "$mode" = build ]; then
  {
    echo "# Written by scripts/build-system-contracts.sh; verify with: scripts/build-system-contracts.sh --check"
    echo "$rustc_version"
    for c in "${crates[@]}"; do
      echo "$(sha "$out/${c##*:}.wasm")  ${c##*:}.wasm"
    done
  } >"$artifacts/BUILD"
  cat "$artifacts/BUILD"
  exit 0
fi

status=0
for c in "${crates[@]}"; do
  name="${c##*:}.wasm"
  committed="$artifacts/$name"
  recorded="$(awk -v f="$name" '$2 == f { print $1 }' "$artifacts/BUILD")"
  if [ ! -f "$committed" ]; then
    echo "build-system-contracts: MISSING $committed" >&2
    status=1
  elif ! cmp -s "$out/$name" "$committed"; then
    echo "build-system-contracts: DIFFERENT $name: committed $(sha "$committed"), rebuilt $(sha "$out/$name")" >&2
    echo "  the sources, Cargo.lock or build changed since the artifacts were written; run $0 and commit them" >&2
    status=1
  elif [ "$recorded" != "$(sha "$committed")" ]; then
    echo "build-system-contracts: BUILD records $name as '$recorded' but it is $(sha "$committed")" >&2
    status=1
  else
    echo "build-system-contracts: identical $name $(sha "$committed")"
  fi
done
exit "$status"
