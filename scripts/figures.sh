#!/bin/sh
# figures.sh -- draw every paper figure that has its inputs, as PNG and PDF.
# Part of langbench.  GPL-3.0-or-later.
#
# usage: scripts/figures.sh DATADIR OUTDIR [FIGURE...]
#
#   DATADIR  holds the inputs under fixed names (plots/README.md):
#              bias_gaussian.csv, bias_mixtures.csv  (+ *_rates.csv)  -> fig1
#              speedup.csv                           (+ *_rates.csv)  -> fig2
#              ring8_samples.csv, ring8_density.csv                   -> fig3
#              double_well_trajectories.csv, double_well_fractions.csv -> fig4
#              plmc_vs_fine_lmc.csv                  (+ *_rates.csv)  -> fig5
#              ud_bias.csv                           (+ *_rates.csv)  -> fig6
#              ud_speedup.csv                        (+ *_rates.csv)  -> fig7
#              diffusion_nfe.csv                                      -> diffusion
#            where X_rates.csv is the rate-fit file that `langbench export`
#            writes next to X.csv.
#   OUTDIR   receives NAME.png and NAME.pdf per figure (created if needed):
#              fig1_bias_TARGET, fig2_speedup_TARGET, fig3_ring8,
#              fig4_double_well, fig5_plmc_vs_lmc_TARGET,
#              fig6_ud_bias_TARGET, fig7_ud_speedup_TARGET, diffusion_nfe
#            with one file per target found in the results CSV.
#   FIGURE   any of fig1 ... fig7, diffusion (default: all of them).
#
# A figure whose inputs are missing is skipped with a message; a missing
# rate-fit file only drops the slopes from the legend.  Each figure is
# written under a temporary name and renamed once gnuplot succeeds, so a
# failure never leaves a half-written figure behind.
# Environment: GNUPLOT (default gnuplot).  gnuplot always runs in the
# C.UTF-8 locale (part of glibc), whatever the caller's: the figures' UTF-8
# labels must not depend on LANG, and in the C locale gnuplot warns.
# Exit status: 0 when every figure attempted was drawn (skips included),
# 1 when gnuplot failed on any, 2 on bad usage.
set -u
LC_ALL=C.UTF-8
export LC_ALL

usage() {
    echo "usage: $0 DATADIR OUTDIR [fig1|fig2|fig3|fig4|fig5|fig6|fig7|diffusion ...]" >&2
    exit 2
}
[ $# -ge 2 ] || usage
data=$1
outdir=$2
shift 2
want=${*:-fig1 fig2 fig3 fig4 fig5 fig6 fig7 diffusion}
for f in $want; do
    case $f in fig1|fig2|fig3|fig4|fig5|fig6|fig7|diffusion) ;; *) echo "figures: unknown figure '$f'" >&2; usage ;; esac
done
[ -d "$data" ] || { echo "figures: no data directory $data" >&2; exit 2; }
case "$data$outdir" in *"'"*) echo "figures: paths must not contain an apostrophe" >&2; exit 2 ;; esac

plots=$(cd "$(dirname "$0")/../plots" && pwd) || exit 1
GNUPLOT=${GNUPLOT:-gnuplot}
if ! command -v "$GNUPLOT" >/dev/null 2>&1; then
    echo "figures: $GNUPLOT not found (make deps installs gnuplot-nox)" >&2
    exit 1
fi
mkdir -p "$outdir" || exit 1

failed=0

wanted() { case " $want " in *" $1 "*) return 0 ;; esac; return 1; }

# draw NAME SCRIPT GNUPLOT-ASSIGNMENTS: writes OUTDIR/NAME.{png,pdf}
draw() {
    name=$1 script=$2 vars=$3
    tmp="$outdir/.$name.tmp$$"
    if "$GNUPLOT" -e "$vars; out='$tmp'" "$plots/$script"; then
        if [ -s "$tmp.png" ] && [ -s "$tmp.pdf" ]; then
            mv -f "$tmp.png" "$outdir/$name.png" && mv -f "$tmp.pdf" "$outdir/$name.pdf" &&
                echo "figures: wrote $outdir/$name.png and .pdf" && return 0
        fi
        echo "figures: $script wrote no output for $name" >&2
    else
        echo "figures: gnuplot failed on $script for $name" >&2
    fi
    rm -f "$tmp.png" "$tmp.pdf"
    failed=1
    return 1
}

