#!/bin/sh
# synthetic-figure-data.sh OUTDIR -- a tiny synthetic data set in every
# figure input format (plots/README.md), with known rates, so the plot
# scripts can be tested without running any experiment.
#
# Part of langbench.  GPL-3.0-or-later.
#
# Writes into OUTDIR (created if needed), with the file names that
# scripts/figures.sh looks for:
#   bias_gaussian.csv      bias_gaussian_rates.csv      (figure 1)
#   bias_mixtures.csv      bias_mixtures_rates.csv      (figure 1)
#   speedup.csv            speedup_rates.csv            (figure 2)
#   plmc_vs_fine_lmc.csv   plmc_vs_fine_lmc_rates.csv   (figure 5)
#   ring8_samples.csv      ring8_density.csv            (figure 3)
#   double_well_trajectories.csv  double_well_fractions.csv  (figure 4)
#
# Known rates at the final record (error = c * step^p times a few per
# cent of deterministic noise): lmc p = 1, rlmc p = 1.5, plmc p = 1.5 for
# distances (w2, w2_marg, sw2, mean_err, modes, path_rmse), twice that for
# kl; law_w2 p = 2.  Against gradient evaluations the slope is -p.
# Nothing here is a simulation of the real samplers, except the double
# well, which is plain Euler-Maruyama on F(x) = (x^2 - 1)^2 - 0.25 x.
# Deterministic: the same files on every run (awk srand with fixed seeds).
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
out=$1
mkdir -p "$out"
AWK=${AWK:-awk}

# ---------------------------------------------------------------------------
# Tidy results + rate fits.  $1 = file stem, $2 = seed; the awk program
# reads its sweep description from -v variables.
# ---------------------------------------------------------------------------
tidy() {
    stem=$1; shift
    "$AWK" -v results="$out/$stem.csv.part" -v rates="$out/${stem}_rates.csv.part" "$@" '
    function pw(x, p) { return exp(p * log(x)) }
    function noise() { return 1 + 0.06 * (2 * rand() - 1) }
    # rate of a metric for a sampler family
    function rate(s, m,   p) {
        if (m == "law_w2") return 2
        p = (s == "lmc") ? 1 : 1.5
        return (m == "kl") ? 2 * p : p
    }
    function fit(key, against,   i, n, sx, sy, sxx, sxy, x, y, b, a, r, rss, se) {
        n = npts[key]; sx = sy = sxx = sxy = 0
        for (i = 1; i <= n; i++) {
            x = log(against == "step" ? PX[key, i] : PN[key, i]); y = log(PY[key, i])
            sx += x; sy += y; sxx += x * x; sxy += x * y
        }
        b = (n * sxy - sx * sy) / (n * sxx - sx * sx); a = (sy - b * sx) / n
        rss = 0
        for (i = 1; i <= n; i++) {
            x = log(against == "step" ? PX[key, i] : PN[key, i]); y = log(PY[key, i])
            r = y - a - b * x; rss += r * r
        }
        se = (n > 2) ? sqrt(rss / (n - 2) / (sxx - sx * sx / n)) : 0
        printf "%s,%s,%.6g,%.6g,%.6g,%d\n", key, against, b, se, a, n > rates
    }
    BEGIN {
        srand(seed)
        nt = split(targets, T, " "); ns = split(samplers, S, " ")
        nm = split(metrics, M, " "); nh = split(steps, H, " ")
        nseed = 2; horizon = 20
        print "target,sampler,K,option,gamma,step,seed,steps,record_step,time,nfe_mean,metric,estimate,stderr,floor" > results
        print "target,sampler,K,option,gamma,metric,against,slope,slope_stderr,intercept,points" > rates
        for (t = 1; t <= nt; t++) for (s = 1; s <= ns; s++) {
            # sampler spec: family/K/option, e.g. plmc/16/1, lmc//
            split(S[s], f, "/"); fam = f[1]; K = f[2]; opt = f[3]
            nfe1 = (fam == "lmc") ? 1 : (fam == "rlmc") ? 2 : (K == "inf") ? 2 : 2 - 1 / K
            for (m = 1; m <= nm; m++) {
                key = T[t] "," fam "," K "," opt "," "" "," M[m]
                c = (fam == "lmc") ? 0.6 : (fam == "rlmc") ? 0.5 : (K == "inf") ? 0.3 : 0.35
                if (opt == 2) c *= 1.2
                if (M[m] == "path_rmse") c *= 0.3 * sqrt(K)
                if (M[m] == "law_w2") c *= 10 / sqrt(K)
                floor0 = (M[m] == "kl") ? 2e-5 : (M[m] == "law_w2") ? 2e-5 : 3e-4
                for (h = 1; h <= nh; h++) {
                    step = H[h]; nsteps = int(horizon / step + 0.5)
                    bias = c * pw(step, rate(fam, M[m]))
                    mean = 0; mnfe = 0
                    for (sd = 1; sd <= nseed; sd++) {
                        for (r = 1; r <= 3; r++) {
                            rec = (r == 1) ? int(nsteps / 4) : (r == 2) ? int(nsteps / 2) : nsteps
                            time = rec * step
                            est = (bias + 0.5 * exp(-time)) * noise()
                            nfe = rec * nfe1
                            printf "%s,%s,%s,%s,,%.6g,%d,%d,%d,%.6g,%.6g,%s,%.6g,%.6g,%.3g\n", \
                                T[t], fam, K, opt, step, sd, nsteps, rec, time, nfe, \
                                M[m], est, 0.04 * est + 0.3 * floor0, floor0 * (0.9 + 0.2 * rand()) > results
                        }
                        mean += est / nseed; mnfe += nfe / nseed
                    }
                    npts[key]++; PX[key, npts[key]] = step; PN[key, npts[key]] = mnfe
                    PY[key, npts[key]] = mean
                }
                fit(key, "step"); fit(key, "nfe")
            }
        }
    }'
    mv "$out/$stem.csv.part" "$out/$stem.csv"
    mv "$out/${stem}_rates.csv.part" "$out/${stem}_rates.csv"
}

