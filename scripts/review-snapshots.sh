#!/usr/bin/env bash
# Review transition-trace snapshots (snapshots/*.snap) after a model change.
#
#   scripts/review-snapshots.sh            run the snapshot tests, then review each change
#   cargo insta test --accept --test snapshots   accept every change at once (batch)
#
# Installs cargo-insta if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo insta --version >/dev/null 2>&1; then
    echo "installing cargo-insta..." >&2
    cargo install cargo-insta --locked
fi
# Write pending .snap.new files instead of failing at the first difference.
cargo insta test --test snapshots --review
