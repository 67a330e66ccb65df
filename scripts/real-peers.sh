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
# Exits 1 if a player broke (twice for one scenario) or a scenario diverges, 2 on bad
# arguments.
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

# A debug build: CI has it from the tests already (a release build would compile
# webrtc/rtc once more); the model runs take milliseconds either way.
# DCSIM_BIN: an already built dcsim to compare with instead.
if [[ -n "${DCSIM_BIN:-}" ]]; then
    dcsim="$DCSIM_BIN"
else
    cargo build --quiet --bin dcsim
    dcsim=target/debug/dcsim
fi

# Each peer is played once and compared once: a divergence fails the run, it is never
# played again until it agrees (that would hide a real divergence). Real peers run on
# the wall clock of a shared machine; what keeps that from flaking is in the players
# (the vanish is driven by the datagrams, the browser is warmed up before the run's
# clock starts) and in the comparison (times measured from each run's own anchor
# events, src/conform/peers/anchor.rs). A scenario whose *player* broke (the browser,
# the page or the runner failed; never a divergence) is played once more by play.sh,
# which says why in one line.
status=0
for peer in "${peers[@]}"; do
    dir="conformance/browser"
    [[ "$peer" == aiortc ]] && dir="conformance/aiortc"
    rm -rf "${out:?}/$peer"
    mkdir -p "$out/$peer"
    echo "real-peers.sh: playing on $peer ($dir/play.sh)" >&2
    if ! "$dir/play.sh" "$out/$peer"; then
        echo "real-peers.sh: the $peer player failed" >&2
        status=1
    elif ! "$dcsim" conform --peer "$peer" --traces "$out/$peer"; then
        echo "real-peers.sh: $peer diverged from the model (details: $dcsim conform --peer $peer --traces $out/$peer --details)" >&2
        status=1
    fi
    echo
done
exit "$status"