# the distinct values of the target column of a tidy CSV, one per line
# (fields may be quoted as in RFC 4180)
targets() {
    awk 'function csv(s, f,   n, i, c, q, v) {
             sub(/\r$/, "", s); n = 0; v = ""; q = 0
             for (i = 1; i <= length(s); i++) {
                 c = substr(s, i, 1)
                 if (q) { if (c != "\"") v = v c; else if (substr(s, i + 1, 1) == "\"") { v = v c; i++ } else q = 0 }
                 else if (c == "\"") q = 1
                 else if (c == ",") { f[++n] = v; v = "" }
                 else v = v c
             }
             f[++n] = v; return n
         }
         { n = csv($0, F) }
         NR == 1 { for (i = 1; i <= n; i++) if (F[i] == "target") c = i; if (!c) exit 1; next }
         !(F[c] in seen) { seen[F[c]] = 1; print F[c] }' "$1"
}

# the rate-fit file that goes with a results CSV, if there is one
ratesof() {
    r="${1%.csv}_rates.csv"
    if [ -r "$r" ]; then echo "rates='$r'"; else
        echo "figures: no $r: legends of $(basename "$1") without slopes" >&2; echo "rates=''"; fi
}

# fig1, fig2, fig5: one figure per target of each results file
per_target() {
    fig=$1 script=$2 stem=$3
    shift 3
    found=0
    for csv in "$@"; do
        [ -r "$data/$csv" ] || continue
        found=1
        rates=$(ratesof "$data/$csv")
        tlist=$(targets "$data/$csv") || { echo "figures: $data/$csv has no target column" >&2; failed=1; continue; }
        [ -n "$tlist" ] || { echo "figures: $data/$csv has no rows" >&2; failed=1; continue; }
        set -f; oldifs=$IFS; IFS='
'
        for t in $tlist; do
            IFS=$oldifs; set +f
            case $t in *"'"*) echo "figures: skipped target with an apostrophe: $t" >&2; continue ;; esac
            safe=$(printf '%s' "$t" | tr -c 'A-Za-z0-9._-' '_')
            draw "${stem}_$safe" "$script" "in='$data/$csv'; $rates; target='$t'"
        done
        IFS=$oldifs; set +f
    done
    [ $found -eq 1 ] || echo "figures: skipped $fig: none of $* in $data"
}

if wanted fig1; then per_target fig1 fig1_bias.gp fig1_bias bias_gaussian.csv bias_mixtures.csv; fi
if wanted fig2; then per_target fig2 fig2_speedup.gp fig2_speedup speedup.csv; fi
if wanted fig3; then
    if [ -r "$data/ring8_samples.csv" ] && [ -r "$data/ring8_density.csv" ]; then
        draw fig3_ring8 fig3_ring8.gp "samples='$data/ring8_samples.csv'; density='$data/ring8_density.csv'"
    else
        echo "figures: skipped fig3: needs ring8_samples.csv and ring8_density.csv in $data"
    fi
fi
if wanted fig4; then
    if [ -r "$data/double_well_trajectories.csv" ] && [ -r "$data/double_well_fractions.csv" ]; then
        draw fig4_double_well fig4_double_well.gp \
            "traj='$data/double_well_trajectories.csv'; frac='$data/double_well_fractions.csv'"
    else
        echo "figures: skipped fig4: needs double_well_trajectories.csv and double_well_fractions.csv in $data"
    fi
fi
if wanted fig5; then per_target fig5 fig5_plmc_vs_lmc.gp fig5_plmc_vs_lmc plmc_vs_fine_lmc.csv; fi
# the underdamped samplers: figures 1 and 2 drawn from their own experiments
if wanted fig6; then per_target fig6 fig1_bias.gp fig6_ud_bias ud_bias.csv; fi
if wanted fig7; then per_target fig7 fig2_speedup.gp fig7_ud_speedup ud_speedup.csv; fi
if wanted diffusion; then
    if [ -r "$data/diffusion_nfe.csv" ]; then
        draw diffusion_nfe diffusion_nfe.gp "in='$data/diffusion_nfe.csv'"
    else
        echo "figures: skipped diffusion: needs diffusion_nfe.csv in $data"
    fi
fi

exit $failed
