#!/usr/bin/env bash
# Runs .clusterfuzzlite/build.sh here, the way ClusterFuzzLite's image runs it (with $SRC
# and $OUT), to check that every fuzz target builds into a fuzzer binary with its seed
# corpus. Needs a nightly toolchain (AddressSanitizer, as ClusterFuzzLite builds) and
# installs cargo-fuzz if it is missing. Prints what landed in $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
src=$(mktemp -d)
out=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
ln -s "$(pwd)" "$src/dcsim"
SRC="$src" OUT="$out" RUSTUP_TOOLCHAIN="${RUSTUP_TOOLCHAIN:-nightly}" bash .clusterfuzzlite/build.sh
echo "cflite-build.sh: built into $out:" >&2
ls -l "$out" >&2
