#!/bin/sh
# smoke.sh BUILD NAME... -- the short fuzz run of `make test`.
# For each harness: replay every regression input (tests/fuzz/regress/NAME)
# once, then fuzz from its seeds for a fixed number of inputs (about 5 s
# of each harness on one core, below) with -seed=1 into a throw-away
# corpus: deterministic, the same inputs on every run.  Two harnesses at a
# time.  Fails, printing the log's tail, when any harness
# crashes.  GPL-3.0-or-later.
set -eu
build=$1
shift
logs=$build/smoke
rm -rf "$logs"
mkdir -p "$logs"
# classify LOG: "libhdf5" when the sanitizer's stack has a libhdf5 frame
# above the first langbench frame (the fault is inside the library), else
# "ours" (an out-of-memory report counts by the stack of its last malloc).
classify() {
  awk '/ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer: out-of-memory)/ { on = 1; next }
       on && /^ *#[0-9]+ / {
         if ($0 ~ /\/(src|targets|tests)\//) { print "ours"; found = 1; exit }
         if ($0 ~ /libhdf5/) { print "libhdf5"; found = 1; exit }
       }
       END { if (!found) print "ours" }' "$1"
}
runs_of() {
  case $1 in
    spec) echo 3000 ;; gmm) echo 1500 ;; cli) echo 1000 ;; model) echo 1000 ;;
    experiment) echo 300 ;; h5) echo 80 ;; *) echo 200 ;;
  esac
}
one() {
  n=$1
  RUNS=$(runs_of "$n")
  bin=$build/fuzz/$n
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/langbench-smoke-XXXXXX")
  mkdir "$tmp/corpus"
  st=0
  set -- 
  if [ -d tests/fuzz/regress/$n ]; then
    for f in tests/fuzz/regress/$n/*; do [ -f "$f" ] && set -- "$@" "$f"; done
  fi
  if [ $# -gt 0 ]; then
    # shellcheck disable=SC2086
    env $FUZZ_ENV "$bin" $FUZZ_OPTS -artifact_prefix="$tmp/" "$@" \
      >"$logs/$n.regress.log" 2>&1 || st=1
  fi
  seed=1
  while [ $st -eq 0 ]; do
    # shellcheck disable=SC2086
    env $FUZZ_ENV "$bin" $FUZZ_OPTS -runs="$RUNS" -seed=$seed \
      -artifact_prefix="$tmp/" "$tmp/corpus" "tests/fuzz/corpus/$n" \
      >"$logs/$n.log" 2>&1 && break
    st=1
    # A crash inside libhdf5 on a corrupt file (a library bug: README,
    # Fuzzing) is reported, its input kept, and the run restarted with the
    # next seed (at most 5 times); any other failure fails.
    if [ "$(classify "$logs/$n.log")" = libhdf5 ] && [ $seed -lt 6 ]; then
      for a in "$tmp"/crash-*; do
        [ -f "$a" ] && mv "$a" "$logs/libhdf5-$n-$(basename "$a")"
      done
      echo "fuzz-smoke: $n: a crash inside libhdf5 on a corrupt file" \
        "(seed $seed; input kept in $logs/), continuing" >&2
      cp "$logs/$n.log" "$logs/libhdf5-$n-seed$seed.log"
      seed=$((seed + 1))
      st=0
    fi
  done
  rm -rf "$tmp"
  if [ $st -ne 0 ]; then
    echo "fuzz-smoke: $n FAILED (log $logs/$n*.log):" >&2
    tail -40 "$logs/$n".*log "$logs/$n.log" 2>/dev/null >&2 || true
    return 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$logs/$n.log" | grep -o '[0-9]*$' || echo '?')
  echo "fuzz-smoke: $n ok ($runs inputs, $(ls tests/fuzz/regress/$n 2>/dev/null | wc -l) regression cases)"
}
fail=0
while [ $# -gt 0 ]; do
  a=$1; shift
  if [ $# -gt 0 ]; then
    b=$1; shift
    one "$a" & pa=$!
    one "$b" || fail=1
    wait $pa || fail=1
  else
    one "$a" || fail=1
  fi
done
exit $fail
