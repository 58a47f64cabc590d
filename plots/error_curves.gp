# plots/error_curves.gp -- shared body of the error-rate figures (1, 2, 5):
# error against LB_X ('step' or 'nfe') on log-log axes, one line per
# sampler configuration, error bars from the reported standard errors,
# the fitted slope +- its standard error in the legend, the estimator's
# noise floor as a dashed line over a grey band.  Not a figure by itself:
# loaded by a figure script after plots/common.gp, with
#   in, out, [rates], [target]   as documented in the figure script
#   LB_X, LB_XLABEL, LB_WHAT     x column, its axis label, words for the title
#   LB_METRICS (optional)        one panel per metric, stacked; default: the
#                                variable metric, or the preferred metric
# Part of langbench.  GPL-3.0-or-later.

if (!lb_readable(in)) { print sprintf("%s: cannot read %s", ARG0, in); exit status 1 }
LB_HASRATES = exists("rates") ? (strlen(rates) > 0 ? lb_readable(rates) : 0) : 0
if (exists("rates") && !LB_HASRATES) { print sprintf("%s: no rate fits (%s unreadable): legend without slopes", ARG0, rates) }
LB_IN2 = q(in) . ' ' . q(in)

if (!exists("target")) {
    target = word(LBS("-v mode=targets", q(in)), 1)
    eval LB_DIE
}
if (!exists("LB_METRICS")) {
    if (exists("metric")) { LB_METRICS = metric } else {
        LB_HAVE = LBS("-v mode=metrics -v target=" . q(target), q(in))
        eval LB_DIE
        LB_METRICS = ''
        do for [m in LB_METRIC_PREFERENCE] {
            if (strlen(LB_METRICS) == 0 && strstrt(LB_HAVE, '"' . m . '"') > 0) { LB_METRICS = m }
        }
        if (strlen(LB_METRICS) == 0) { LB_METRICS = word(LB_HAVE, 1) }
    }
}
LB_NP = words(LB_METRICS)
if (LB_NP == 0) { print sprintf("%s: no metrics for target %s in %s", ARG0, target, in); exit status 1 }

# per panel: legend titles, number of series, noise floor
array LB_TITLES[LB_NP]
array LB_N[LB_NP]
array LB_FLOOR[LB_NP]
array LB_ARGS[LB_NP]
LB_MAXN = 0
do for [p = 1:LB_NP] {
    LB_ARGS[p] = sprintf("-v target=%s -v metric=%s -v xaxis=%s", q(target), q(word(LB_METRICS, p)), LB_X)
    LB_TITLES[p] = LBS("-v mode=titles -v hasrates=" . LB_HASRATES . " -v against=" . LB_X . " " . LB_ARGS[p], \
                       (LB_HASRATES ? q(rates) . ' ' : '') . LB_IN2)
    eval LB_DIE
    LB_N[p] = words(LB_TITLES[p])
    if (LB_N[p] == 0) {
        print sprintf("%s: no rows with target=%s, metric=%s in %s", ARG0, target, word(LB_METRICS, p), in)
        exit status 1
    }
    LB_MAXN = LB_N[p] > LB_MAXN ? LB_N[p] : LB_MAXN
    LB_FLOOR[p] = real(LBS("-v mode=floor " . LB_ARGS[p], LB_IN2))
    eval LB_DIE
}

# Layout, in inches: each panel 3.4 wide (one paper column; two panels side
# by side make a two-column figure).  Under each plot: tic labels, x label,
# then its legend in one column from the left edge of the panel (gnuplot's
# own "key below" centres it and lets long entries run off the canvas).
LB_PW = 3.4                       # panel width
LB_TOP = exists("LB_TOP") ? LB_TOP : 0.3   # figure title (a caller may set it)
LB_PLOT = 1.9                     # plot area height
LB_XLAB = 0.55                    # x tic labels and x label
LB_ROW = 0.19                     # one legend row
LB_W = LB_NP * LB_PW
LB_H = LB_TOP + LB_PLOT + LB_XLAB + LB_ROW * (LB_MAXN + 2) + 0.15

set logscale xy
set format x '%g'
set format y '10^{%T}'
set grid xtics ytics lc rgb '#e0e0e0' lw 0.5 dt solid
set border 3 lw 0.8
set tics nomirror out scale 0.6, 0.3
set xlabel LB_XLABEL offset 0, 0.2
set bars small
set autoscale xfix
set offsets graph 0.05, graph 0.05, 0, 0

