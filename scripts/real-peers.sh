#!/usr/bin/env bash
# Plays every built-in scenario a real peer can express on that peer, runs the model in
# the matching profile, and prints the agree / known deviation / diverge table.
#
#   scripts/real-peers.sh [chromium|aiortc|all] [OUTDIR]
#
# Peers: chromium (headless Chromium in a network namespace; conformance/browser/, needs
# root, installs chromium with apt-get if missing) against the `w3c` profile, and aiortc
# (a Python venv the player makes; conformance/aiortc/) against the `aiortc` profile.
# Recorded runs go to OUTDIR/<peer>/ (default target/real-peers): `<scenario>.jsonl`,
# `<scenario>.toml` for scenarios played as a variant, `skipped.txt`. Compare a
# committed recording without playing: `dcsim conform --peer P --traces DIR`.
# Exits 1 if a player broke or a scenario diverges twice in a row, 2 on bad arguments.
set -euo pipefail
cd "$(dirname "$0")/.."

which="${1:-all}"
out="${2:-target/real-peers}"
case "$which" in
    all) peers=(chromium aiortc) ;;
    chromium | aiortc) peers=("$which") ;;
    *)
        echo "real-peers.sh: unknown peer '$which' (chromium, aiortc or all)" >&2
        exit 2
        ;;
esac

cargo build --release --quiet
dcsim=target/release/dcsim

# Real peers run on wall-clock time on a shared machine: when a peer's run diverges, the
# whole run is played once more and the second verdict counts (both tables are printed,
# so a flaky scenario shows).
status=0
for peer in "${peers[@]}"; do
    dir="conformance/browser"
    [[ "$peer" == aiortc ]] && dir="conformance/aiortc"
    for attempt in 1 2; do
        rm -rf "${out:?}/$peer"
        mkdir -p "$out/$peer"
        echo "real-peers.sh: playing on $peer ($dir/play.sh), attempt $attempt" >&2
        if ! "$dir/play.sh" "$out/$peer"; then
            echo "real-peers.sh: the $peer player failed" >&2
            [[ $attempt == 2 ]] && status=1
            continue
        fi
        if "$dcsim" conform --peer "$peer" --traces "$out/$peer"; then
            break
        fi
        if [[ $attempt == 2 ]]; then
            status=1
        else
            echo "real-peers.sh: $peer diverged; playing it once more" >&2
        fi
    done
    echo
done
exit "$status"
