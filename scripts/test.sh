#!/usr/bin/env bash
# The test command: everything `cargo test` proves (model rules, conversions against
# webrtc 0.21.1, simulator, guard, checker, property tests, fuzz corpora replay, insta
# snapshots, conformance against the real rtc stack). Nothing to install beyond cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
# Snapshots must match what is committed: never write new ones here.
unset INSTA_UPDATE
export INSTA_FORCE_PASS=0
cargo test --all-targets "$@"
cargo test --doc
