# plots/common.gp -- loaded by every figure script in plots/.
# Part of langbench.  GPL-3.0-or-later.
#
# Provides
#   LB(args, files)   a gnuplot data source '< awk ... args files' that runs
#                     the CSV helper below (the modes are listed in
#                     plots/README.md); LBS(args, files) runs it with
#                     system() and returns its output.
#   q(s)              s quoted for sh (s must not contain an apostrophe).
#   lb_term(kind, w, h)  the "set terminal" command for kind "png" or
#                     "pdf" at w x h inches; PNGs are the PDFs at LB_DPI.
#   eval LB_DIE       after LBS(): stops the script with exit status 1 when the
#                     helper failed (it has printed why on stderr).
#   lb_readable(f)    1 if file f exists and is readable.
#   metric_label(m), metric_axis(m)  words for a metric name.
#   linetypes 1-8     the Okabe-Ito palette with distinct point types.
#
# Data-derived text (sampler labels, target names) is printed with
# "noenhanced" so underscores stay underscores; fixed labels use gnuplot's
# enhanced text for sub- and superscripts.

set encoding utf8
LB_DPI = 200.0
LB_FONT = 'Sans,9'

# ---------------------------------------------------------------------------
# Terminals.  pdfcairo at fontscale 1 gives true 9 pt text; its lines are
# thinner than pngcairo's at the same nominal width, hence linewidth 1.5.
# ---------------------------------------------------------------------------
lb_term(kind, w, h) = kind eq 'png' \
    ? sprintf("set terminal pngcairo size %d,%d enhanced font '%s' fontscale %g linewidth %g pointscale %g background '#ffffff'", \
              int(w * LB_DPI + 0.5), int(h * LB_DPI + 0.5), LB_FONT, LB_DPI / 72.0, LB_DPI / 72.0, LB_DPI / 72.0) \
    : sprintf("set terminal pdfcairo size %gin,%gin enhanced font '%s' fontscale 1.0 linewidth 1.5 pointscale 1.2", \
              w, h, LB_FONT)

# ---------------------------------------------------------------------------
# Okabe-Ito colours (Okabe & Ito 2008, "Color Universal Design"), most
# distinct first; yellow last as it is faint on white.  Point types:
# filled circle, square, triangle up, triangle down, diamond, pentagon,
# then open circle and open square.
# ---------------------------------------------------------------------------
set linetype 1 lc rgb '#0072B2' lw 1.2 pt 7  ps 0.7 dt solid
set linetype 2 lc rgb '#D55E00' lw 1.2 pt 5  ps 0.7 dt solid
set linetype 3 lc rgb '#009E73' lw 1.2 pt 9  ps 0.8 dt solid
set linetype 4 lc rgb '#CC79A7' lw 1.2 pt 11 ps 0.8 dt solid
set linetype 5 lc rgb '#E69F00' lw 1.2 pt 13 ps 0.8 dt solid
set linetype 6 lc rgb '#56B4E9' lw 1.2 pt 15 ps 0.8 dt solid
set linetype 7 lc rgb '#000000' lw 1.2 pt 6  ps 0.7 dt solid
set linetype 8 lc rgb '#F0E442' lw 1.2 pt 4  ps 0.7 dt solid
set linetype cycle 8
LB_GREY = '#7f7f7f'
lb_color(i) = word("#0072B2 #D55E00 #009E73 #CC79A7 #E69F00 #56B4E9 #000000 #F0E442", (i - 1) % 8 + 1)

