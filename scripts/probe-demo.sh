#!/usr/bin/env bash
# Starts the local aiortc services of conformance/probe/service.py and probes each with
# `dcsim probe`, checking the verdict, the failing check and the exit code; then probes
# the echo service through a partition and checks that ICE recovers and every guarded
# message arrives after the heal. Exits 1 on the first unexpected result.
#
# Environment: DCSIM_BIN (default: a debug build of dcsim), AIORTC_VENV (default
# target/aiortc-venv; made like conformance/aiortc/play.sh makes it), PYTHON (python3).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

venv="${AIORTC_VENV:-$root/target/aiortc-venv}"
python="${PYTHON:-python3}"
if ! "$venv/bin/python" -c 'import aiortc, sys; assert aiortc.__version__.startswith("1.16."), aiortc.__version__' 2>/dev/null; then
    echo "probe-demo.sh: installing aiortc 1.16 into $venv" >&2
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'aiortc==1.16.*'
fi

# A debug build: CI has it from the tests already.
if [[ -n "${DCSIM_BIN:-}" ]]; then
    dcsim=("$DCSIM_BIN")
else
    cargo build --quiet --bin dcsim
    dcsim=("$root/target/debug/dcsim")
fi

fifo=$(mktemp -u)
mkfifo "$fifo"
"$venv/bin/python" conformance/probe/service.py 0 <"$fifo" >"$fifo.out" 2>&1 &
service=$!
exec 3>"$fifo"
trap 'exec 3>&-; wait "$service" 2>/dev/null || true; rm -f "$fifo" "$fifo.out"' EXIT
for _ in $(seq 1 100); do
    grep -q "listening on" "$fifo.out" 2>/dev/null && break
    sleep 0.1
done
grep -q "listening on" "$fifo.out" || { echo "probe-demo.sh: the service did not start:" >&2; cat "$fifo.out" >&2; exit 1; }
port=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$fifo.out" | head -n 1)
base="http://127.0.0.1:$port"

failures=0
# expect NAME EXIT FAILING-CHECK|- -- ARGS...
expect() {
    local name="$1" code="$2" failing="$3"
    shift 4
    local out status=0
    out=$("${dcsim[@]}" probe "$@" --bind 127.0.0.1:0 2>&1) || status=$?
    local ok=1
    [[ "$status" == "$code" ]] || ok=0
    if [[ "$failing" != "-" ]] && ! grep -q "FAIL .*  $failing:" <<<"$out"; then ok=0; fi
    if ((ok)); then
        echo "probe-demo.sh: $name: exit $status as expected$([[ "$failing" == "-" ]] || echo " ($failing)")" >&2
    else
        echo "probe-demo.sh: $name: expected exit $code and failing check '$failing', got exit $status:" >&2
        echo "$out" >&2
        failures=$((failures + 1))
    fi
}

expect echo 0 - -- "$base/echo" --expect-echo --count 5 --interval-ms 50
expect whip 0 - -- "$base/whip" --signaling whip --expect-echo --count 3 --interval-ms 50
expect close-after-3 1 "messages echoed" -- "$base/close-after-3" --expect-echo --count 6 --interval-ms 100
expect never-open 1 "ICE connected" -- "$base/never-open" --expect-echo --timeout 8
expect garbage 1 "answer well-formed" -- "$base/garbage"
expect http-500 1 "HTTP reachable" -- "$base/fail"
expect refused 2 - -- "http://127.0.0.1:1/offer" --timeout 3
expect malformed 2 - -- "not a url"
expect partition 0 - -- "$base/echo" --guarded --expect-echo --count 8 --interval-ms 700 \
    --fault partition@3s+6s --timeout 45

if ((failures)); then
    echo "probe-demo.sh: $failures unexpected result(s)" >&2
    exit 1
fi
echo "probe-demo.sh: every service gave the expected verdict" >&2