tidy bias_gaussian -v seed=1 -v targets="gaussian" \
    -v samplers="lmc// rlmc// plmc/16/1 plmc/16/2 plmc/inf/1" \
    -v metrics="w2 kl mean_err cov_err" -v steps="0.01 0.02 0.04 0.08 0.16 0.32"
tidy bias_mixtures -v seed=2 -v targets="ring8 twomodes double_well" \
    -v samplers="lmc// rlmc// plmc/16/1 plmc/inf/1" \
    -v metrics="w2 w2_marg sw2 kl modes" -v steps="0.01 0.02 0.04 0.08 0.16"
tidy speedup -v seed=3 -v targets="twomodes double_well" \
    -v samplers="lmc// rlmc// plmc/64/1 plmc/inf/1" \
    -v metrics="w2 kl tv" -v steps="0.005 0.01 0.02 0.04 0.08 0.16"
tidy plmc_vs_fine_lmc -v seed=4 -v targets="double_well" \
    -v samplers="plmc/4/1 plmc/16/1 plmc/64/1" \
    -v metrics="law_w2 path_rmse" -v steps="0.01 0.02 0.04 0.08 0.16"

# ---------------------------------------------------------------------------
# ring8: 8 unit-weight Gaussians (sd 0.35) on a circle of radius 3.
# Samples: the target's law with its spread inflated by the step (more for
# lmc than plmc) and the mode weights tilted; 1500 points per (sampler, step).
# ---------------------------------------------------------------------------
"$AWK" -v samples="$out/ring8_samples.csv.part" -v density="$out/ring8_density.csv.part" '
BEGIN {
    srand(5); pi = atan2(0, -1); R = 3; sd = 0.35
    print "sampler,K,step,x,y" > samples
    ns = split("lmc// plmc/16", S, " "); nh = split("0.05 0.2 0.5", H, " ")
    for (s = 1; s <= ns; s++) for (h = 1; h <= nh; h++) {
        split(S[s], f, "/")
        infl = (f[1] == "lmc") ? 1 + 3 * H[h] : 1 + 0.6 * H[h]
        for (i = 0; i < 1500; i++) {
            u = rand()
            k = int(8 * (u < 0.5 ? u : u * u) * 2) % 8     # unequal weights
            if (f[1] != "lmc" || H[h] < 0.1) k = int(8 * rand())
            z1 = sqrt(-2 * log(1 - rand())) * cos(2 * pi * rand())
            z2 = sqrt(-2 * log(1 - rand())) * cos(2 * pi * rand())
            printf "%s,%s,%s,%.5f,%.5f\n", f[1], f[2], H[h], \
                R * cos(2 * pi * k / 8) + sd * infl * z1, R * sin(2 * pi * k / 8) + sd * infl * z2 > samples
        }
    }
    print "x,y,density" > density
    for (i = 0; i <= 100; i++) for (j = 0; j <= 100; j++) {
        x = -5 + 10 * i / 100; y = -5 + 10 * j / 100; p = 0
        for (k = 0; k < 8; k++) {
            dx = x - R * cos(2 * pi * k / 8); dy = y - R * sin(2 * pi * k / 8)
            p += exp(-(dx * dx + dy * dy) / (2 * sd * sd)) / (8 * 2 * pi * sd * sd)
        }
        printf "%.4f,%.4f,%.6g\n", x, y, p > density
    }
}'
mv "$out/ring8_samples.csv.part" "$out/ring8_samples.csv"
mv "$out/ring8_density.csv.part" "$out/ring8_density.csv"

