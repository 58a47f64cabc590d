# plots/diffusion_nfe.gp -- diffusion samplers against network calls (NFE)
# (experiment diffusion_nfe, README Diffusion): the oracle (discretisation
# error alone) in the top row, the shipped trained models (discretisation
# + learning error) in the bottom row:
#   (a) oracle, ring8: |per-mode variance error| var_rel, with its floor;
#   (b) oracle, N(0, 0.25 I): |exact relative variance error| of each
#       sampler's output law (diffusion.md section 5; no Monte Carlo);
#   (c) oracle, ring8: MMD^2 (median bandwidth) with its floor;
#   (d) ring8.h5, ring8: |var_rel| with its floor;
#   (e) moons.h5: |mmd_q - floor| (MMD^2 at a quarter of the median
#       bandwidth against a data reference; floor: a data sample);
#   (f) moons.h5: |moons_far - floor| (fraction farther than 0.5 from the
#       arcs, against the data's own fraction).
# Families are drawn as the paper selects them: DDPM = the best variant
# (V1a-V1d, V2, V3) at each NFE, DPM-Solver and DPM-Solver++ = the best of
# orders 2-3 x the three step choices at each NFE (thick, with points),
# each member thin and dashed in the family's colour; DDIM; PMM options 1
# and 2 with V2 and with the best V1 sub-variant (V1a-V1d) at each NFE.
# "Best" = smallest |error| (for (e), (f): |estimate - floor|): where the
# members differ by less than their SE the minimum is biased low by about
# an SE; panel (b) has no noise.
# Part of langbench.  GPL-3.0-or-later.
#
#   gnuplot -e "in='results/diffusion_nfe.csv'; out='results/figures/diffusion_nfe'" \
#           plots/diffusion_nfe.gp
#
# Input: the tidy CSV of `langbench export` on the diffusion_nfe
# experiment (columns target, sampler, K, option, ..., nfe_mean, metric,
# estimate, stderr, floor; the sampler column reads MODEL/SAMPLER, pmm
# cells of every K share one sampler value, ';' for ',').  A panel whose
# rows are missing stays empty.

if (!exists("in") || !exists("out")) {
    print "usage: gnuplot -e \"in='diffusion_nfe.csv'; out='OUTSTEM'\" plots/diffusion_nfe.gp"
    exit status 2
}
LB_DIR = strlen(ARG0) > 0 ? system("dirname '" . ARG0 . "'") : 'plots'
load LB_DIR . '/common.gp'

ring = exists("ring") ? ring : 'gmm:preset=ring8'
gauss = exists("gauss") ? gauss : 'gaussian:dim=2;var=0.25'
moons = exists("moons") ? moons : 'moons'
ringmodel = exists("ringmodel") ? ringmodel : 'ring8.h5'
moonsmodel = exists("moonsmodel") ? moonsmodel : 'moons.h5'

# single series: t target, s = MODEL/SAMPLER, m metric; sub = 1 takes
# |estimate - floor|, else |estimate|
one(t, s, m, sub) = sprintf("< awk -F, -v t='%s' -v s='%s' -v m='%s' -v f=%d '$1==t && $2==s && $12==m {e=$13-(f?$15:0); if (e<0) e=-e; print $11, e}' %s | sort -g", t, s, m, sub, q(in))
# best of the members whose sampler starts with p (and not with x) at each NFE
best(t, p, x, m, sub) = sprintf("< awk -F, -v t='%s' -v p='%s' -v x='%s' -v m='%s' -v f=%d '$1==t && index($2,p)==1 && (x==\"\" || index($2,x)!=1) && $12==m {e=$13-(f?$15:0); if (e<0) e=-e; if (!($11 in b) || e<b[$11]) b[$11]=e} END {for (k in b) print k, b[k]}' %s | sort -g", t, p, x, m, sub, q(in))
flo(t, mo, m) = sprintf("< awk -F, -v t='%s' -v m='%s' -v p='%s/' '$1==t && $12==m && index($2, p)==1 {f=$15; if (f<0) f=-f; print $11, f}' %s | sort -g | uniq", t, m, mo, q(in))

DDPMV = 'v1a v1b v1c v1d v2 v3'
DPMV = 'order=2;skip=logsnr order=2;skip=time_uniform order=2;skip=time_quadratic order=3;skip=logsnr order=3;skip=time_uniform order=3;skip=time_quadratic'

