# plots/fig3_ring8.gp -- Figure 3: samples of the 2-D ring8 mixture drawn
# by each sampler (one row per sampler configuration) at a few step sizes
# (one column per step), as dots over contours of the target density.
# The contours enclose the highest-density regions holding 50%, 90% and
# 99% of the target's mass, so a correct sampler leaves about 1% of its
# dots outside the outer contour.
# Part of langbench.  GPL-3.0-or-later.
#
#   gnuplot -e "samples='results/ring8_samples.csv'; density='results/ring8_density.csv'" \
#           -e "out='results/figures/fig3_ring8'" plots/fig3_ring8.gp
#
# Variables: samples (CSV sampler,K,[option,gamma,]step,x,y, required;
# one row of panels per sampler, K, option and gamma), density (CSV
# x,y,density on a regular grid, rows ordered by x then y, required), out
# (output path without extension, required), title (default 'ring8').
# The axes span the density grid; the share of a panel's samples that fall
# outside it is printed in the panel.  Inputs: plots/README.md.

if (!exists("samples") || !exists("density") || !exists("out")) {
    print "usage: gnuplot -e \"samples='SAMPLES.csv'; density='DENSITY.csv'; out='OUTSTEM'\" plots/fig3_ring8.gp"
    exit status 2
}
LB_DIR = strlen(ARG0) > 0 ? system("dirname '" . ARG0 . "'") : 'plots'
load LB_DIR . '/common.gp'
if (!exists("title")) { title = 'ring8' }
do for [f in samples . ' ' . density] {
    if (!lb_readable(f)) { print sprintf("%s: cannot read %s", ARG0, f); exit status 1 }
}

LB_ROWS = LBS("-v mode=r8titles", q(samples))
eval LB_DIE
LB_STEPS = LBS("-v mode=r8steps", q(samples))
eval LB_DIE
LB_NR = words(LB_ROWS)
LB_NC = words(LB_STEPS)
if (LB_NR == 0 || LB_NC == 0) { print sprintf("%s: no samples in %s", ARG0, samples); exit status 1 }
LB_RANGE = LBS("-v mode=gridrange", q(density))
eval LB_DIE
LB_LEVELS = LBS("-v mode=levels -v masses='0.99 0.9 0.5'", q(density))
eval LB_DIE
LB_X0 = real(word(LB_RANGE, 1)); LB_X1 = real(word(LB_RANGE, 2))
LB_Y0 = real(word(LB_RANGE, 3)); LB_Y1 = real(word(LB_RANGE, 4))
LB_BOX = sprintf("-v xmin=%.17g -v xmax=%.17g -v ymin=%.17g -v ymax=%.17g", LB_X0, LB_X1, LB_Y0, LB_Y1)

# contour lines of the density into a datablock, once
set view map
unset surface
set contour base
eval 'set cntrparam levels discrete ' . LB_LEVELS
set table $LB_CONTOURS
splot LB("-v mode=grid", q(density)) using 1:2:3 with lines notitle
unset table
unset contour
set surface

# share of each panel's samples outside the axes
array LB_OUT[LB_NR * LB_NC]
do for [r = 1:LB_NR] {
    do for [c = 1:LB_NC] {
        LB_OUT[(r - 1) * LB_NC + c] = real(LBS(sprintf("-v mode=r8outside -v series=%d -v step=%s ", r, word(LB_STEPS, c)) . LB_BOX, q(samples)))
    }
}

# Layout in inches: square panels, one paper column wide for up to two
# steps, two columns wide beyond; row labels on the left, step on top.
LB_W = LB_NC <= 2 ? 3.4 : 7.0
LB_LEFT = 0.9                       # row label, y label and y tic labels
LB_RIGHT = 0.1
LB_GAP = 0.16                       # room for the tic labels at the panels' edges
LB_S = (LB_W - LB_LEFT - LB_RIGHT - (LB_NC - 1) * LB_GAP) / LB_NC
LB_S = LB_S > 2.2 ? 2.2 : LB_S
LB_TOP = 0.55                       # figure title and column titles
LB_TITLE = sprintf("%s: samples (dots) over the target's 50/90/99%% mass contours", title)
if (LB_NC <= 2) {                   # a narrow figure: the title on two lines
    LB_TITLE = sprintf("%s: samples (dots) over the target's\n50/90/99%% mass contours", title)
    LB_TOP = LB_TOP + 0.2
}
LB_BOTTOM = 0.5                     # x tic labels and x label
LB_H = LB_TOP + LB_NR * LB_S + (LB_NR - 1) * LB_GAP + LB_BOTTOM

set xrange [LB_X0:LB_X1]
set yrange [LB_Y0:LB_Y1]
set xtics out nomirror scale 0.5 format '%g'
set ytics out nomirror scale 0.5 format '%g'
set border 15 lw 0.6
unset key
unset colorbox
set style textbox opaque noborder margins 1, 1

do for [LB_KIND in "png pdf"] {
    eval lb_term(LB_KIND, LB_W, LB_H)
    set output out . '.' . LB_KIND
    set multiplot title LB_TITLE noenhanced
    do for [r = 1:LB_NR] {
        do for [c = 1:LB_NC] {
            LB_L = LB_LEFT + (c - 1) * (LB_S + LB_GAP)
            LB_T = LB_H - LB_TOP - (r - 1) * (LB_S + LB_GAP)
            set lmargin at screen LB_L / LB_W
            set rmargin at screen (LB_L + LB_S) / LB_W
            set tmargin at screen LB_T / LB_H
            set bmargin at screen (LB_T - LB_S) / LB_H
            set format x (r == LB_NR ? '%g' : '')
            set format y (c == 1 ? '%g' : '')
            set xlabel (r == LB_NR ? 'x_1' : '') offset 0, 0.6
            set ylabel (c == 1 ? 'x_2' : '') offset 1.2, 0
            unset label
            if (c == 1) {
                set label 3 word(LB_ROWS, r) at screen 0.16 / LB_W, screen (LB_T - LB_S / 2) / LB_H rotate by 90 center noenhanced
            }
            if (r == 1) {
                set label 1 'step ' . word(LB_STEPS, c) at graph 0.5, graph 1.06 center noenhanced
            }
            LB_O = LB_OUT[(r - 1) * LB_NC + c]
            if (LB_O > 0) {
                set label 2 (LB_O < 0.001 ? '<0.1% outside' : sprintf("%.1f%% outside", 100 * LB_O)) at graph 0.97, graph 0.05 right front font ',8' boxed
            }
            plot LB(sprintf("-v mode=r8panel -v series=%d -v step=%s", r, word(LB_STEPS, c)), q(samples)) \
                     using 1:2 with points pt 7 ps 0.12 lc rgb ('#B0' . lb_color(r)[2:7]), \
                 $LB_CONTOURS using 1:2 with lines lc rgb '#404040' lw 0.7
        }
    }
    unset multiplot
    unset output
}
