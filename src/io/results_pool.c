/* Pool-level scores (ncti, etran) in a results file: each source stores its raw terms; the value
 * is computed over the sources present whenever the file is read (report, correlations, merge),
 * so a sharded-then-merged study and an unsharded one get the same values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "results_internal.h"
#include "xfer/metrics.h"

int rr_pool_scores(xfer_results_data *d, xfer_err *err) {
    int n_def;
    const xfer_metric_def *defs = xfer_metric_table(&n_def);
    for (int m = 0; m < n_def; m++) {
        const xfer_metric_def *def = &defs[m];
        if (!def->pool) continue;
        size_t n = 0;
        for (size_t i = 0; i < d->n_sources; i++) {
            const xfer_results_score *s = xfer_results_find_score(&d->sources[i], def->name);
            if (s && s->n_terms == (size_t)def->n_terms) n++;
        }
        if (!n) continue;
        double *terms = malloc(n * def->n_terms * sizeof *terms);
        double *values = malloc(n * sizeof *values);
        xfer_results_score **who = malloc(n * sizeof *who);
        if (!terms || !values || !who) {
            free(terms);
            free(values);
            free(who);
            return xfer_fail(err, XFER_EINTERNAL, "out of memory");
        }
        size_t j = 0;
        for (size_t i = 0; i < d->n_sources; i++) {
            xfer_results_score *s =
                (xfer_results_score *)xfer_results_find_score(&d->sources[i], def->name);
            if (!s || s->n_terms != (size_t)def->n_terms) continue;
            memcpy(terms + j * def->n_terms, s->terms, def->n_terms * sizeof *terms);
            who[j++] = s;
        }
        xfer_err e2;
        int rc = xfer_metric_pool(def, terms, (int)n, values, &e2);
        for (j = 0; j < n; j++)
            who[j]->value = who[j]->mean = rc == XFER_OK ? values[j] : NAN;
        free(terms);
        free(values);
        free(who);
    }
    return XFER_OK;
}
