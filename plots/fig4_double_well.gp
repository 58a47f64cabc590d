# plots/fig4_double_well.gp -- Figure 4: metastability on a double well.
# Top: the first coordinate of a few chains over time, one panel per
# sampler configuration.  Bottom: the fraction of all chains in the left
# well over time, with its standard error, against the exact weight of
# the left well (dashed black line): a sampler with the right stationary
# law settles on the line, a biased one settles off it.
# Part of langbench.  GPL-3.0-or-later.
#
#   gnuplot -e "traj='results/double_well_trajectories.csv'; frac='results/double_well_fractions.csv'" \
#           -e "out='results/figures/fig4_double_well'" plots/fig4_double_well.gp
#
# Variables: traj (CSV sampler,K,[option,gamma,]step,chain,time,x1,
# required), frac (CSV sampler,K,[option,gamma,]step,time,frac_left,
# frac_left_stderr,exact_left, required; the left well is x1 < 0),
# out (output path without extension, required), title (default
# 'double well').  Inputs: plots/README.md.

if (!exists("traj") || !exists("frac") || !exists("out")) {
    print "usage: gnuplot -e \"traj='TRAJECTORIES.csv'; frac='FRACTIONS.csv'; out='OUTSTEM'\" plots/fig4_double_well.gp"
    exit status 2
}
LB_DIR = strlen(ARG0) > 0 ? system("dirname '" . ARG0 . "'") : 'plots'
load LB_DIR . '/common.gp'
if (!exists("title")) { title = 'double well' }
do for [f in traj . ' ' . frac] {
    if (!lb_readable(f)) { print sprintf("%s: cannot read %s", ARG0, f); exit status 1 }
}
LB_FILES = q(traj) . ' ' . q(frac)

LB_TITLES = LBS("-v mode=dwtitles", LB_FILES)
eval LB_DIE
LB_N = words(LB_TITLES)
if (LB_N == 0) { print sprintf("%s: no rows in %s and %s", ARG0, traj, frac); exit status 1 }
LB_EXACT = real(LBS("-v mode=dwexact", LB_FILES))
eval LB_DIE

# common time range and the trajectories' x1 range; error bars on the
# fractions when they are few enough to read, a shaded band otherwise
LB_T0 = 1e300; LB_T1 = -1e300; LB_X0 = 1e300; LB_X1 = -1e300; LB_NPTS = 0
do for [i = 1:LB_N] {
    stats LB("-v mode=dwtraj -v series=" . i, LB_FILES) using 1:2 nooutput
    if (STATS_records > 0) {
        LB_T0 = STATS_min_x < LB_T0 ? STATS_min_x : LB_T0; LB_T1 = STATS_max_x > LB_T1 ? STATS_max_x : LB_T1
        LB_X0 = STATS_min_y < LB_X0 ? STATS_min_y : LB_X0; LB_X1 = STATS_max_y > LB_X1 ? STATS_max_y : LB_X1
    }
    stats LB("-v mode=dwfrac -v series=" . i, LB_FILES) using 1 nooutput
    if (STATS_records > 0) {
        LB_T0 = STATS_min < LB_T0 ? STATS_min : LB_T0; LB_T1 = STATS_max > LB_T1 ? STATS_max : LB_T1
        LB_NPTS = STATS_records > LB_NPTS ? STATS_records : LB_NPTS
    }
}
LB_BARS = LB_NPTS <= 40
LB_XPAD = 0.08 * (LB_X1 - LB_X0)
# headroom above the paths for the panel's label (an opaque box that would
# otherwise hide the highest excursions)
LB_XHEAD = 0.3 * (LB_X1 - LB_X0)

