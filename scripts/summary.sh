#!/bin/sh
# summary.sh -- the one-screen summary that `make run` prints.
# Part of langbench.  GPL-3.0-or-later.
#
# usage: scripts/summary.sh CSV METRIC [CAPTION] [CSV METRIC [CAPTION] ...]
#
# Each CSV is a tidy results file (`langbench export`, or the exact-law
# file that scripts/run-default.sh writes in the same columns).  For every
# target in it, at the last record step of each cell, prints:
#   - a table, samplers by step size, of METRIC's estimate; a trailing `~`
#     marks an entry that cannot be told from the noise floor
#     (estimate <= floor + 2 stderr, the rule `langbench export` uses for
#     its rate fits);
#   - the fitted slope of log estimate against log step over the entries
#     above the floor, with its standard error (least squares, as export);
#   - one sentence: which sampler has the lowest error at equal gradient
#     evaluations per chain (log-log interpolation between each sampler's
#     points, at the largest NFE that every sampler's range covers), by
#     how much, and whether that difference and that error stand above
#     the noise (2 standard errors, and the floor).
# Then one log-log plot of error against gradient evaluations per chain
# per CSV, side by side, in the terminal (gnuplot's dumb terminal).
set -eu
[ $# -ge 2 ] || { echo "usage: $0 CSV METRIC [CAPTION] ..." >&2; exit 2; }

LC_ALL=C.UTF-8
export LC_ALL
plotdata=$(mktemp -d "${TMPDIR:-/tmp}/langbench-summary.XXXXXX")
trap 'rm -rf "$plotdata"' EXIT
ncsv=0
plotcmd=""

while [ $# -ge 2 ]; do
    csv=$1 metric=$2
    shift 2
    caption=""
    if [ $# -ge 1 ] && [ ! -f "$1" ]; then caption=$1; shift; fi
    [ -f "$csv" ] || { echo "summary: no file $csv" >&2; exit 2; }
    ncsv=$((ncsv + 1))
    awk -F, -v metric="$metric" -v caption="$caption" -v pd="$plotdata/$ncsv" '
    function lbl(i) { return $2 ($3 == "" ? "" : ":K=" $3) ($4 == "" || $4 == 1 ? "" : ",option=" $4) }
    function fmt(x) { return x == "" ? "-" : (x < 1e-3 || x >= 1e3 ? sprintf("%.2e", x) : sprintf("%.4f", x)) }
    function above(k) { return est[k] > flo[k] + 2 * se[k] }
    NR == 1 { next }
    $12 == metric {
        h = $6 + 0
        k = $1 SUBSEP lbl() SUBSEP h
        # keep the last record step of each cell
        if ((k in rs) && $9 + 0 < rs[k] + 0) next
        rs[k] = $9; est[k] = $13 + 0; se[k] = $14 + 0; flo[k] = ($15 == "nan" ? 0 : $15 + 0)
        nfe[k] = $11 + 0
        if (!($1 in tseen)) { tseen[$1] = 1; tord[++nt] = $1 }
        s = lbl()
        if (!(($1, s) in sseen)) { sseen[$1, s] = 1; sord[$1, ++ns[$1]] = s }
        if (!(($1, h) in hseen)) { hseen[$1, h] = 1; hord[$1, ++nh[$1]] = h }
    }
    END {
        for (ti = 1; ti <= nt; ti++) {
            t = tord[ti]
            # steps in decreasing order
            for (a = 1; a <= nh[t]; a++) for (b = a + 1; b <= nh[t]; b++)
                if (hord[t, b] > hord[t, a]) { x = hord[t, a]; hord[t, a] = hord[t, b]; hord[t, b] = x }
            for (a = 1; a <= ns[t]; a++) for (b = a + 1; b <= ns[t]; b++)
                if (sord[t, b] < sord[t, a]) { x = sord[t, a]; sord[t, a] = sord[t, b]; sord[t, b] = x }
            printf "\n%s: %s%s\n", t, metric, (caption == "" ? "" : " (" caption ")")
            printf "%s", t > (pd "_" ti ".title")
            printf "  %-12s", "step"
            for (a = 1; a <= nh[t]; a++) printf " %10g", hord[t, a]
            printf "   slope vs step\n"
            for (si = 1; si <= ns[t]; si++) {
                s = sord[t, si]
                printf "  %-12s", s
                n = 0; sx = sy = sxx = sxy = 0
                for (a = 1; a <= nh[t]; a++) {
                    k = t SUBSEP s SUBSEP hord[t, a]
                    if (!(k in est)) { printf " %10s", "-"; continue }
                    printf " %9s%s", fmt(est[k]), (above(k) ? " " : "~")
                    if (above(k)) {
                        x = log(hord[t, a]); y = log(est[k]); n++
                        sx += x; sy += y; sxx += x * x; sxy += x * y; xs[n] = x; ys[n] = y
                    }
                    print nfe[k], est[k] > (pd "_" ti "_" si ".dat")
                }
                if (n >= 3) {
                    b = (n * sxy - sx * sy) / (n * sxx - sx * sx); c = (sy - b * sx) / n
                    r = 0; for (m = 1; m <= n; m++) r += (ys[m] - c - b * xs[m]) ^ 2
                    sb = sqrt(r / (n - 2) / (sxx - sx * sx / n))
                    printf "   %5.2f +- %.2f (%d pts)\n", b, sb, n
                } else if (n == 2) {
                    printf "   %5.2f (2 pts)\n", (n * sxy - sx * sy) / (n * sxx - sx * sx)
                } else printf "   (at floor)\n"
                print s > (pd "_" ti "_" si ".name")
            }
            # equal gradient evaluations: the largest NFE inside every range
            target_nfe = -1
            for (si = 1; si <= ns[t]; si++) {
                mx = -1
                for (a = 1; a <= nh[t]; a++) { k = t SUBSEP sord[t, si] SUBSEP hord[t, a]; if ((k in nfe) && nfe[k] > mx) mx = nfe[k] }
                if (target_nfe < 0 || mx < target_nfe) target_nfe = mx
            }
            best = ""; nb = 0
            for (si = 1; si <= ns[t]; si++) {
                s = sord[t, si]; ok = 0
                for (a = 1; a < nh[t]; a++) {
                    k1 = t SUBSEP s SUBSEP hord[t, a]; k2 = t SUBSEP s SUBSEP hord[t, a + 1]
                    if (!(k1 in nfe) || !(k2 in nfe)) continue
                    n1 = nfe[k1]; n2 = nfe[k2]
                    if ((n1 - target_nfe) * (n2 - target_nfe) > 0) continue
                    w = (n1 == n2) ? 0 : (log(target_nfe) - log(n1)) / (log(n2) - log(n1))
                    e1 = est[k1] > 0 ? est[k1] : 1e-300; e2 = est[k2] > 0 ? est[k2] : 1e-300
                    ie[s] = exp((1 - w) * log(e1) + w * log(e2))
                    is[s] = (1 - w) * se[k1] + w * se[k2]
                    iflo[s] = (1 - w) * flo[k1] + w * flo[k2]
                    ok = 1; break
                }
                if (!ok) continue
                cand[++nb] = s
            }
            if (nb < 2) { printf "  (too few points to compare at equal gradient evaluations)\n"; continue }
            for (a = 1; a <= nb; a++) for (b = a + 1; b <= nb; b++)
                if (ie[cand[b]] < ie[cand[a]]) { x = cand[a]; cand[a] = cand[b]; cand[b] = x }
            s1 = cand[1]; s2 = cand[2]
            sep = ie[s2] - ie[s1]; sd = sqrt(is[s1] ^ 2 + is[s2] ^ 2)
            worst = cand[nb]
            printf "  At %.0f gradient evaluations per chain %s has the lowest %s, %s", target_nfe, s1, metric, fmt(ie[s1])
            printf "%s;\n", (ie[s1] <= iflo[s1] + 2 * is[s1]) ? " (at the noise floor " fmt(iflo[s1]) ")" : ""
            printf "  next is %s (%s, %.1fx)", s2, fmt(ie[s2]), ie[s2] / ie[s1]
            if (sd > 0) printf ", a difference of %.0f standard errors%s", sep / sd, (sep > 2 * sd) ? "" : " (not resolved)"
            else printf ", exact values"
            printf "; %s is %.1fx worse.\n", worst, ie[worst] / ie[s1]
            # the comparison of the paper: the best Poisson midpoint method against LMC
            bp = ""
            for (a = 1; a <= nb; a++) if (cand[a] ~ /^plmc/ && bp == "") bp = cand[a]
            if (bp != "" && ("lmc" in ie)) {
                sd = sqrt(is[bp] ^ 2 + is["lmc"] ^ 2); r = ie["lmc"] / ie[bp]
                printf "  PLMC against LMC at equal evaluations: %s %s vs lmc %s, %.1fx %s", bp, fmt(ie[bp]), fmt(ie["lmc"]), (r >= 1 ? r : 1 / r), (r >= 1 ? "lower" : "higher")
                if (sd > 0) printf " (%.0f standard errors)", (ie["lmc"] - ie[bp]) / sd
                printf ".\n"
            }
        }
    }' "$csv"
done

# one plot per target, in the order printed
set -- "$plotdata"/*.title
nplots=0
for tf in "$@"; do
    [ -f "$tf" ] || continue
    nplots=$((nplots + 1))
    base=${tf%.title}
    plotcmd="$plotcmd
set title '$(sed "s/'//g" "$tf")'
plot"
    sep=""
    for f in "$base"_*.dat; do
        [ -f "$f" ] || continue
        name=$(cat "${f%.dat}.name")
        i=${f##*_}; i=${i%.dat}
        sort -g "$f" >"$f.s"
        plotcmd="$plotcmd$sep '$f.s' using 1:2 with linespoints pt $((i + 2)) title '$name'"
        sep=","
    done
done

echo
if command -v gnuplot >/dev/null 2>&1; then
    gnuplot <<EOF 2>/dev/null | sed '/^[[:space:]]*$/d'
set terminal dumb size 120,18
set ylabel ''
set xlabel ''
set logscale xy
set key top right samplen 1
set format y '%.0e'
set multiplot layout 1,$nplots
$plotcmd
unset multiplot
EOF
fi
