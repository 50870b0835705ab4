/* softmax_max (the paper, Sec. 3.1): sum over target images of the source model's largest softmax
 * probability; reported as the sum (as the paper did) and the mean. Higher is better. */
#include "scores_internal.h"

int xfer_metric_softmax_max(const xfer_metric_input *in, const xfer_metric_params *p,
                            xfer_metric_result *out, xfer_err *err) {
    (void)p;
    (void)err;
    double sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static)
    for (int i = 0; i < in->n; i++) {
        const double *t = in->probs + (size_t)i * in->cs;
        double mx = t[0];
        for (int k = 1; k < in->cs; k++)
            mx = t[k] > mx ? t[k] : mx;
        sum += mx;
    }
    out->value = sum;
    out->mean = sum / in->n;
    out->has_mean = 1;
    return XFER_OK;
}
