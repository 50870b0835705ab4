/* emd (the paper, Sec. 3.2): sum over target images of EMD(theta_i, onehot(y_i)) with ground
 * distance D[s,t] between source class s and target class t. With a one-hot target every unit of
 * mass must go to y_i, so the plan is forced and EMD(theta_i, delta_t) = sum_s theta_is D[s,t]
 * (theta_i normalised to mass 1). Sum (the paper) and mean reported. Lower is better. */
#include <stdlib.h>

#include "scores_internal.h"

int xfer_metric_emd(const xfer_metric_input *in, const xfer_metric_params *p,
                    xfer_metric_result *out, xfer_err *err) {
    (void)p;
    const int cs = in->cs, ct = in->ct;
    double *cost = malloc((size_t)(in->n > 0 ? in->n : 1) * sizeof *cost);
    if (!cost) return XFER_OOM(err);
    int bad = -1;
#pragma omp parallel for reduction(max : bad) schedule(static)
    for (int i = 0; i < in->n; i++) {
        const double *t = in->probs + (size_t)i * cs;
        const int y = in->labels[i];
        double c = 0, mass = 0;
        for (int s = 0; s < cs; s++) {
            c += t[s] * in->distance[(size_t)s * ct + y];
            mass += t[s];
        }
        cost[i] = mass > 0 ? c / mass : 0;
        if (mass <= 0) bad = i > bad ? i : bad;
    }
    double sum = xfer_sum_ordered(cost, (size_t)in->n);
    free(cost);
    if (bad >= 0) return xfer_fail(err, XFER_EINPUT, "emd: probs row %d has zero mass", bad);
    out->value = sum;
    out->mean = sum / in->n;
    out->has_mean = 1;
    return XFER_OK;
}