# one panel: target t, model mo, metric m, sub (see one())
panel(t, mo, m, sub) = sprintf("plot for [v in DDPMV] one('%s', '%s/ddpm:variant='.v, '%s', %d) u 1:2 w l lt 1 lw 0.5 dt 3 notitle, \
  for [v in DPMV] one('%s', '%s/dpmsolver:'.v, '%s', %d) u 1:2 w l lt 3 lw 0.5 dt 3 notitle, \
  for [v in DPMV] one('%s', '%s/dpmsolver++:'.v, '%s', %d) u 1:2 w l lt 4 lw 0.5 dt 3 notitle, \
  best('%s', '%s/ddpm:', '', '%s', %d) u 1:2 w lp lt 1 lw 2 t 'DDPM (best variant)', \
  one('%s', '%s/ddim:eta=0', '%s', %d) u 1:2 w lp lt 2 t 'DDIM', \
  best('%s', '%s/dpmsolver:', '', '%s', %d) u 1:2 w lp lt 3 lw 2 t 'DPM-Solver (best)', \
  best('%s', '%s/dpmsolver++:', '', '%s', %d) u 1:2 w lp lt 4 lw 2 t 'DPM-Solver++ (best)', \
  one('%s', '%s/pmm:option=1;variant=v2', '%s', %d) u 1:2 w lp lt 5 t 'PMM opt 1, V2', \
  one('%s', '%s/pmm:option=2;variant=v2', '%s', %d) u 1:2 w lp lt 7 lw 2 t 'PMM opt 2, V2', \
  best('%s', '%s/pmm:option=1;variant=v1', '', '%s', %d) u 1:2 w lp lt 6 dt 2 t 'PMM opt 1, best V1x', \
  best('%s', '%s/pmm:option=2;variant=v1', '', '%s', %d) u 1:2 w lp lt 8 dt 2 t 'PMM opt 2, best V1x'", \
  t, mo, m, sub, t, mo, m, sub, t, mo, m, sub, t, mo, m, sub, t, mo, m, sub, t, mo, m, sub, \
  t, mo, m, sub, t, mo, m, sub, t, mo, m, sub, t, mo, m, sub, t, mo, m, sub)

do for [kind in "png pdf"] {
    eval lb_term(kind, 11.0, 6.6)
    set output out . '.' . kind
    # panels placed by hand (a layout would also place the key strip)
    set multiplot title "Diffusion samplers: error against network calls (top: exact oracle; bottom: shipped trained models)" font ',10'
    set size 0.333, 0.41
    set logscale xy
    set xrange [8:1300]
    set xlabel 'NFE per sample'
    set grid
    set key off
    set format y '10^{%T}'

    # fixed ranges: a series without rows leaves a panel empty, no error
    set yrange [1e-4:10]
    set origin 0.0, 0.41
    set title '(a) oracle, ring8: |per-mode variance error|' font ',8'
    set ylabel '|var_rel|' noenhanced
    eval panel(ring, 'oracle', 'var_rel', 0) . ", flo(ring, 'oracle', 'var_rel') u 1:2 w l lc rgb LB_GREY dt 2 t 'floor'"
    set yrange [1e-6:10]
    set origin 0.333, 0.41
    set title '(b) oracle, N(0, 0.25 I): exact |variance error|' font ',8'
    set ylabel '|Var X_0 / v - 1|  (exact)' noenhanced
    eval panel(gauss, 'oracle', 'var_rel_exact', 0)
    set yrange [1e-5:1]
    set origin 0.666, 0.41
    set title '(c) oracle, ring8: MMD^2 (median bw.)' font ',8'
    set ylabel 'MMD^2'
    eval panel(ring, 'oracle', 'mmd', 0) . ", flo(ring, 'oracle', 'mmd') u 1:2 w l lc rgb LB_GREY dt 2 t 'floor'"
    set yrange [1e-4:10]
    set origin 0.0, 0.0
    set title '(d) trained ring8.h5: |per-mode variance error|' font ',8'
    set ylabel '|var_rel|' noenhanced
    eval panel(ring, ringmodel, 'var_rel', 0) . ", flo(ring, ringmodel, 'var_rel') u 1:2 w l lc rgb LB_GREY dt 2 t 'floor'"
    set yrange [1e-6:1]
    set origin 0.333, 0.0
    set title '(e) trained moons.h5: |MMD^2_q - data floor|' font ',8'
    set ylabel '|mmd_q - floor|' noenhanced
    eval panel(moons, moonsmodel, 'mmd_q', 1)
    set yrange [1e-5:1]
    set origin 0.666, 0.0
    set title '(f) trained moons.h5: |far fraction - data|' font ',8'
    set ylabel '|moons_far - floor|' noenhanced
    eval panel(moons, moonsmodel, 'moons_far', 1)
    # the one key, in a strip of the full width above the panels
    set origin 0.0, 0.83
    set size 1.0, 0.09
    unset logscale
    unset border
    unset tics
    unset xlabel
    unset ylabel
    unset title
    unset grid
    set xrange [0:1]
    set yrange [0:1]
    set key center center horizontal maxrows 2 font ',7' samplen 2.5 width 1
    plot NaN w lp lt 1 lw 2 t 'DDPM (best variant)', NaN w lp lt 2 t 'DDIM', \
         NaN w lp lt 3 lw 2 t 'DPM-Solver (best)', NaN w lp lt 4 lw 2 t 'DPM-Solver++ (best)', \
         NaN w lp lt 5 t 'PMM opt 1, V2', NaN w lp lt 7 lw 2 t 'PMM opt 2, V2', \
         NaN w lp lt 6 dt 2 t 'PMM opt 1, best V1x', NaN w lp lt 8 dt 2 t 'PMM opt 2, best V1x', \
         NaN w l lt 1 lw 0.5 dt 3 t 'members (thin)', NaN w l lc rgb LB_GREY dt 2 t 'floor'
    unset multiplot
    set output
}
