#!/bin/sh
# run-default.sh -- `make run`: the paper's claim at a glance.
# Part of langbench.  GPL-3.0-or-later.
#
# usage: scripts/run-default.sh [BIN]
#
# 1. experiments/default.cfg: LMC, RLMC and PLMC (K = 16, inf) on the ring8
#    mixture, 100 000 chains from exact draws -> results/default.h5, tidy
#    CSV results/default.csv, rate fits results/default_rates.csv.
# 2. The exact laws of the same samplers on gaussian:dim=2,kappa=4 at the
#    same steps and horizon (`langbench exact --init target`: the
#    covariance error |Cov - Sigma|_F of the iterate law, no sampling
#    noise) -> results/default_exact.csv, in the tidy CSV's columns with
#    stderr = floor = 0.
# 3. Figures 1-3 of the README from these (scripts/figures.sh) ->
#    results/default-figures/ (PNG and PDF).
# 4. A one-screen summary (scripts/summary.sh): tables, slopes, one
#    sentence per target, a terminal plot, the paths written.
set -eu
BIN=${1:-bin/langbench}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p results results/default-data
log=results/default.log
t0=$(date +%s)

echo "langbench: stationary bias of LMC, RLMC and PLMC (Kandasamy & Nagaraj 2024)."
echo "Claim: the Poisson midpoint method (PLMC) at ~2 gradient evaluations per step"
echo "has a bias of higher order in the step than LMC's, like the randomized midpoint (RLMC)."
echo "  running experiments/default.cfg (16 cells; progress in $log) ..."
if ! "$BIN" run experiments/default.cfg --out results/default.h5 --fresh >"$log" 2>&1; then
    tail -5 "$log" >&2
    exit 1
fi
"$BIN" export results/default.h5 --out results/default.csv \
    --figure-data results/default-data >>"$log" 2>&1

# Exact laws on a Gaussian; nfe (last column of `langbench exact`) is the
# sampler's expected drift evaluations per chain, from the algorithm.
target=gaussian:dim=2,kappa=4 horizon=4
exact=results/default_exact.csv
{
    echo "target,sampler,K,option,gamma,step,seed,steps,record_step,time,nfe_mean,metric,estimate,stderr,floor"
    for s in lmc rlmc plmc:K=16 plmc:K=inf; do
        for h in 0.2 0.1 0.05 0.025; do
            n=$(awk -v t=$horizon -v h=$h 'BEGIN { printf "%d", t / h + 0.5 }')
            last=$("$BIN" exact --target $target --sampler $s --step $h --steps "$n" \
                   --init target | tail -1)
            awk -v s=$s -v h=$h -v n="$n" -v row="$last" -v tg=$target 'BEGIN {
                m = split(row, f, ",")
                fam = s; K = ""; sub(/:.*/, "", fam)
                if (s ~ /K=/) { K = s; sub(/.*K=/, "", K) }
                gsub(/,/, ";", tg)
                printf "%s,%s,%s,%s,,%s,0,%d,%d,%g,%.6g,cov_err,%s,0,0\n",
                       tg, fam, K, (K == "" || K == "inf" ? "" : 1), h, n, n, n * h, f[m], f[3] }'
        done
    done
} >"$exact.part"
mv "$exact.part" "$exact"

# Figures 1-3 (fig1: exact Gaussian + ring8; fig2: ring8 against NFE;
# fig3: ring8 samples against the density contours).
d=results/default-data
cp results/default.csv $d/bias_mixtures.csv
cp results/default_rates.csv $d/bias_mixtures_rates.csv
cp results/default.csv $d/speedup.csv
cp results/default_rates.csv $d/speedup_rates.csv
cp "$exact" $d/bias_gaussian.csv
rm -f $d/bias_gaussian_rates.csv
sh "$here/figures.sh" $d results/default-figures fig1 fig2 fig3 >>"$log" 2>&1 \
    || echo "  (some figures failed: see $log)"
t1=$(date +%s)
echo "  done in $((t1 - t0)) s."

sh "$here/summary.sh" \
    "$exact" cov_err "exact law, langbench exact: no sampling noise" \
    results/default.csv kl "grid-KDE estimate, 100000 chains; ~ = at the noise floor"

echo
echo "Rows: samplers; columns: step sizes; slopes: log error vs log step (the bias's"
echo "order). Plots: error against gradient evaluations per chain (log-log)."
echo "Written:"
echo "  results/default.h5          every cell's chains, trajectories and metrics (HDF5; README: schema)"
echo "  results/default.csv         tidy table, one row per cell x record x metric"
echo "  results/default_rates.csv   slopes against step and against gradient evaluations"
echo "  results/default_exact.csv   the exact Gaussian laws above"
printf '  results/default-figures/   %s\n' "$(cd results/default-figures 2>/dev/null && ls ./*.png 2>/dev/null | sed 's#^\./##' | tr '\n' ' ')"
