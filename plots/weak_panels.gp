# plots/weak_panels.gp -- panel choice of figures 1, 2 and 5 when the
# results have weak errors (issue 13).  Loaded after plots/common.gp by a
# figure script that has set LB_WEAK_PREFIXES (row-name prefixes in order
# of preference, '-' for none: 'avg: -' for time-averaged weak errors, else
# the final snapshot; 'avgdiff: diff:' for coupled differences) and LB_PANELS_REST
# (the panels that follow the weak one; may be empty).  Unless the caller
# gave `metric` or `metrics`, sets LB_METRICS to the weak error suited to
# the target, when the file has it, followed by LB_PANELS_REST:
#   ring8                  PREFIX weak:f=rad;c=16   ((|x|^2 - 16)^2)
#   double_well            PREFIX weak:f=rad;c=1, then ;c=2 (the 2-D wells)
#   anything else          PREFIX weak:f=x2, then PREFIX weak:f=rad;c=16
# (the first present); on the double well also PREFIX weak:f=x2 in a
# second panel when present (RLMC's rad;c=1 error changes sign near
# h = 0.024 in bias_mixtures; its x2 error is what resolves its rate).
# Part of langbench.  GPL-3.0-or-later.

if (!exists("metric") && !exists("metrics")) {
    if (!exists("target")) {
        target = word(LBS("-v mode=targets", q(in)), 1)
        eval LB_DIE
    }
    LB_HAVE = LBS("-v mode=metrics -v target=" . q(target), q(in))
    eval LB_DIE
    LB_WANT = strstrt(target, 'ring8') > 0 ? 'weak:f=rad;c=16' : \
              strstrt(target, 'double_well') > 0 ? 'weak:f=rad;c=1 weak:f=rad;c=2' : 'weak:f=x2 weak:f=rad;c=16'
    LB_WEAK = ''
    do for [w in LB_WANT] {
        do for [p in LB_WEAK_PREFIXES] {
            m = (p eq '-' ? '' : p) . w
            if (strlen(LB_WEAK) == 0 && strstrt(LB_HAVE, '"' . m . '"') > 0) { LB_WEAK = m }
        }
    }
    if (strlen(LB_WEAK) > 0 && strstrt(target, 'double_well') > 0) {
        LB_WEAK2 = ''
        do for [p in LB_WEAK_PREFIXES] {
            m = (p eq '-' ? '' : p) . 'weak:f=x2'
            if (strlen(LB_WEAK2) == 0 && strstrt(LB_HAVE, '"' . m . '"') > 0) { LB_WEAK2 = m }
        }
        if (strlen(LB_WEAK2) > 0 && !(LB_WEAK2 eq LB_WEAK)) { LB_WEAK = LB_WEAK . ' ' . LB_WEAK2 }
    }
    if (strlen(LB_WEAK) > 0) {
        LB_METRICS = LB_WEAK . (strlen(LB_PANELS_REST) > 0 ? ' ' . LB_PANELS_REST : '')
    }
}
