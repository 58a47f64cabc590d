# plots/diffusion_nfe.gp -- diffusion samplers against network calls (NFE)
# with the exact oracle (experiment diffusion_nfe, README Diffusion), for model `model`
# (default oracle; a trained model file's base name otherwise):
#   (a) ring8: |per-mode variance error| var_rel, with its noise floor;
#   (b) ring8: MMD (median bandwidth) with its floor: barely resolving;
#   (c) Gaussian data N(0, 0.25 I): |exact relative variance error| of
#       each sampler's output law (diffusion.md section 5; no Monte Carlo).
# Part of langbench.  GPL-3.0-or-later.
#
#   gnuplot -e "in='results/diffusion_nfe.csv'; out='results/figures/diffusion_nfe'" \
#           plots/diffusion_nfe.gp
#
# Input: the tidy CSV of `langbench export` on the diffusion_nfe
# experiment (columns target, sampler, K, option, ..., nfe_mean, metric,
# estimate, stderr, floor; pmm cells of every K share one sampler value).

if (!exists("in") || !exists("out")) {
    print "usage: gnuplot -e \"in='diffusion_nfe.csv'; out='OUTSTEM'\" plots/diffusion_nfe.gp"
    exit status 2
}
LB_DIR = strlen(ARG0) > 0 ? system("dirname '" . ARG0 . "'") : 'plots'
load LB_DIR . '/common.gp'

ring = exists("ring") ? ring : 'gmm:preset=ring8'
gauss = exists("gauss") ? gauss : 'gaussian:dim=2;var=0.25'
model = exists("model") ? model : 'oracle'
S = 'ddpm:variant=v2 ddpm:variant=v1d ddim:eta=0 dpmsolver:order=3;skip=logsnr dpmsolver++:order=3;skip=logsnr pmm:option=1;variant=v2 pmm:option=2;variant=v2 pmm:option=2;variant=v1c'
# sampler column: MODEL/SAMPLER (pmm without K)
L = 'DDPM-V2 DDPM-V1d DDIM DPM-Solver-3 DPM-Solver++-3 PMM-opt1 PMM-opt2 PMM-opt2-V1c'

sel(t, s, m) = sprintf("< awk -F, -v t='%s' -v s='%s/%s' -v m='%s' '$1==t && $2==s && $12==m {e=$13; if (e<0) e=-e; print $11, e, $14, $15}' %s | sort -g", t, model, s, m, q(in))
flo(t, m) = sprintf("< awk -F, -v t='%s' -v m='%s' -v p='%s/' '$1==t && $12==m && index($2, p)==1 {f=$15; if (f<0) f=-f; print $11, f}' %s | sort -g", t, m, model, q(in))

do for [kind in "png pdf"] {
    eval lb_term(kind, 10.0, 3.8)
    set output out . '.' . kind
    set multiplot layout 1,3 title "Diffusion samplers with the exact oracle: error against network calls" font ',10'
    set logscale xy
    set xrange [8:1300]
    set xlabel 'NFE per sample'
    set grid
    set key off
    set format y '10^{%T}'

    # fixed ranges: a series without rows leaves a panel empty, no error
    set yrange [1e-4:10]
    set title '(a) ring8: |per-mode variance error|' font ',8'
    set ylabel '|var_rel|' noenhanced
    plot for [i=1:words(S)] sel(ring, word(S, i), 'var_rel') u 1:2 w lp lt i t word(L, i), \
         flo(ring, 'var_rel') u 1:2 w l lc rgb '#999999' dt 2 t 'floor'
    set yrange [1e-5:1]
    set title '(b) ring8: MMD (median bandwidth)' font ',8'
    set key top right font ',7' noenhanced samplen 2 spacing 0.9
    set ylabel 'MMD^2'
    plot for [i=1:words(S)] sel(ring, word(S, i), 'mmd') u 1:2 w lp lt i t word(L, i), \
         flo(ring, 'mmd') u 1:2 w l lc rgb '#999999' dt 2 t 'floor'
    set yrange [1e-6:1]
    set key off
    set title '(c) N(0, 0.25 I): exact |variance error|' font ',8'
    set ylabel '|Var X_0 / v - 1|  (exact)' noenhanced
    plot for [i=1:words(S)] sel(gauss, word(S, i), 'var_rel_exact') u 1:2 w lp lt i t word(L, i)
    unset multiplot
    set output
}