# ---------------------------------------------------------------------------
# Metric names (the metric column of the tidy CSV).
# ---------------------------------------------------------------------------
metric_label(m) = \
    m eq 'mean_err'  ? 'mean error' : \
    m eq 'cov_err'   ? 'covariance error' : \
    m eq 'w2_marg'   ? 'marginal W_2' : \
    m eq 'w2'        ? 'W_2 distance' : \
    m eq 'sw2'       ? 'sliced W_2' : \
    m eq 'kl'        ? 'KL divergence' : \
    m eq 'tv'        ? 'total variation' : \
    m eq 'mmd'       ? 'MMD' : \
    m eq 'modes'     ? 'mode-weight error' : \
    m eq 'law_w2'    ? 'W_2(PLMC(α,K), LMC(α/K))' : \
    m eq 'path_rmse' ? 'coupled pathwise RMSE' : m
# y-axis label (at most about 22 characters: it must fit the plot height)
metric_axis(m) = \
    m eq 'law_w2'    ? 'W_2 between the laws' : \
    m eq 'path_rmse' ? 'pathwise RMS error' : \
    m eq 'kl'        ? 'KL(sampler ‖ target)' : \
    m eq 'w2'        ? 'W_2 to the target' : \
    m eq 'tv'        ? 'TV to the target' : \
    m eq 'mmd'       ? 'MMD to the target' : \
    m eq 'w2_marg' || m eq 'sw2' ? metric_label(m) . ' to target' : \
    metric_label(m)
# metric used when none is given: the first of these the file has
LB_METRIC_PREFERENCE = 'kl w2 w2_marg sw2 tv mmd mean_err cov_err modes'

# ---------------------------------------------------------------------------
# The CSV helper: a POSIX awk program (mawk suffices) kept here so each
# figure script stays a single self-contained gnuplot file.
# ---------------------------------------------------------------------------
$LB_AWK << EOD
# Reads the CSV files of plots/README.md and prints what one plot command
# needs, selected by -v mode=...; see the mode table in plots/README.md.
# POSIX awk (mawk is enough).  Contains no apostrophe: the program is
# passed to sh inside single quotes.
function die(msg) { printf "langbench plots: %s\n", msg > "/dev/stderr"; err = 1; exit 1 }
function csvsplit(s, f,   n, i, c, q, fld) {
    sub(/\r$/, "", s)
    if (index(s, "\"") == 0) return split(s, f, ",")
    n = 0; fld = ""; q = 0
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (q) {
            if (c != "\"") fld = fld c
            else if (substr(s, i + 1, 1) == "\"") { fld = fld c; i++ }
            else q = 0
        } else if (c == "\"") q = 1
        else if (c == ",") { f[++n] = fld; fld = "" }
        else fld = fld c
    }
    f[++n] = fld
    return n
}
function isnum(s) { return s ~ /^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$/ }
function need(names,   n, i, w) {
    n = split(names, w, " ")
    for (i = 1; i <= n; i++)
        if (!((FILENUM, w[i]) in col))
            die(FILENAME ": no column \"" w[i] "\" in the header (see plots/README.md)")
}
function v(name) { return F[col[FILENUM, name]] }
# an optional column: "" when the file has no such column
function vo(name) { return ((FILENUM, name) in col) ? F[col[FILENUM, name]] : "" }
function famrank(s) {
    s = tolower(s)
    return s == "lmc" ? 1 : s == "ulmc" ? 2 : s == "rlmc" ? 3 : s == "urlmc" ? 4 : \
           s == "plmc" ? 5 : s == "uplmc" ? 6 : 9
}
function knum(k) { return k == "" ? -1 : tolower(k) ~ /^[+]?inf/ ? 1e300 : k + 0 }
# series order: family, K, option, gamma, then step (dw only)
function before(a, b,   x, y) {
    split(a, x, SUBSEP); split(b, y, SUBSEP)
    if (famrank(x[1]) != famrank(y[1])) return famrank(x[1]) < famrank(y[1])
    if (x[1] != y[1]) return x[1] < y[1]
    if (knum(x[2]) != knum(y[2])) return knum(x[2]) < knum(y[2])
    if (x[3] + 0 != y[3] + 0) return x[3] + 0 < y[3] + 0
    if (x[4] + 0 != y[4] + 0) return x[4] + 0 < y[4] + 0
    return x[5] + 0 < y[5] + 0
}
# insertion sort of A[1..n] with before() or numerically (num = 1)
function sortkeys(A, n, num,   i, j, t) {
    for (i = 2; i <= n; i++) {
        t = A[i]
        for (j = i - 1; j >= 1 && (num ? t + 0 < A[j] + 0 : before(t, A[j])); j--) A[j + 1] = A[j]
        A[j + 1] = t
    }
}
function addkey(A, k) { if (!(("has" SUBSEP k) in A)) { A[A["n"] = A["n"] + 1] = k; A["has" SUBSEP k] = 1 } }
function label(k,   x, s) {
    split(k, x, SUBSEP)
    s = toupper(x[1])
    if (x[2] != "") s = s " K=" (knum(x[2]) == 1e300 ? "∞" : x[2])
    if (x[3] != "" && anyopt2) s = s ", opt. " x[3]
    if (x[4] != "") s = s ", γ=" x[4]
    return s
}
function steplabel(k,   x) {
    split(k, x, SUBSEP)
    return label(k) ", " (tolower(x[1]) ~ /plmc$/ ? "α" : "h") "=" x[5]
}
function quoted(A, i, n,   s) {
    for (i = 1; i <= A["n"]; i++) s = s (i > 1 ? " " : "") "\"" A[i] "\""
    return s
}
function flr(x) { return x == int(x) ? x : (x < 0 ? int(x) - 1 : int(x)) }
# ": 1.51 +- 0.03", with as many decimals as the first significant digit
# of the standard error needs (1 to 3)
function fmtslope(s, e,   d) {
    if (!isnum(s)) return ""
    if (!isnum(e)) return sprintf(": %.2f", s)
    d = (e > 0) ? -flr(log(e) / log(10)) : 2
    d = d < 1 ? 1 : d > 3 ? 3 : d
    return sprintf(": %." d "f ± %." d "f", s, e)
}

