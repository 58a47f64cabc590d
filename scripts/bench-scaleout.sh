#!/bin/sh
# bench-scaleout.sh [BIN] -- the scale-out numbers of the README
# ("Scale-out", measured): the speed-up of 2 MPI ranks x 1 thread over
# 1 rank x 1 thread on a small sweep, the runner's overhead per cell, and
# assembly time and memory at 10^4 cells.  `make bench-scaleout` runs it.
# Wall-clock times: run it on an otherwise idle machine (the load average
# is printed with the results).
set -eu
BIN=${1:-bin/langbench}
case "$BIN" in /*) ;; *) BIN="$PWD/$BIN" ;; esac
DIR=$(mktemp -d /tmp/langbench-scaleout-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
cd "$DIR"
ROOT=""
[ "$(id -u)" -eq 0 ] && ROOT="--allow-run-as-root"
MPIRUN="mpirun $ROOT --oversubscribe"
now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }

# ---- 1. speed-up: 16 cells of about half a second each ------------------
cat > sweep.cfg <<'EOF'
name = "bench_sweep";
targets = ["gaussian:dim=10", "gmm:preset=ring8"];
samplers = ("lmc", { name = "plmc"; K = 4; });
step_sizes = [0.1, 0.05];
horizon = 2.0;
chains = 100000;
seeds = [1, 2];
metrics = "mean_err";
record = { schedule = "last"; };
trajectory_chains = 0;
EOF
best() { # best of 3 wall times of "$@"
  b=""
  for k in 1 2 3; do
    t0=$(now)
    "$@" > /dev/null 2>&1
    t=$(elapsed "$t0" "$(now)")
    if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" -eq 1 ]; then b=$t; fi
  done
  echo "$b"
}
ts=$(best "$BIN" run sweep.cfg --out s0.h5 --threads 1 --fresh)
t1=$(best $MPIRUN -np 1 --bind-to none "$BIN" run sweep.cfg --out s1.h5 --threads 1 --fresh)
t2=$(best $MPIRUN -np 2 --bind-to core "$BIN" run sweep.cfg --out s2.h5 --threads 1 --fresh)
printf 'sweep of 16 cells: serial %.2f s, mpirun 1 rank x 1 thread %.2f s, 2 ranks x 1 thread %.2f s\n' "$ts" "$t1" "$t2"
printf '  speed-up 2 ranks / 1 rank: %.2fx (target >= 1.8)\n' "$(echo "$t1 / $t2" | bc -l)"
# h5dump without the execution fields (each ATTRIBUTE block up to its "}")
strip() {
  h5dump "$1" | tail -n +2 | awk '
    skip { if ($0 == pad "}") skip = 0; next }
    /ATTRIBUTE "(created|wall_seconds|threads|host)" \{/ {
      match($0, /^ */); pad = substr($0, 1, RLENGTH); skip = 1; next }
    { print }'
}
strip s0.h5 > a.txt
strip s2.h5 > b.txt
cmp -s a.txt b.txt && echo "  h5dump of the two files identical outside created/wall_seconds/threads/host" \
  || echo "  WARNING: the files differ"

# ---- 2. overhead per cell and assembly at 10^4 trivial cells ------------------
N=10000
seeds=$(seq -s, 0 $((N - 1)))
cat > trivial.cfg <<EOF
name = "trivial";
targets = ["gaussian:dim=1"];
samplers = ["lmc"];
step_sizes = [0.1];
steps = 1;
chains = 2;
seeds = [$seeds];
record = { schedule = "last"; };
metrics = "mean_err";
trajectory_chains = 0;
EOF
t0=$(now)
"$BIN" run trivial.cfg --out t.h5 --threads 1 > /dev/null 2>&1
trun=$(elapsed "$t0" "$(now)")
t0=$(now)
/usr/bin/time -f '%M' -o rss.txt "$BIN" run trivial.cfg --out t.h5 --assemble > /dev/null 2>&1
tasm=$(elapsed "$t0" "$(now)")
t0=$(now)
"$BIN" run trivial.cfg --out t.h5 --threads 1 > /dev/null 2>&1
tres=$(elapsed "$t0" "$(now)")
rm -rf t.h5 t.h5.cells
t0=$(now)
$MPIRUN -np 2 --bind-to core "$BIN" run trivial.cfg --out m.h5 --threads 1 > /dev/null 2>&1
tmpi=$(elapsed "$t0" "$(now)")
printf '%d trivial cells (2 chains x 1 step): serial run %.1f s = %.2f ms per cell in all\n' $N "$trun" "$(echo "1000 * $trun / $N" | bc -l)"
printf '  of which assembly (--assemble alone) %.1f s = %.2f ms per cell, max RSS %d MB\n' "$tasm" "$(echo "1000 * $tasm / $N" | bc -l)" "$(( $(cat rss.txt) / 1024 ))"
printf '  so claim + compute + write + rename: %.2f ms per cell\n' "$(echo "1000 * ($trun - $tasm) / $N" | bc -l)"
printf '  rerun with every cell present (full check of each file + assembly): %.1f s\n' "$tres"
printf '  mpirun 2 ranks x 1 thread, same cells: %.1f s = %.2f ms per cell\n' "$tmpi" "$(echo "1000 * $tmpi / $N" | bc -l)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