# ---------------------------------------------------------------------------
# Double well F(x) = (x^2 - 1)^2 - 0.25 x, all chains started at x = -1.
# Euler-Maruyama at step h; "plmc" is stood in for by LMC at step h/4.
# ---------------------------------------------------------------------------
"$AWK" -v traj="$out/double_well_trajectories.csv.part" -v frac="$out/double_well_fractions.csv.part" '
function grad(x) { return 4 * x * (x * x - 1) - 0.25 }
function F(x) { return (x * x - 1) * (x * x - 1) - 0.25 * x }
function gauss() { return sqrt(-2 * log(1 - rand())) * cos(2 * pi * rand()) }
BEGIN {
    srand(6); pi = atan2(0, -1); T = 40; nch = 400
    # exact weight of x < 0 by the midpoint rule on [-4, 4]
    zl = zr = 0
    for (i = 0; i < 8000; i++) { x = -4 + (i + 0.5) * 0.001; w = exp(-F(x)); if (x < 0) zl += w; else zr += w }
    exact = zl / (zl + zr)
    print "sampler,K,step,chain,time,x1" > traj
    print "sampler,K,step,time,frac_left,frac_left_stderr,exact_left" > frac
    ns = split("lmc//0.1 plmc/16/0.1", S, " ")
    for (s = 1; s <= ns; s++) {
        split(S[s], f, "/"); step = f[3]
        sub_n = (f[1] == "lmc") ? 1 : 4; h = step / sub_n
        nrec = int(T / 0.5 + 0.5)
        for (c = 0; c < nch; c++) X[c] = -1
        for (r = 0; r <= nrec; r++) {
            if (r > 0) for (c = 0; c < nch; c++) for (n = 0; n < 5 * sub_n; n++)
                X[c] += -h * grad(X[c]) + sqrt(2 * h) * gauss()
            left = 0
            for (c = 0; c < nch; c++) { if (X[c] < 0) left++; if (c < 4) printf "%s,%s,%s,%d,%.4g,%.5f\n", f[1], f[2], step, c, r * 0.5, X[c] > traj }
            p = left / nch
            if (r % 2 == 0)
                printf "%s,%s,%s,%.4g,%.5f,%.5f,%.6f\n", f[1], f[2], step, r * 0.5, p, sqrt(p * (1 - p) / nch), exact > frac
        }
    }
}'
mv "$out/double_well_trajectories.csv.part" "$out/double_well_trajectories.csv"
mv "$out/double_well_fractions.csv.part" "$out/double_well_fractions.csv"
