#!/usr/bin/env bash
# Runs the cargo-fuzz targets of fuzz/ and reports executions per second and crashes.
#
#   scripts/fuzz.sh [--jobs N] [TARGET|all] [SECONDS]
#                                              each target (or one) for SECONDS (default 30);
#                                              --jobs N runs N fuzzing processes per target
#                                              (libFuzzer's fork mode, -fork=N), one per core
#   scripts/fuzz.sh --planted [TARGET] [SECONDS] [RUNS]
#                                              time how long the harness takes to find the
#                                              planted bug (a guard that skips its state
#                                              check), from an empty corpus, RUNS times
#                                              (default: model_inputs and guard_ops, 60 s, 5)
#
# A long run of every target, one after the other (what docs/fuzzing.md records):
#   DCSIM_FUZZ_TOOLCHAIN=stable scripts/fuzz.sh all 900
# DCSIM_FUZZ_MAX_RUNS=N also stops a target after N executions (libFuzzer -runs=N),
# whichever comes first. DCSIM_FUZZ_WORK=DIR keeps what the fuzzer learns in
# DIR/<target>/ instead of fuzz/work/corpus/<target>/ (an empty DIR: a run from the seeds
# alone). Per target it prints executions, exec/s, coverage (cov and ft of libFuzzer's
# last status line), corpus size and wall time.
#
# Installs cargo-fuzz if it is missing (cargo install cargo-fuzz --locked). Uses a nightly
# toolchain with AddressSanitizer when one is installed, else stable with `-s none`
# (DCSIM_FUZZ_TOOLCHAIN=stable forces stable). Seeds come from fuzz/corpus/<target>/
# (never written to); what the fuzzer learns goes to fuzz/work/corpus/<target>/ and logs
# to fuzz/work/logs/ (both ignored by git). Exits 1 when a target crashed, printing the
# command that reproduces the crash; keep the input in fuzz/regressions/<target>/ once
# fixed so that `cargo test` replays it.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(model_inputs guard_ops sim_faults scenario_parse trace_parse avatar_chat)

planted=0
jobs=1
while [[ "${1:-}" == --* ]]; do
    case "$1" in
        --planted) planted=1; shift ;;
        --jobs)
            jobs="${2:-}"
            if ! [[ "$jobs" =~ ^[1-9][0-9]*$ ]]; then
                echo "fuzz.sh: --jobs needs a whole number of at least 1, got '${2:-}'" >&2
                exit 2
            fi
            shift 2
            ;;
        *) echo "fuzz.sh: unknown option '$1' (options: --planted, --jobs N)" >&2; exit 2 ;;
    esac
done
fork=()
if ((jobs > 1)); then
    # Fork mode: N child processes share the corpus; any crash, timeout or OOM stops it.
    fork=(-fork="$jobs" -ignore_crashes=0 -ignore_timeouts=0 -ignore_ooms=0)
fi
target="${1:-all}"
seconds="${2:-}"
runs="${3:-5}"
if [[ -z "$seconds" ]]; then
    if ((planted)); then seconds=60; else seconds=30; fi
fi
if [[ "$target" == "all" ]]; then
    if ((planted)); then selected=(model_inputs guard_ops); else selected=("${TARGETS[@]}"); fi
else
    known=0
    for t in "${TARGETS[@]}"; do [[ "$t" == "$target" ]] && known=1; done
    if ((!known)); then
        echo "fuzz.sh: unknown target '$target' (targets: ${TARGETS[*]})" >&2
        exit 2
    fi
    selected=("$target")
fi
if ! [[ "$seconds" =~ ^[0-9]+$ && "$runs" =~ ^[0-9]+$ ]]; then
    echo "fuzz.sh: SECONDS and RUNS must be whole numbers" >&2
    exit 2
fi
max_runs=()
if [[ -n "${DCSIM_FUZZ_MAX_RUNS:-}" ]]; then
    if ! [[ "$DCSIM_FUZZ_MAX_RUNS" =~ ^[0-9]+$ ]]; then
        echo "fuzz.sh: DCSIM_FUZZ_MAX_RUNS must be a whole number" >&2
        exit 2
    fi
    max_runs=(-runs="$DCSIM_FUZZ_MAX_RUNS")
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz (cargo install cargo-fuzz --locked)" >&2
    cargo install cargo-fuzz --locked
fi

# Toolchain: nightly + AddressSanitizer when available, else stable without a sanitizer.
fuzz=(cargo fuzz)
sanitizer=(-s none)
mode="stable, no sanitizer"
if [[ "${DCSIM_FUZZ_TOOLCHAIN:-}" != "stable" ]] && cargo +nightly --version >/dev/null 2>&1; then
    fuzz=(cargo +nightly fuzz)
    sanitizer=()
    mode="nightly, AddressSanitizer"
fi
features=()
if ((planted)); then features=(--features planted-bug); fi