# the y range of each panel (data and floor), to space the decade tics so
# that their labels never collide
LB_XMIN = 1e300
LB_XMAX = 1e-300
array LB_YTIC[LB_NP]
array LB_YLO[LB_NP]
array LB_YHI[LB_NP]
do for [p = 1:LB_NP] {
    LB_YMIN = LB_FLOOR[p] == LB_FLOOR[p] ? LB_FLOOR[p] : 1e300
    LB_YMAX = LB_FLOOR[p] == LB_FLOOR[p] ? LB_FLOOR[p] : 1e-300
    do for [i = 1:LB_N[p]] {
        stats LB("-v mode=data -v warn=1 -v series=" . i . " " . LB_ARGS[p], LB_IN2) using 1 nooutput
        LB_XMIN = STATS_min < LB_XMIN ? STATS_min : LB_XMIN
        LB_XMAX = STATS_max > LB_XMAX ? STATS_max : LB_XMAX
        stats LB("-v mode=data -v series=" . i . " " . LB_ARGS[p], LB_IN2) using 2:($2 + $3) nooutput
        LB_YMIN = STATS_min_x < LB_YMIN ? STATS_min_x : LB_YMIN
        LB_YMAX = STATS_max_y > LB_YMAX ? STATS_max_y : LB_YMAX
    }
    LB_DEC = log10(LB_YMAX / LB_YMIN)
    LB_YLO[p] = LB_YMIN / 10**(0.06 * LB_DEC)
    LB_YHI[p] = LB_YMAX * 10**(0.06 * LB_DEC)
    LB_YTIC[p] = LB_DEC > 12 ? 1000 : LB_DEC > 7 ? 100 : 10
}

# x tics: decades, plus 2 and 5 (or 3) times them over short ranges; powers of
# ten as 10^k once the numbers get long
set xtics autofreq
if (LB_XMAX >= 1e5 || LB_XMIN < 1e-3) { set format x '10^{%T}' }
LB_XDEC = log10(LB_XMAX / LB_XMIN)
if (LB_XDEC < 2.5) {
    do for [k = floor(log10(LB_XMIN)) : ceil(log10(LB_XMAX))] {
        do for [c in (LB_XDEC < 1.5 ? "2 5" : "3")] {
            LB_T = real(c) * 10.0**k
            if (LB_T > LB_XMIN / 1.3 && LB_T < LB_XMAX * 1.3) { set xtics add (sprintf("%g", LB_T) LB_T) }
        }
    }
}

do for [LB_KIND in "png pdf"] {
    eval lb_term(LB_KIND, LB_W, LB_H)
    set output out . '.' . LB_KIND
    set multiplot title (exists('LB_TITLE') ? LB_TITLE : '') . 'target: ' . target noenhanced
    do for [p = 1:LB_NP] {
        m = word(LB_METRICS, p)
        LB_X0 = (p - 1) * LB_PW        # left edge of the panel, inches
        LB_Y = LB_H - LB_TOP           # top of the plot area, inches
        set lmargin at screen (LB_X0 + 0.9) / LB_W
        set rmargin at screen (LB_X0 + LB_PW - 0.15) / LB_W
        set tmargin at screen LB_Y / LB_H
        set bmargin at screen (LB_Y - LB_PLOT) / LB_H
        set key at screen (LB_X0 + 0.05) / LB_W, screen (LB_Y - LB_PLOT - LB_XLAB) / LB_H left top Left reverse \
            vertical maxrows 30 samplen 2 spacing 1.0 noenhanced \
            title (LB_HASRATES ? 'fitted slope ± standard error' : '') left
        if (metric_label(m) eq m) {
            set ylabel m noenhanced offset 0.5, 0
        } else {
            set ylabel metric_axis(m) enhanced offset 0.5, 0
        }
        set yrange [LB_YLO[p]:LB_YHI[p]]
        set ytics LB_YTIC[p]
        set mytics (LB_YTIC[p] == 10 ? 10 : 1)
        # a range of about a decade or less has at most one decade tic:
        # label 2 and 5 times the decades too, as plain numbers
        set format y '10^{%T}'
        if (log10(LB_YHI[p] / LB_YLO[p]) < 1.3) {
            set format y '%g'
            do for [k = floor(log10(LB_YLO[p])) : ceil(log10(LB_YHI[p]))] {
                do for [c in "2 5"] {
                    LB_T = real(c) * 10.0**k
                    if (LB_T > LB_YLO[p] && LB_T < LB_YHI[p]) { set ytics add (sprintf("%g", LB_T) LB_T) }
                }
            }
        }
        # grey band below the noise floor, dashed line at it
        unset object 1
        unset arrow 1
        LB_HASFLOOR = (LB_FLOOR[p] == LB_FLOOR[p]) ? 1 : 0
        if (LB_HASFLOOR) {
            set object 1 rect from graph 0, graph 0 to graph 1, first LB_FLOOR[p] behind clip fc rgb LB_GREY fs transparent solid 0.15 noborder
            set arrow 1 from graph 0, first LB_FLOOR[p] to graph 1, first LB_FLOOR[p] nohead back lc rgb LB_GREY lw 1.5 dt (5, 4)
        }
        plot for [i = 1:LB_N[p]] LB("-v mode=data -v series=" . i . " " . LB_ARGS[p], LB_IN2) \
                 using 1:2:3 with yerrorlines lt i title word(LB_TITLES[p], i), \
             for [j = 1:LB_HASFLOOR] keyentry with lines lc rgb LB_GREY lw 1.5 dt (5, 4) \
                 title "estimator noise floor"
    }
    unset multiplot
    unset output
}
