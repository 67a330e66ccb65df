#!/usr/bin/env bash
# Measures Chrome's ICE timing after the remote vanishes: plays the crash variant of
# checking-disconnected-failed N times (concurrently) and prints, per run, the time of
# the crash and of a's iceConnectionState / connectionState changes after it.
#
#   conformance/browser/measure-vanish.sh [N=5] [OUTDIR=/tmp/dcsim-vanish]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
N="${1:-5}"
OUT="${2:-/tmp/dcsim-vanish}"
rm -rf "$OUT"; mkdir -p "$OUT"
for i in $(seq 1 "$N"); do
  "$HERE/play.sh" "$OUT/run$i" checking-disconnected-failed > "$OUT/run$i.log" 2>&1 &
  sleep 1
done
wait
chromium --version 2>/dev/null | grep -o 'Chromium [0-9.]*' || true
python3 - "$OUT" "$N" <<'EOF'
import json, sys
out, n = sys.argv[1], int(sys.argv[2])
print("| run | crash (ms) | ice disconnected | pc disconnected | pc failed | ice failed | disconnected - crash | pc failed - crash | pc failed - ice disconnected |")
print("|---|---|---|---|---|---|---|---|---|")
for i in range(1, n + 1):
    try:
        ev = [json.loads(l) for l in open(f"{out}/run{i}/checking-disconnected-failed.jsonl")]
    except OSError as e:
        print(f"| {i} | player broke: {e} |"); continue
    crash = next(e["t_ms"] for e in ev if e.get("action") == "crash")
    def first(machine, to):
        return next((e["t_ms"] for e in ev if e.get("peer") == "a" and e.get("machine") == machine
                     and e.get("to") == to and e["t_ms"] >= crash), None)
    idisc, pdisc = first("ice_connection", "disconnected"), first("peer_connection", "disconnected")
    pfail, ifail = first("peer_connection", "failed"), first("ice_connection", "failed")
    d = lambda x, y: "-" if x is None or y is None else x - y
    print(f"| {i} | {crash} | {idisc} | {pdisc} | {pfail} | {ifail or 'never'} | {d(idisc, crash)} | {d(pfail, crash)} | {d(pfail, idisc)} |")
EOF
