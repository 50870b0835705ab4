/* softmax_max (the paper, Sec. 3.1): sum over target images of the source model's largest softmax
 * probability; reported as the sum (as the paper did) and the mean. Higher is better. */
#include <stdlib.h>

#include "scores_internal.h"

int xfer_metric_softmax_max(const xfer_metric_input *in, const xfer_metric_params *p,
                            xfer_metric_result *out, xfer_err *err) {
    (void)p;
    double *mx = malloc((size_t)(in->n > 0 ? in->n : 1) * sizeof *mx);
    if (!mx) return XFER_OOM(err);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < in->n; i++) {
        const double *t = in->probs + (size_t)i * in->cs;
        double m = t[0];
        for (int k = 1; k < in->cs; k++)
            m = t[k] > m ? t[k] : m;
        mx[i] = m;
    }
    double sum = xfer_sum_ordered(mx, (size_t)in->n);
    free(mx);
    out->value = sum;
    out->mean = sum / in->n;
    out->has_mean = 1;
    return XFER_OK;
}