BEGIN {
    SUBSEP = "\034"; FILENUM = 0
    tidy = (mode == "targets" || mode == "metrics" || mode == "titles" || mode == "data" || mode == "floor")
    if (tidy) { pass1 = hasrates ? 2 : 1; pass2 = pass1 + 1 }
}
FNR == 1 {
    FILENUM++
    n = csvsplit($0, F)
    sub(/^\357\273\277/, "", F[1])
    for (i = 1; i <= n; i++) col[FILENUM, F[i]] = i
    if (tidy && hasrates && FILENUM == 1)
        need("target sampler K option gamma metric against slope slope_stderr")
    else if (tidy) need("target sampler K option gamma step seed record_step nfe_mean metric estimate stderr floor")
    else if (mode ~ /^r8/) need("sampler K step x y")
    else if (mode ~ /^(grid|gridrange|levels)$/) need("x y density")
    else if (mode ~ /^dw/ && FILENUM == 1) need("sampler K step chain time x1")
    else if (mode ~ /^dw/) need("sampler K step time frac_left frac_left_stderr exact_left")
    next
}
{ csvsplit($0, F) }

# ---- tidy results and rate fits ------------------------------------------
tidy && hasrates && FILENUM == 1 {
    k = v("target") SUBSEP v("sampler") SUBSEP v("K") SUBSEP v("option") SUBSEP v("gamma") SUBSEP v("metric") SUBSEP v("against")
    SLOPE[k] = v("slope"); SLOPESE[k] = v("slope_stderr")
    next
}
mode == "targets" { addkey(T, v("target")); next }
mode == "metrics" { if (v("target") == target) addkey(T, v("metric")); next }
tidy && (v("target") != target || v("metric") != metric) { next }
tidy {
    ser = v("sampler") SUBSEP v("K") SUBSEP v("option") SUBSEP v("gamma")
    cell = ser SUBSEP v("step") SUBSEP v("seed")
    rec = v("record_step") + 0
}
tidy && FILENUM == pass1 { if (!(cell in MAXREC) || rec > MAXREC[cell]) MAXREC[cell] = rec; next }
tidy && FILENUM == pass2 && rec == MAXREC[cell] {
    addkey(S, ser)
    if (v("option") == "2") anyopt2 = 1
    g = ser SUBSEP (v("step") + 0)
    if (!((g) in N)) { NX[ser]++; X[ser, NX[ser]] = v("step") + 0 }
    N[g]++
    e = v("estimate"); se = v("stderr"); fl = v("floor")
    if (!isnum(e)) BAD[g] = 1
    else { SUM[g] += e; SUM2[g] += e * e }
    if (isnum(se)) SE2[g] += se * se; else NOSE[g] = 1
    if (isnum(v("nfe_mean"))) NFE[g] += v("nfe_mean")
    if (isnum(fl) && fl > 0) { FSUM += fl; FN++ }
    next
}

