#!/usr/bin/env bash
# Plays dcsim scenarios in headless Chromium and records their traces.
#
#   conformance/browser/play.sh OUTDIR [SCENARIO...]
#
# SCENARIO is a built-in name (scenarios/<name>.toml) or a .toml path; none = every
# built-in. For each scenario: OUTDIR/<name>.jsonl (the trace), OUTDIR/<name>.toml when
# the scenario played is a variant of the built-in, and a line `<name>: <reason>` in
# OUTDIR/skipped.txt when Chromium cannot express it. Exit status 1 only when the player
# itself broke (not on divergences); 2 on bad usage.
#
# Needs root (network namespaces). Each scenario gets its own namespace with a veth
# pair and a default route (Chromium gathers no loopback candidates); the namespace is
# removed on exit. DCSIM_JOBS (default 3) scenarios run at once; DCSIM_CHROMIUM picks the
# binary; DCSIM_VERBOSE=1 keeps the Chromium logs and prints the runner's progress;
# DCSIM_SPLIT=1 puts each peer in its own Chromium process in every scenario.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
JOBS="${DCSIM_JOBS:-3}"
CHROMIUM="${DCSIM_CHROMIUM:-chromium}"
VERBOSE=()
[[ "${DCSIM_VERBOSE:-0}" == 1 ]] && VERBOSE=(-v)
[[ "${DCSIM_SPLIT:-0}" == 1 ]] && VERBOSE+=(--split)

die() { echo "play.sh: $*" >&2; exit "${2:-1}"; }

[[ $# -ge 1 ]] || die "usage: play.sh OUTDIR [SCENARIO...]" 2
OUT="$1"; shift
[[ $(id -u) == 0 ]] || die "needs root (network namespaces)"
command -v ip >/dev/null || die "iproute2 (ip) is missing"
command -v python3 >/dev/null || die "python3 is missing"
python3 -c 'import sys, tomllib; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
  || die "python3 >= 3.11 is needed (tomllib)"

if ! command -v "$CHROMIUM" >/dev/null; then
  echo "play.sh: installing chromium" >&2
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get install -y chromium >/dev/null 2>&1 \
    || { timeout 300 apt-get update >/dev/null 2>&1 && timeout 600 apt-get install -y chromium >/dev/null 2>&1; } \
    || die "apt-get install -y chromium failed"
fi
VERSION="$("$CHROMIUM" --version 2>/dev/null | grep -o 'Chromium [0-9.]*' || true)"

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
rm -f "$OUT/skipped.txt"

# Scenario files.
FILES=()
if [[ $# -eq 0 ]]; then
  for f in "$ROOT"/scenarios/*.toml; do FILES+=("$f"); done
else
  for s in "$@"; do
    if [[ "$s" == *.toml || "$s" == */* ]]; then f="$s"; else f="$ROOT/scenarios/$s.toml"; fi
    [[ -f "$f" ]] || die "no such scenario: $s ($f)" 2
    FILES+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")")
  done
fi

# Namespaces of this run, removed on exit.
NETNS=()
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for ns in "${NETNS[@]:-}"; do [[ -n "$ns" ]] && ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One namespace per scenario: veth pair 10.<a>.<b>.1 (host) / .2 (namespace), default
# route via the host side. Unique names and subnets from this shell's PID and the index.
setup_ns() {
  local i="$1" ns="dcsim-$$-$i" vh="dcv$$h$i" vn="dcv$$n$i"
  local a=$(( 100 + i % 150 )) b=$(( $$ % 256 ))
  ip netns add "$ns" || return 1
  NETNS+=("$ns")
  ip link add "$vh" type veth peer name "$vn" &&
  ip link set "$vn" netns "$ns" &&
  ip addr add "10.$a.$b.1/30" dev "$vh" &&
  ip link set "$vh" up &&
  ip netns exec "$ns" ip addr add "10.$a.$b.2/30" dev "$vn" &&
  ip netns exec "$ns" ip link set "$vn" up &&
  ip netns exec "$ns" ip link set lo up &&
  ip netns exec "$ns" ip route add default via "10.$a.$b.1" || return 1
  NS_NAME="$ns"; NS_HOST="10.$a.$b.1"
}

echo "play.sh: ${VERSION:-chromium}, ${#FILES[@]} scenario(s), $JOBS at a time -> $OUT" >&2
declare -A NAME_OF LIMIT_OF
RUN=()
for f in "${FILES[@]}"; do
  name="$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb")).get("name", ""))' "$f" 2>/dev/null || true)"
  dur="$(python3 -c 'import sys, tomllib; print(int(tomllib.load(open(sys.argv[1], "rb")).get("duration_ms", 60000)) // 1000)' "$f" 2>/dev/null || echo 60)"
  [[ -n "$name" ]] || name="$(basename "$f" .toml)"
  set +e
  msg="$(python3 "$HERE/runner.py" --check-only --scenario "$f" --out "$OUT" --netns none --host-ip none 2>&1)"
  rc=$?
  set -e
  if [[ $rc == 3 ]]; then
    echo "$name: ${msg#SKIP }" >> "$OUT/skipped.txt"
    echo "play.sh: skip $name: ${msg#SKIP }" >&2
  elif [[ $rc != 0 ]]; then
    die "$name: $msg"
  else
    RUN+=("$f"); NAME_OF["$f"]="$name"; LIMIT_OF["$f"]=$((dur + 120))
  fi
