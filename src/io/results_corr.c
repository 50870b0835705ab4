/* Correlations between each metric's oriented score and the fine-tuning outcome (best_test_acc,
 * and curve_auc for the `_auc` fields), over the sources with status done: overall, then per arch.
 * Orientation (score x direction) makes a positive correlation always mean "ranked well". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results_internal.h"
#include "xfer/rankcorr.h"
#include "xfer/results.h"
#include "xfer/strset.h"

static void correlate(const double *x, const double *y, size_t n, double *v) {
    v[XFER_CORR_PEARSON] = xfer_pearson(x, y, n);
    v[XFER_CORR_SPEARMAN] = xfer_spearman(x, y, n);
    v[XFER_CORR_KENDALL] = xfer_kendall_tau_b(x, y, n);
    v[XFER_CORR_WEIGHTED_TAU] = xfer_weighted_tau(x, y, n);
    double gap;
    int hit = xfer_top1(x, y, n, &gap);
    v[XFER_CORR_TOP1_HIT] = hit < 0 ? NAN : hit;
    v[XFER_CORR_TOP1_GAP] = gap;
}

int xfer_results_saturated(const double *values, size_t n) {
    if (n < 2) return 0;
    double lo = values[0], hi = values[0];
    for (size_t i = 1; i < n; i++) {
        lo = values[i] < lo ? values[i] : lo;
        hi = values[i] > hi ? values[i] : hi;
    }
    double scale = fabs(hi) > fabs(lo) ? fabs(hi) : fabs(lo);
    return hi - lo <= XFER_SATURATION_RTOL * scale;
}

/* The bootstrap interval of kendall over the m sources used (results_boot.c). */
static int boot(const xfer_results_source *const *used, const double *x, size_t m,
                xfer_results_corr *c) {
    const double **acc = malloc((m ? m : 1) * sizeof *acc);
    size_t *n_acc = malloc((m ? m : 1) * sizeof *n_acc), total = 0;
    for (size_t i = 0; acc && n_acc && i < m; i++)
        total += used[i]->n_seeds ? used[i]->n_seeds : 1;
    double *vals = acc && n_acc ? malloc((total ? total : 1) * sizeof *vals) : NULL;
    int rc = -1;
    if (vals) {
        size_t off = 0;
        for (size_t i = 0; i < m; i++) {
            const xfer_results_source *s = used[i];
            int all = s->n_seeds > 0;
            for (size_t k = 0; k < s->n_seeds; k++)
                all = all && isfinite(s->seeds[k].best_test_acc);
            acc[i] = vals + off;
            if (all) { /* every fine-tune's best accuracy */
                for (size_t k = 0; k < s->n_seeds; k++)
                    vals[off++] = s->seeds[k].best_test_acc;
                n_acc[i] = s->n_seeds;
            } else { /* no per-seed curves with a finite accuracy: the source's value alone */
                vals[off++] = s->best_test_acc;
                n_acc[i] = 1;
            }
        }
        rc = res_boot_kendall(x, acc, n_acc, m, &c->kendall_lo, &c->kendall_hi, &c->n_boot);
    }
    free(vals);
    free(acc);
    free(n_acc);
    return rc;
}

static int corr_one(const xfer_results_data *d, const char *arch, const char *metric,
                    xfer_results_corr *c, double *buf) {
    size_t n = d->n_sources, m = 0, m2 = 0;
    double *x = buf, *y = buf + n, *x2 = buf + 2 * n, *y2 = buf + 3 * n;
    const xfer_results_source **used = malloc((n ? n : 1) * sizeof *used);
    if (!used) return -1;
    int direction = 0;
    for (size_t i = 0; i < n; i++) {
        const xfer_results_source *s = &d->sources[i];
        if (s->status != XFER_SRC_DONE || (arch && strcmp(s->arch, arch) != 0)) continue;
        const xfer_results_score *sc = xfer_results_find_score(s, metric);
        if (!sc || !isfinite(sc->value)) continue;
        if (!direction) direction = sc->direction;
        double o = sc->value * sc->direction;
        if (isfinite(s->best_test_acc)) {
            used[m] = s;
            x[m] = o;
            y[m++] = s->best_test_acc;
        }
        if (isfinite(s->curve_auc)) {
            x2[m2] = o;
            y2[m2++] = s->curve_auc;
        }
    }
    memset(c, 0, sizeof *c);
    c->direction = direction ? direction : 1;
    c->n = (int64_t)m;
    correlate(x, y, m, c->v);
    correlate(x2, y2, m2, c->v + XFER_CORR_N_BASE);
    int saturated = xfer_results_saturated(x, m) || xfer_results_saturated(x2, m2);
    if (saturated) {
        char why[160];
        snprintf(why, sizeof why, "does not discriminate: its %lld values differ by <= %g relative",
                 (long long)(m > m2 ? m : m2), XFER_SATURATION_RTOL);
        for (int k = 0; k < XFER_CORR_N; k++)
            c->v[k] = NAN;
        c->kendall_lo = c->kendall_hi = NAN;
        if (!(c->reason = malloc(strlen(why) + 1))) {
            free(used);
            return -1;
        }
        strcpy(c->reason, why);
    }
    int bad = saturated ? 0 : boot(used, x, m, c);
    free(used);
    if (bad) return -1;
    c->metric = malloc(strlen(metric) + 1);
    c->arch = arch ? malloc(strlen(arch) + 1) : NULL;
    if (!c->metric || (arch && !c->arch)) return -1;
    strcpy(c->metric, metric);
    if (arch) strcpy(c->arch, arch);
    return 0;
}

int xfer_results_compute_corr(const xfer_results_data *d, xfer_results_corr **out, size_t *n_out,
                              xfer_err *err) {
    *out = NULL;
    *n_out = 0;
    const char **metrics = NULL, **archs = NULL;
    size_t nm = 0, na = 0;
    int bad = 0;
    for (size_t i = 0; !bad && i < d->n_sources; i++) {
        const xfer_results_source *s = &d->sources[i];
        if (s->status != XFER_SRC_DONE) continue;
        bad = xfer_strset_add(&archs, &na, s->arch) < 0;
        for (size_t k = 0; !bad && k < s->n_scores; k++)
            bad = xfer_strset_add(&metrics, &nm, s->scores[k].metric) < 0;
    }
    size_t total = nm * (1 + na);
    xfer_results_corr *c = bad ? NULL : calloc(total ? total : 1, sizeof *c);
    double *buf = c ? malloc(4 * (d->n_sources ? d->n_sources : 1) * sizeof *buf) : NULL;
    size_t nc = 0;
    if (buf) {
        xfer_strset_sort(metrics, nm);
        xfer_strset_sort(archs, na);
        for (size_t a = 0; !bad && a <= na; a++)
            for (size_t k = 0; !bad && k < nm; k++)
                bad = corr_one(d, a == 0 ? NULL : archs[a - 1], metrics[k], &c[nc++], buf) < 0;
    }
    free(buf);
    free(metrics);
    free(archs);
    if (bad || !buf) {
        xfer_results_corr_free(c, nc);
        return xfer_fail(err, XFER_EINTERNAL, "out of memory computing the correlations");
    }
    *out = c;
    *n_out = nc;
    return XFER_OK;
}
