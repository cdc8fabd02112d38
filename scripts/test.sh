#!/usr/bin/env bash
# Every test, in two phases, so that `make test` fits its 15 minutes on 2 cores:
#  1. unit tests and the integration files that only wait for conditions, three files at a time
#     (most of their time is spent waiting on NATS, SMTP peers and timers, not on a core; they
#     passed at two at a time beside a benchmark loading the machine, which is busier than three);
#  2. the files that measure rates, concurrency or timing (marked `// sluice-test: serial`,
#     and every cluster-* file, whose short lease TTLs must not starve), one at a time with the
#     machine to themselves.
# The closing line sums both phases' summaries.
set -uo pipefail
cd "$(dirname "$0")/.."
mapfile -t all < <(find test/unit test/integration -name '*.test.ts' | sort)
serial=() parallel=()
for f in "${all[@]}"; do
  if [[ "$f" == test/integration/cluster-* ]] || grep -q '^// sluice-test: serial' "$f"; then serial+=("$f"); else parallel+=("$f"); fi
done
run() {
  local concurrency=$1; shift
  node --import tsx --test --test-concurrency="$concurrency" --test-timeout=600000 "$@" 2>&1 | tee -a "$log"
  return "${PIPESTATUS[0]}"
}
log=$(mktemp -t sluice-test-log.XXXXXX)
trap 'rm -f "$log"' EXIT
start=$(date +%s)
echo "== phase 1: ${#parallel[@]} files, three at a time"
run 3 "${parallel[@]}"; rc1=$?
echo "== phase 2: ${#serial[@]} files that measure timing, one at a time"
run 1 "${serial[@]}"; rc2=$?
pass=$(grep -E '^# pass [0-9]+' "$log" | awk '{s += $3} END {print s + 0}')
fail=$(grep -E '^# fail [0-9]+' "$log" | awk '{s += $3} END {print s + 0}')
echo "== all tests: $pass passed, $fail failed, in $(( $(date +%s) - start )) s"
[ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ]