done
touch "$OUT/skipped.txt"

FAILED=()
i=0
for f in "${RUN[@]}"; do
  while [[ $(jobs -rp | wc -l) -ge $JOBS ]]; do wait -n || true; done
  i=$((i + 1))
  setup_ns "$i" || die "could not create network namespace $i"
  name="${NAME_OF[$f]}"
  echo "play.sh: play $name" >&2
  ( set +e
    # A run whose player broke (the page, the browser or the runner failed; never a
    # divergence, which only `dcsim conform` judges) is played once more: it says why
    # in one line, and its partial trace is kept in OUT/.broken/.
    for attempt in 1 2; do
      # The runner times out every wait itself; this is the last resort.
      timeout -k 5 "${LIMIT_OF[$f]}" python3 "$HERE/runner.py" "${VERBOSE[@]}" --scenario "$f" --out "$OUT" \
        --netns "$NS_NAME" --host-ip "$NS_HOST" --chromium "$(command -v "$CHROMIUM")" \
        > "$OUT/.$name.log" 2>&1
      rc=$?
      [[ $rc == 0 ]] && break
      why="$(grep -m1 '^error: ' "$OUT/.$name.log" || true)"
      [[ $rc == 124 || $rc == 137 ]] && why="error: the runner did not finish within ${LIMIT_OF[$f]} s"
      mkdir -p "$OUT/.broken"
      [[ -f "$OUT/$name.partial.jsonl" ]] && mv "$OUT/$name.partial.jsonl" "$OUT/.broken/$name.attempt$attempt.jsonl"
      echo "play.sh: $name: the player broke (attempt $attempt): ${why#error: }" >&2
    done
    echo $rc > "$OUT/.$name.rc" ) &
  PIDS+=("$!")
done
wait || true
PIDS=()
for f in "${RUN[@]}"; do
  name="${NAME_OF[$f]}"
  rc="$(cat "$OUT/.$name.rc" 2>/dev/null || echo 1)"
  rm -f "$OUT/.$name.rc"
  [[ "$rc" == 0 ]] || FAILED+=("$name")
  if [[ -s "$OUT/.$name.log" ]]; then sed "s/^/  $name: /" "$OUT/.$name.log" >&2; fi
  rm -f "$OUT/.$name.log"
done
if [[ ${#FAILED[@]} -gt 0 ]]; then
  echo "play.sh: the player broke on: ${FAILED[*]}" >&2
  exit 1
fi
echo "play.sh: done, $(ls "$OUT"/*.jsonl 2>/dev/null | wc -l) trace(s), $(wc -l < "$OUT/skipped.txt") skipped" >&2
