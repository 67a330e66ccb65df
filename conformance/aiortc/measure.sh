#!/usr/bin/env bash
# Runs conformance/aiortc/scenarios/consent-failure.toml N times (concurrently, one
# process each) and prints, per run and peer, the time from the partition to each state
# change that follows it.
#
#   conformance/aiortc/measure.sh OUTDIR [N]     (N defaults to 8)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$1"; n="${2:-8}"
mkdir -p "$out"
venv="${AIORTC_VENV:-$root/target/aiortc-venv}"
# play.sh makes the venv when it is missing (it needs a scenario to play: a short one).
[ -x "$venv/bin/python" ] || "$here/play.sh" "$out/warmup" negotiated-channel
pids=()
for i in $(seq 1 "$n"); do
    "$venv/bin/python" "$here/player.py" "$here/scenarios/consent-failure.toml" "$out/run$i.jsonl" 2> "$out/run$i.err" &
    pids+=($!)
    sleep 1
done
for p in "${pids[@]}"; do wait "$p" || echo "run failed: $p" >&2; done
"$venv/bin/python" - "$out" "$n" <<'PY'
import json, sys
out, n = sys.argv[1], int(sys.argv[2])
print("run peer  after_partition_ms  machine: from -> to")
for i in range(1, n + 1):
    evs = [json.loads(l) for l in open(f"{out}/run{i}.jsonl")]
    t_part = next(e["t_ms"] for e in evs if e.get("action") == "partition")
    for e in evs:
        if e["t_ms"] > t_part and e["event"] == "state":
            print(f"{i:3} {e['peer']:4} {e['t_ms'] - t_part:18}  {e['machine']}: {e['from']} -> {e['to']}")
PY