# ---- ring8 samples and density grid -------------------------------------
mode ~ /^r8/ {
    k = v("sampler") SUBSEP v("K") SUBSEP vo("option") SUBSEP vo("gamma")
    if (vo("option") == "2") anyopt2 = 1
    if (mode == "r8titles") { addkey(S, k); next }
    if (mode == "r8steps") { addkey(T, v("step") + 0); next }
    addkey(S, k)
    if (v("step") + 0 != step + 0) next
    P[k, ++NP[k]] = v("x") SUBSEP v("y")
    next
}
mode == "grid" {
    if (NR > 2 && v("x") != lastx) print ""
    lastx = v("x"); print v("x"), v("y"), v("density")
    next
}
mode == "gridrange" || mode == "levels" {
    px = v("x") + 0; py = v("y") + 0; d = v("density") + 0
    if (!seen++) { x0 = x1 = px; y0 = y1 = py }
    if (px < x0) x0 = px; if (px > x1) x1 = px; if (py < y0) y0 = py; if (py > y1) y1 = py
    D[++ND] = d; DTOT += d; if (d > DMAX) DMAX = d
    next
}

# ---- double well ----------------------------------------------------------
mode ~ /^dw/ {
    k = v("sampler") SUBSEP v("K") SUBSEP vo("option") SUBSEP vo("gamma") SUBSEP v("step")
    if (vo("option") == "2") anyopt2 = 1
    addkey(S, k)
    if (FILENUM == 1) { c = v("chain"); if (!((k, c) in NT)) { NC[k]++; CH[k, NC[k]] = c }; TR[k, c, ++NT[k, c]] = v("time") " " v("x1") }
    else { FR[k, ++NFR[k]] = v("time") " " v("frac_left") " " v("frac_left_stderr"); if (EXACT == "") EXACT = v("exact_left") }
    next
}

