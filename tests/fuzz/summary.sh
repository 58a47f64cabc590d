#!/bin/sh
# summary.sh NAME BUILD -- one line from a `make fuzz` log: executions,
# corpus size, crashes / timeouts / out-of-memory (fork mode counts).
# GPL-3.0-or-later.
n=$1
log=$2/logs/$n.log
last=$(grep -E '^#[0-9]+' "$log" | tail -1)
execs=$(echo "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
oom=$(echo "$last" | sed -n 's/.*oom\/timeout\/crash: \([0-9\/]*\).*/\1/p')
crashes=$(ls "$2/crashes/$n-"* 2>/dev/null | wc -l)
echo "fuzz $n: ${execs:-?} executions, corpus ${corp:-?}, oom/timeout/crash ${oom:-?}, $crashes artifacts (log $log)"
