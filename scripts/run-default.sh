#!/bin/sh
# `make run`: the default experiment (experiments/default.cfg): LMC, RLMC
# and PLMC on the ring8 mixture and a tilted double well, written as HDF5
# under results/, exported to CSV, with a short summary.
set -eu
BIN=${1:-bin/langbench}
mkdir -p results
"$BIN" run experiments/default.cfg --out results/default.h5
"$BIN" export results/default.h5 --out results/default.csv >/dev/null
echo
echo "Final-time errors (estimate +- stderr; floor = same estimator on exact samples):"
awk -F, 'NR > 1 && $9 == $8 && ($12 == "w2_marg" || $12 == "modes") {
  k = ($3 == "" ? "" : ":K=" $3)
  printf "  %-34s %-12s step=%-6g %-8s %.4f +- %.4f  (floor %.4f)\n",
         $1, $2 k, $6, $12, $13, $14, $15 }' results/default.csv | sort -k1,1 -k2,2 -k3,3r
echo
echo "results:   results/default.h5 (one group per cell under /cells; h5dump -A to browse)"
echo "tidy CSV:  results/default.csv"
echo "rate fits: results/default_rates.csv"
