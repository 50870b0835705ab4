/* What every report format needs: the metric and arch lists, the best-score marks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xfer/strset.h"
#include "report_internal.h"

int xfer_report_parse_format(const char *s, xfer_report_format *out) {
    if (!s || !strcmp(s, "md"))
        *out = XFER_REPORT_MD;
    else if (!strcmp(s, "csv"))
        *out = XFER_REPORT_CSV;
    else if (!strcmp(s, "json"))
        *out = XFER_REPORT_JSON;
    else
        return -1;
    return 0;
}

static void mark_best(report_view *v) {
    const xfer_results_data *d = v->d;
    for (size_t a = 0; a < v->n_archs; a++) {
        double best_acc = NAN;
        for (size_t i = 0; i < d->n_sources; i++)
            if (!strcmp(d->sources[i].arch, v->archs[a]) && isfinite(d->sources[i].best_test_acc) &&
                (isnan(best_acc) || d->sources[i].best_test_acc > best_acc))
                best_acc = d->sources[i].best_test_acc;
        for (size_t i = 0; i < d->n_sources; i++)
            if (!strcmp(d->sources[i].arch, v->archs[a]) && d->sources[i].best_test_acc == best_acc)
                v->best_acc[i] = 1;
        for (size_t k = 0; k < v->n_metrics; k++) {
            size_t m = 0;
            for (size_t i = 0; i < d->n_sources; i++) {
                const xfer_results_score *sc =
                    xfer_results_find_score(&d->sources[i], v->metrics[k]);
                if (!strcmp(d->sources[i].arch, v->archs[a]) && sc && isfinite(sc->value))
                    v->values[m++] = sc->value;
            }
            if (xfer_results_saturated(v->values, m)) {
                v->saturated[a * v->n_metrics + k] = 1;
                continue;
            }
            double best = NAN;
            for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < d->n_sources; i++) {
                    const xfer_results_source *s = &d->sources[i];
                    if (strcmp(s->arch, v->archs[a])) continue;
                    const xfer_results_score *sc = xfer_results_find_score(s, v->metrics[k]);
                    if (!sc || !isfinite(sc->value)) continue;
                    double o = sc->value * sc->direction;
                    if (pass == 0 && (isnan(best) || o > best)) best = o;
                    if (pass == 1 && o == best) v->best[i * v->n_metrics + k] = 1;
                }
        }
    }
}

int report_metric_index(const report_view *v, const char *name) {
    for (size_t k = 0; k < v->n_metrics; k++)
        if (!strcmp(v->metrics[k], name)) return (int)k;
    return -1;
}

int report_view_init(report_view *v, const xfer_results_data *d, xfer_err *err) {
    memset(v, 0, sizeof *v);
    v->d = d;
    int bad = 0;
    for (size_t i = 0; !bad && i < d->n_sources; i++) {
        const xfer_results_source *s = &d->sources[i];
        bad = xfer_strset_add(&v->archs, &v->n_archs, s->arch) < 0;
        for (size_t k = 0; !bad && k < s->n_scores; k++)
            bad = xfer_strset_add(&v->metrics, &v->n_metrics, s->scores[k].metric) < 0;
        if ((unsigned)s->status < XFER_SRC_N_STATUS) v->n_status[s->status]++;
    }
    v->n_done = v->n_status[XFER_SRC_DONE];
    if (!bad) {
        xfer_strset_sort(v->metrics, v->n_metrics);
        xfer_strset_sort(v->archs, v->n_archs);
        size_t ns = d->n_sources ? d->n_sources : 1, nm = v->n_metrics ? v->n_metrics : 1;
        v->direction = calloc(nm, sizeof *v->direction);
        v->best = calloc(ns * nm, 1);
        v->best_acc = calloc(ns, 1);
        v->baseline = calloc(nm, 1);
        v->saturated = calloc((v->n_archs ? v->n_archs : 1) * nm, 1);
        v->values = calloc(ns, sizeof *v->values);
        bad = !v->direction || !v->best || !v->best_acc || !v->baseline || !v->saturated ||
              !v->values;
    }
    if (bad) {
        report_view_free(v);
        return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    }
    for (size_t k = 0; k < v->n_metrics; k++) {
        v->direction[k] = 1;
        for (size_t i = 0; i < d->n_sources; i++) {
            const xfer_results_score *sc = xfer_results_find_score(&d->sources[i], v->metrics[k]);
            if (sc) {
                v->direction[k] = sc->direction;
                v->baseline[k] = sc->kind == XFER_SCORE_BASELINE;
                break;
            }
        }
    }
    mark_best(v);
    if (d->n_corr) {
        v->corr = d->corr;
        v->n_corr = d->n_corr;
    } else {
        int rc = xfer_results_compute_corr(d, &v->computed, &v->n_corr, err);
        if (rc) {
            report_view_free(v);
            return rc;
        }
        v->corr = v->computed;
    }
    return XFER_OK;
}

void report_view_free(report_view *v) {
    free(v->metrics);
    free(v->archs);
    free(v->direction);
    free(v->best);
    free(v->best_acc);
    free(v->baseline);
    free(v->saturated);
    free(v->values);
    xfer_results_corr_free(v->computed, v->computed ? v->n_corr : 0);
    memset(v, 0, sizeof *v);
}

int xfer_report_write(FILE *out, const xfer_results_data *d, const char *path,
                      xfer_report_format fmt, xfer_err *err) {
    return xfer_report_write_compare(out, d, path, NULL, NULL, fmt, err);
}

int xfer_report_write_compare(FILE *out, const xfer_results_data *d, const char *path,
                              const xfer_results_data *full, const char *full_path,
                              xfer_report_format fmt, xfer_err *err) {
    report_view v;
    int rc = report_view_init(&v, d, err);
    if (rc) return rc;
    v.full = full;
    v.full_path = full_path;
    if (fmt == XFER_REPORT_JSON)
        rc = report_json(out, &v, path, err);
    else if (fmt == XFER_REPORT_CSV)
        rc = report_csv(out, &v, path);
    else
        rc = report_md(out, &v, path);
    report_view_free(&v);
    if (rc == XFER_OK && (fflush(out) != 0 || ferror(out)))
        rc = xfer_fail(err, XFER_EINPUT, "error writing the report of %s", path);
    return rc;
}
