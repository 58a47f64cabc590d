# plots/fig2_speedup.gp -- Figure 2: error at the final recorded step
# against the gradient evaluations spent per chain (nfe_mean), log-log,
# one line per sampler configuration, the fitted slope against NFE and its
# standard error in the legend.  Reproduces the speed-up claim (experiment
# speedup): a steeper (more negative) slope means fewer gradient
# evaluations for the same error.
# Part of langbench.  GPL-3.0-or-later.
#
#   gnuplot -e "in='results/speedup.csv'; rates='results/speedup_rates.csv'" \
#           -e "out='results/figures/fig2_speedup_twomodes'; target='twomodes'" plots/fig2_speedup.gp
#
# Variables: in (tidy results CSV, required), out (output path without
# extension, required: writes out.png and out.pdf), rates (rate-fit CSV,
# optional: no slopes in the legend without it), target (default: the
# first target in the file), metric (default: the first of
# LB_METRIC_PREFERENCE in plots/common.gp that the file has for target;
# when the file has weak errors, two panels: the time-averaged weak error
# of plots/weak_panels.gp and that distance).
# Inputs are described in plots/README.md.

if (!exists("in") || !exists("out")) {
    print "usage: gnuplot -e \"in='RESULTS.csv'; rates='RATES.csv'; out='OUTSTEM'\" [-e \"target='T'; metric='M'\"] plots/fig2_speedup.gp"
    exit status 2
}
LB_DIR = strlen(ARG0) > 0 ? system("dirname '" . ARG0 . "'") : 'plots'
load LB_DIR . '/common.gp'

LB_X = 'nfe'
LB_XLABEL = 'gradient evaluations per chain'
# with weak errors in the file: two panels, the time-averaged weak error
# (plots/weak_panels.gp) and the preferred distance
LB_WEAK_PREFIXES = 'avg: -'
LB_PANELS_REST = ''
if (!exists("metric") && !exists("metrics")) {
    LB_HAVE0 = LBS("-v mode=metrics -v target=" . q(exists("target") ? target : word(LBS("-v mode=targets", q(in)), 1)), q(in))
    do for [m in LB_METRIC_PREFERENCE] {
        if (strlen(LB_PANELS_REST) == 0 && strstrt(LB_HAVE0, '"' . m . '"') > 0) { LB_PANELS_REST = m }
    }
}
load LB_DIR . '/weak_panels.gp'
load LB_DIR . '/error_curves.gp'