# Comparison tracing (-sanitizer-coverage-trace-compares, cargo fuzz's default) is what
# libFuzzer learns magic values from: the parsers keep it. model_inputs and guard_ops
# decode their bytes into operations and compare them with no constants worth learning;
# built without it they ran 1.4x and 2.1x faster and reached as much coverage or more
# (docs/testing.md has the runs). Their build has its own target directory, so that the
# two kinds of build do not rebuild each other.
cmp_flags() {
    case "$1" in
        model_inputs | guard_ops) echo "--no-trace-compares --target-dir fuzz/target/no-trace-compares" ;;
    esac
}

mkdir -p fuzz/work/logs
echo "fuzz.sh: ${mode}; ${seconds} s per run; ${jobs} job(s) per target" >&2
for t in "${selected[@]}"; do
    read -ra extra <<<"$(cmp_flags "$t")"
    "${fuzz[@]}" build "${sanitizer[@]}" "${features[@]}" "${extra[@]}" "$t" >&2
done

# Prints the value of libFuzzer's final `stat::NAME:` line in LOG (empty if absent).
stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -n 1; }
# Prints the value after `NAME: ` in libFuzzer's last status line of LOG (`cov`, `ft`,
# `corp`; empty if absent).
status_field() { grep -E '^#[0-9]+' "$2" | tail -n 1 | sed -n "s|.* $1: \([^ ]*\).*|\1|p"; }

status=0
summary=()
for t in "${selected[@]}"; do
    read -ra extra <<<"$(cmp_flags "$t")"
    if ((planted)); then
        times=()
        for ((i = 1; i <= runs; i++)); do
            work="fuzz/work/planted/$t"
            rm -rf "$work"
            mkdir -p "$work" "fuzz/work/planted-artifacts/$t"
            log="fuzz/work/logs/planted-$t-$i.log"
            start=$(date +%s.%N)
            if "${fuzz[@]}" run "${sanitizer[@]}" "${features[@]}" "${extra[@]}" "$t" "$work" -- \
                -max_total_time="$seconds" -print_final_stats=1 -seed="$i" \
                -artifact_prefix="fuzz/work/planted-artifacts/$t/" >"$log" 2>&1; then
                times+=("none")
                echo "$t run $i (seed $i): not found in ${seconds} s" >&2
            else
                end=$(date +%s.%N)
                took=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
                execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" | tail -n 1)
                times+=("$took")
                echo "$t run $i (seed $i): found after ${took} s (${execs:-?} execs): $(grep -m1 -o 'no-send-on-non-open\|forbid[^\"]*' "$log" || true)" >&2
            fi
        done
        summary+=("$t planted bug: ${times[*]} (seconds per run, wall clock incl. start-up)")
        continue
    fi
    work="${DCSIM_FUZZ_WORK:-fuzz/work/corpus}/$t"
    mkdir -p "$work" "fuzz/artifacts/$t"
    log="fuzz/work/logs/$t.log"
    start=$(date +%s)
    if "${fuzz[@]}" run "${sanitizer[@]}" "${extra[@]}" "$t" "$work" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" "${max_runs[@]}" "${fork[@]}" -print_final_stats=1 \
        -timeout=10 >"$log" 2>&1; then
        took=$(($(date +%s) - start))
        execs=$(stat number_of_executed_units "$log")
        rate=$(stat average_exec_per_sec "$log")
        # Fork mode prints no final stats: the last status line has the total executions,
        # but its exec/s is not the rate of all the jobs together (1.9 M executions in
        # 30 s were printed as 28.7 k exec/s), so the rate is executions over wall time.
        execs=${execs:-$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n 's/^#\([0-9]*\).*/\1/p')}
        if [[ -z "$rate" && -n "$execs" ]] && ((took > 0)); then
            rate=$((execs / took))
        fi
        cov=$(status_field cov "$log")
        ft=$(status_field ft "$log")
        corp=$(status_field corp "$log")
        files=$(find "$work" -maxdepth 1 -type f | wc -l)
        summary+=("$t: ${execs:-?} execs in ${took} s, ${rate:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?} (units/bytes; ${files} files in $work), no crash")
        echo "$t final: $(grep -E '^#[0-9]+' "$log" | tail -n 1)" >&2
    else
        status=1
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        summary+=("$t: CRASH (log: $log)")
        echo "---- $t crashed; the report:" >&2
        sed -n '/panicked at/,/^==/p' "$log" | head -n 60 >&2
        echo "---- reproduce with:" >&2
        echo "  ${fuzz[*]} run ${sanitizer[*]} ${extra[*]} $t ${artifact:-fuzz/artifacts/$t/<crash file>}" >&2
        echo "  (or copy it to fuzz/regressions/$t/ and run: cargo test --test fuzz_corpus)" >&2
    fi
done

echo "fuzz.sh results (${mode}):"
for line in "${summary[@]}"; do echo "  $line"; done
exit "$status"
