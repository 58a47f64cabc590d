# plots/fig1_bias.gp -- Figure 1: error at the final recorded step against
# the step size, log-log, one line per sampler configuration, the fitted
# slope and its standard error in the legend.  Reproduces the bias-rate
# claims (experiments bias_gaussian, bias_mixtures).
# Part of langbench.  GPL-3.0-or-later.
#
#   gnuplot -e "in='results/bias_gaussian.csv'; rates='results/bias_gaussian_rates.csv'" \
#           -e "out='results/figures/fig1_bias_gaussian'" plots/fig1_bias.gp
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
    print "usage: gnuplot -e \"in='RESULTS.csv'; rates='RATES.csv'; out='OUTSTEM'\" [-e \"target='T'; metric='M'\"] plots/fig1_bias.gp"
    exit status 2
}
LB_DIR = strlen(ARG0) > 0 ? system("dirname '" . ARG0 . "'") : 'plots'
load LB_DIR . '/common.gp'

LB_X = 'step'
LB_XLABEL = 'step size h   (α for PLMC)'
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
