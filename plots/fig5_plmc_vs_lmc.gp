# plots/fig5_plmc_vs_lmc.gp -- Figure 5: PLMC at coarse step alpha with K
# fine steps against LMC at step alpha/K driven by the same Brownian path
# (the setting of the paper's Theorem 2): the W2 distance between their
# laws (metric law_w2, top) and the coupled pathwise RMS error (metric
# path_rmse, bottom) against alpha, log-log, one line per K, fitted slopes
# in the legends.  Experiment plmc_vs_fine_lmc.
# Part of langbench.  GPL-3.0-or-later.
#
#   gnuplot -e "in='results/plmc_vs_fine_lmc.csv'; rates='results/plmc_vs_fine_lmc_rates.csv'" \
#           -e "out='results/figures/fig5_plmc_vs_lmc'" plots/fig5_plmc_vs_lmc.gp
#
# Variables: in (tidy results CSV, required), out (output path without
# extension, required), rates (rate-fit CSV, optional), target (default:
# the first target in the file), metrics (space-separated panels, default
# 'law_w2 path_rmse', preceded by the coupled weak difference when the
# file has one: plots/weak_panels.gp).  Inputs are described in plots/README.md.

if (!exists("in") || !exists("out")) {
    print "usage: gnuplot -e \"in='RESULTS.csv'; rates='RATES.csv'; out='OUTSTEM'\" [-e \"target='T'; metrics='law_w2 path_rmse'\"] plots/fig5_plmc_vs_lmc.gp"
    exit status 2
}
LB_DIR = strlen(ARG0) > 0 ? system("dirname '" . ARG0 . "'") : 'plots'
load LB_DIR . '/common.gp'

LB_X = 'step'
LB_XLABEL = 'coarse step α  (LMC step α/K)'
LB_METRICS = exists("metrics") ? metrics : 'law_w2 path_rmse'
# with weak errors in the file: the coupled weak difference first
# |E f(PLMC(α,K)) - E f(LMC(α/K))| (plots/weak_panels.gp), then law_w2
# (with its noise floor) and path_rmse
LB_WEAK_PREFIXES = 'avgdiff: diff:'
LB_PANELS_REST = 'law_w2 path_rmse'
load LB_DIR . '/weak_panels.gp'
LB_TITLE = "PLMC(α, K) against LMC(α/K) on the same Brownian path\n"
LB_TOP = 0.5                       # the title on two lines
load LB_DIR . '/error_curves.gp'