# Layout in inches, one paper column wide.
LB_W = 3.4
LB_LEFT = 0.7
LB_RIGHT = 0.25
LB_TOP = 0.3
LB_TRAJ = 0.85                      # one trajectory panel
LB_GAP = 0.08
LB_MID = 0.15                       # between the trajectories and the fractions
LB_FRAC = 1.6
LB_XLAB = 0.6
LB_ROW = 0.19
LB_H = LB_TOP + LB_N * LB_TRAJ + (LB_N - 1) * LB_GAP + LB_MID + LB_FRAC + LB_XLAB + LB_ROW * (LB_N + 3) + 0.15

set xrange [LB_T0:LB_T1]
set border 3 lw 0.8
set tics nomirror out scale 0.6, 0.3
set mxtics
set style textbox opaque noborder margins 1, 1
set style fill transparent solid 0.2 noborder
set bars small

do for [LB_KIND in "png pdf"] {
    eval lb_term(LB_KIND, LB_W, LB_H)
    set output out . '.' . LB_KIND
    set multiplot title title noenhanced
    set lmargin at screen LB_LEFT / LB_W
    set rmargin at screen 1 - LB_RIGHT / LB_W
    LB_Y = LB_H - LB_TOP

    # trajectories, one panel per configuration
    unset key
    set format x ''
    unset xlabel
    set yrange [LB_X0 - LB_XPAD:LB_X1 + LB_XHEAD]
    set ytics lb_nice((LB_X1 - LB_X0) / 2.2) format '%g'
    do for [i = 1:LB_N] {
        set tmargin at screen LB_Y / LB_H
        set bmargin at screen (LB_Y - LB_TRAJ) / LB_H
        unset ylabel
        unset label
        if (i == 1) {
            set label 2 'first coordinate x_1' at screen 0.12 / LB_W, screen (LB_H - LB_TOP - (LB_N * LB_TRAJ + (LB_N - 1) * LB_GAP) / 2) / LB_H rotate by 90 center
        }
        set label 1 word(LB_TITLES, i) at graph 0.02, graph 0.9 left front boxed font ',8' noenhanced
        plot LB("-v mode=dwtraj -v series=" . i, LB_FILES) using 1:2 with lines lw 0.6 lc rgb lb_color(i)
        LB_Y = LB_Y - LB_TRAJ - LB_GAP
    }
    unset label
    LB_Y = LB_Y + LB_GAP - LB_MID

    # fraction of chains in the left well
    set tmargin at screen LB_Y / LB_H
    set bmargin at screen (LB_Y - LB_FRAC) / LB_H
    set format x '%g'
    set xlabel 'time t   (steps × step size)' offset 0, 0.2
    set ylabel 'fraction in the left well' offset 0.5, 0
    set yrange [0:1]
    set ytics 0.2
    set grid ytics lc rgb '#e0e0e0' lw 0.5 dt solid
    set key at screen 0.05 / LB_W, screen (LB_Y - LB_FRAC - LB_XLAB) / LB_H left top Left reverse \
        vertical maxrows 30 samplen 2 spacing 1.0 noenhanced \
        title (LB_BARS ? 'error bars: ± standard error' : 'shaded: ± standard error') left
    LB_BAND = 1 - LB_BARS
    plot for [i = 1:LB_N * LB_BAND] LB("-v mode=dwfrac -v series=" . i, LB_FILES) using 1:($2 - $3):($2 + $3) \
             with filledcurves lc rgb lb_color(i) notitle, \
         for [i = 1:LB_N * LB_BAND] LB("-v mode=dwfrac -v series=" . i, LB_FILES) using 1:2 \
             with lines lt i title word(LB_TITLES, i), \
         for [i = 1:LB_N * LB_BARS] LB("-v mode=dwfrac -v series=" . i, LB_FILES) using 1:2:3 \
             with yerrorlines lt i ps 0.5 title word(LB_TITLES, i), \
         LB_EXACT with lines lc rgb '#000000' lw 1.5 dt (6, 3) title sprintf('exact left-well weight %.3f', LB_EXACT)
    unset grid
    unset multiplot
    unset output
}
