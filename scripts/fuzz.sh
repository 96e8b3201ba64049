#!/usr/bin/env bash
# Runs the libFuzzer targets of fuzz/ (docs: fuzz/RESULTS.md).
#
#   scripts/fuzz.sh [seconds-per-target] [target...]
#
# Builds the fuzz preset (clang 14, ASan + UBSan), then runs each target (all of them by
# default) one after the other for the given time (default 60 s) under `nice -n 19`, each one
# in-process job (libFuzzer's default; -jobs=N would fork workers), into a work corpus
# build/fuzz/corpus/<target> seeded from fuzz/corpus/<target>. New
# coverage is then merged (-merge=1, minimizing) back into fuzz/corpus/<target>/. Crash
# inputs land in build/fuzz/crashes/<target>/; the script exits 1 when any target crashed.
# An input that runs longer than 30 s is a crash (timeout-* artifact).
# Environment: FUZZ_MAX_TOTAL_RUNS (stop a target after this many executions, default none),
# FUZZ_ARGS (extra libFuzzer flags), FUZZ_NO_BUILD=1 (use the binaries already built).
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
all=(http1_request http1_response http2_server path url config)
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=("${all[@]}")
fi

if [[ -z ${FUZZ_NO_BUILD:-} ]]; then
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz -j2
fi

status=0
for t in "${targets[@]}"; do
  bin=build/fuzz/fuzz/${t}_fuzz
  if [[ ! -x $bin ]]; then
    echo "fuzz.sh: no target $t (one of: ${all[*]})" >&2
    exit 2
  fi
  work=build/fuzz/corpus/$t
  crashes=build/fuzz/crashes/$t
  log=build/fuzz/logs/$t.log
  mkdir -p "$work" "$crashes" "$(dirname "$log")" "fuzz/corpus/$t"
  runs=()
  if [[ -n ${FUZZ_MAX_TOTAL_RUNS:-} ]]; then
    runs=(-runs="$FUZZ_MAX_TOTAL_RUNS")
  fi
  echo "fuzz.sh: $t for ${seconds}s (log $log)"
  # shellcheck disable=SC2086
  if ! nice -n 19 "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 \
      -print_final_stats=1 -artifact_prefix="$crashes/" "${runs[@]}" ${FUZZ_ARGS:-} \
      "$work" "fuzz/corpus/$t" </dev/null >"$log" 2>&1; then
    echo "fuzz.sh: $t CRASHED, see $log and $crashes/" >&2
    status=1
  fi
  grep -E '^(#[0-9]+[[:space:]]+DONE|Done|stat::|==[0-9]+==ERROR|SUMMARY)' "$log" | sed "s/^/  $t: /" || tail -n 5 "$log"
  # Keep only inputs that add coverage to the committed corpus.
  nice -n 19 "$bin" -merge=1 -rss_limit_mb=2048 "fuzz/corpus/$t" "$work" >>"$log" 2>&1 || true
  echo "  $t: committed corpus now $(ls "fuzz/corpus/$t" | wc -l) files, $(du -sh --apparent-size "fuzz/corpus/$t" | cut -f1)"
done
exit $status
