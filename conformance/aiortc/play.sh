#!/usr/bin/env bash
# Plays dcsim scenarios with two real aiortc peers and writes their traces.
#
#   conformance/aiortc/play.sh OUTDIR [SCENARIO...]
#
# SCENARIO is a built-in name (scenarios/NAME.toml) or a .toml path; none = every
# built-in. A built-in with a file in conformance/aiortc/variants/ is played as that
# variant (the file says why). Writes OUTDIR/<name>.jsonl for each scenario played, OUTDIR/<name>.toml when
# the scenario played differs from the built-in one, and OUTDIR/skipped.txt with
# "<name>: <reason>" for each scenario aiortc cannot express. Scenarios run concurrently,
# each in its own process (the ~30 s consent timeout dominates). Exit status: 0 unless the
# player itself broke (or the venv could not be made).
#
# Environment: AIORTC_VENV (default target/aiortc-venv), AIORTC_JOBS (default 3), AIORTC_STAGGER (seconds
# between starts, default 2),
# PYTHON (default python3, must be 3.11+ for tomllib).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [ $# -lt 1 ]; then
    echo "usage: $0 OUTDIR [SCENARIO...]" >&2
    exit 2
fi
out="$1"
shift
mkdir -p "$out"
out="$(cd "$out" && pwd)"

venv="${AIORTC_VENV:-$root/target/aiortc-venv}"
jobs="${AIORTC_JOBS:-3}"
python="${PYTHON:-python3}"

if ! "$venv/bin/python" -c 'import aiortc, sys; assert aiortc.__version__.startswith("1.16."), aiortc.__version__' 2>/dev/null; then
    echo "play.sh: installing aiortc 1.16 into $venv" >&2
    "$python" -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed (tomllib)"'
    "$python" -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'aiortc==1.16.*'
fi
"$venv/bin/python" -c 'import aiortc, aioice; print("play.sh: aiortc", aiortc.__version__, "aioice", aioice.__version__)' >&2

if [ $# -eq 0 ]; then
    set -- "$root"/scenarios/*.toml
fi

: > "$out/skipped.txt"
logdir="$out/.logs"
mkdir -p "$logdir"

# One process per scenario, the longest first, started 2 s apart (AIORTC_STAGGER): the
# start of a run (imports, certificates) costs about a second of CPU, and a player that
# starts while another is in its first 100 ms would delay that one's handshake.
duration_of() {
    sed -n 's/^duration_ms *= *\([0-9]*\).*/\1/p' "$1" | head -n 1
}
stagger="${AIORTC_STAGGER:-2}"
declare -A path_of
list=()
for arg in "$@"; do
    if [ -f "$arg" ]; then path="$arg"; else path="$root/scenarios/$arg.toml"; fi
    if [ ! -f "$path" ]; then
        echo "play.sh: no scenario $arg" >&2
        exit 2
    fi
    name="$(basename "$path" .toml)"
    # A built-in with an aiortc variant (variants/NAME.toml says why) is played as that.
    if [ "$path" -ef "$root/scenarios/$name.toml" ] && [ -f "$here/variants/$name.toml" ]; then
        path="$here/variants/$name.toml"
    fi
    path_of[$name]="$path"
    d="$(duration_of "$path")"
    list+=("${d:-60000}:$name")
done
mapfile -t order < <(printf '%s\n' "${list[@]}" | sort -t: -k1,1nr | cut -d: -f2-)

start=$(date +%s)
pids=()
for name in "${order[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 0.5; done
    (
        # A run whose player broke (exit other than 0 or 3; never a divergence, which
        # only `dcsim conform` judges) is played once more, after one line saying why.
        for attempt in 1 2; do
            rc=0
            timeout 300 "$venv/bin/python" "$here/player.py" "${path_of[$name]}" "$out/$name.jsonl" \
                > "$logdir/$name.out" 2> "$logdir/$name.err" || rc=$?
            if [ "$rc" = 0 ] || [ "$rc" = 3 ]; then break; fi
            why="$(grep -v '^\s*$' "$logdir/$name.err" | tail -n 1)"
            [ "$rc" = 124 ] && why="did not finish within 300 s"
            echo "play.sh: $name: the player broke (attempt $attempt, exit $rc): ${why:-no message}" >&2
        done
        echo "$rc" > "$logdir/$name.rc"
    ) &
    pids+=($!)
    sleep "$stagger"
done
for pid in "${pids[@]}"; do wait "$pid" || true; done

broken=0
for name in "${order[@]}"; do
    rc="$(cat "$logdir/$name.rc" 2>/dev/null || echo 99)"
    case "$rc" in
        0)
            echo "played  $name ($(wc -l < "$out/$name.jsonl") events)" >&2
            # A scenario other than the built-in (a variant) is kept beside its trace.
            if ! cmp -s "${path_of[$name]}" "$root/scenarios/$name.toml"; then
                cp "${path_of[$name]}" "$out/$name.toml"
            fi
            ;;
        3)
            echo "$name: $(cat "$logdir/$name.out")" >> "$out/skipped.txt"
            echo "skipped $name: $(cat "$logdir/$name.out")" >&2
            rm -f "$out/$name.jsonl"
            ;;
        *)
            echo "BROKEN  $name (exit $rc):" >&2
            tail -n 20 "$logdir/$name.err" >&2
            broken=1
            ;;
    esac
done
echo "play.sh: $# scenarios in $(( $(date +%s) - start )) s; traces in $out" >&2
exit "$broken"