END {
    if (err) exit 1
    if (mode == "targets" || mode == "metrics") { print quoted(T); exit 0 }
    if (mode == "r8steps") { n = T["n"]; sortkeys(T, n, 1); for (i = 1; i <= n; i++) printf "%s%s", (i > 1 ? " " : ""), T[i]; print ""; exit 0 }
    n = S["n"]; sortkeys(S, n, 0)
    if (mode == "titles" || mode == "r8titles" || mode == "dwtitles") {
        for (i = 1; i <= n; i++) {
            k = S[i]
            if (mode == "dwtitles") t = steplabel(k)
            else if (mode == "r8titles") t = label(k)
            else {
                r = target SUBSEP k SUBSEP metric SUBSEP against
                t = label(k) fmtslope(SLOPE[r], SLOPESE[r])
            }
            printf "%s\"%s\"", (i > 1 ? " " : ""), t
        }
        print ""; exit 0
    }
    if (mode == "floor") { print FN ? FSUM / FN : "NaN"; exit 0 }
    if (mode == "data") {
        if (series < 1 || series > n) exit 0
        k = S[series]; m = NX[k]
        for (i = 1; i <= m; i++) XS[i] = X[k, i]
        sortkeys(XS, m, 1)
        for (i = 1; i <= m; i++) {
            g = k SUBSEP XS[i]
            if (g in BAD) { if (warn) printf "langbench plots: %s, %s, step %s: non-finite estimate, point dropped\n", label(k), metric, XS[i] > "/dev/stderr"; continue }
            mean = SUM[g] / N[g]
            if (mean <= 0) continue
            if (!(g in NOSE)) se = sqrt(SE2[g]) / N[g]
            else if (N[g] > 1) { s2 = (SUM2[g] - N[g] * mean * mean) / (N[g] - 1); se = sqrt(s2 > 0 ? s2 : 0) / sqrt(N[g]) }
            else se = 0
            printf "%.10g %.10g %.10g %d\n", (xaxis == "nfe" ? NFE[g] / N[g] : XS[i]), mean, se, N[g]
        }
        exit 0
    }
    if (mode == "r8panel" || mode == "r8outside") {
        if (series < 1 || series > n) exit 0
        k = S[series]; out = 0
        for (i = 1; i <= NP[k]; i++) {
            split(P[k, i], x, SUBSEP)
            if (mode == "r8panel") print x[1], x[2]
            else if (x[1] < xmin || x[1] > xmax || x[2] < ymin || x[2] > ymax) out++
        }
        if (mode == "r8outside") print NP[k] ? out / NP[k] : 0
        exit 0
    }
    if (mode == "grid") exit 0
    if (mode == "gridrange") { print x0, x1, y0, y1; exit 0 }
    if (mode == "levels") {
        # density thresholds of the highest-density regions holding each
        # mass in "masses", by bisection on the threshold
        nm = split(masses, M, " "); s = ""
        for (j = 1; j <= nm; j++) {
            lo = 0; hi = DMAX
            for (it = 0; it < 60; it++) {
                mid = (lo + hi) / 2; mass = 0
                for (i = 1; i <= ND; i++) if (D[i] >= mid) mass += D[i]
                if (mass / DTOT > M[j]) lo = mid; else hi = mid
            }
            s = s (j > 1 ? "," : "") sprintf("%.6g", lo)
        }
        print s; exit 0
    }
    if (mode == "dwtraj" || mode == "dwfrac") {
        if (series < 1 || series > n) exit 0
        k = S[series]
        if (mode == "dwfrac") { for (i = 1; i <= NFR[k]; i++) print FR[k, i]; exit 0 }
        for (c = 1; c <= NC[k]; c++) {
            if (c > 1) print ""
            for (i = 1; i <= NT[k, CH[k, c]]; i++) print TR[k, CH[k, c], i]
        }
        exit 0
    }
    if (mode == "dwexact") { print (EXACT == "" ? "NaN" : EXACT); exit 0 }
    die("unknown mode " mode)
}
EOD

LB_PROG = ''
do for [i = 1:|$LB_AWK|] { LB_PROG = LB_PROG . $LB_AWK[i] . "\n" }
if (strstrt(LB_PROG, "'") > 0) {
    print "plots/common.gp: the awk helper must not contain an apostrophe"
    exit status 1
}
q(s) = "'" . s . "'"
LB(args, files) = "< awk " . args . " '" . LB_PROG . "' " . files
LBS(args, files) = system("awk " . args . " '" . LB_PROG . "' " . files)
LB_DIE = "if (GPVAL_SYSTEM_ERRNO != 0) { exit status 1 }"
lb_readable(f) = int(system("test -r " . q(f) . " && echo 1 || echo 0"))
# a round tic step near r: 1, 2 or 5 times a power of ten
lb_nice(r) = (r <= 0 || r != r) ? 1 : 10.0**floor(log10(r)) * lb_mant(r / 10.0**floor(log10(r)))
lb_mant(m) = m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10
