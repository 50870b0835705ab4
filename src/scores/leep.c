/* leep (Nguyen et al. 2020, "LEEP: a new measure to evaluate transferability of learned
 * representations"): joint P(y,z) = (1/N) sum_{i: y_i = y} theta_iz, P(z) = sum_y P(y,z),
 * P(y|z) = P(y,z)/P(z); LEEP = (1/N) sum_i log sum_z P(y_i|z) theta_iz. Higher is better.
 * A source class with P(z) = 0 has theta_iz = 0 for every i and contributes nothing. */
#include <math.h>
#include <stdlib.h>

#include "scores_internal.h"

int xfer_leep_from_probs(const double *theta, int n, int c, const int *labels, int ct, double *out,
                         xfer_err *err) {
    double *joint = calloc((size_t)ct * c, sizeof *joint), *pz = calloc((size_t)c, sizeof *pz);
    double *term = malloc((size_t)(n > 0 ? n : 1) * sizeof *term); /* per-sample log terms */
    if (!joint || !pz || !term) {
        free(joint);
        free(pz);
        free(term);
        return XFER_OOM(err);
    }
    for (int i = 0; i < n; i++) {
        const double *t = theta + (size_t)i * c;
        double *j = joint + (size_t)labels[i] * c;
        for (int z = 0; z < c; z++)
            j[z] += t[z];
    }
    for (int y = 0; y < ct; y++)
        for (int z = 0; z < c; z++)
            pz[z] += joint[(size_t)y * c + z];
    /* joint now holds P(y|z) (the 1/N cancels). */
    for (int y = 0; y < ct; y++)
        for (int z = 0; z < c; z++)
            joint[(size_t)y * c + z] = pz[z] > 0 ? joint[(size_t)y * c + z] / pz[z] : 0;
    int bad = -1;
#pragma omp parallel for reduction(max : bad) schedule(static)
    for (int i = 0; i < n; i++) {
        const double *t = theta + (size_t)i * c, *py = joint + (size_t)labels[i] * c;
        double e = 0;
        for (int z = 0; z < c; z++)
            e += py[z] * t[z];
        term[i] = e > 0 ? log(e) : 0;
        if (!(e > 0)) bad = i > bad ? i : bad;
    }
    double sum = xfer_sum_ordered(term, (size_t)n);
    free(joint);
    free(pz);
    free(term);
    if (bad >= 0)
        return xfer_fail(err, XFER_EINPUT, "leep: expected empirical prediction of sample %d is 0",
                         bad);
    *out = sum / n;
    return XFER_OK;
}

int xfer_metric_leep(const xfer_metric_input *in, const xfer_metric_params *p,
                     xfer_metric_result *out, xfer_err *err) {
    (void)p;
    return xfer_leep_from_probs(in->probs, in->n, in->cs, in->labels, in->ct, &out->value, err);
}
