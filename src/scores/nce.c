/* nce (Tran et al. 2019, "Transferability and hardness of supervised classification tasks"):
 * z_i = argmax_s theta_is (first maximum on ties); from the empirical joint P(y,z) of counts / N,
 * NCE = -H(Y|Z) = sum_{y,z} P(y,z) log(P(y,z) / P(z)). Higher is better (at most 0). */
#include <math.h>
#include <stdlib.h>

#include "scores_internal.h"

int xfer_metric_nce(const xfer_metric_input *in, const xfer_metric_params *p,
                    xfer_metric_result *out, xfer_err *err) {
    (void)p;
    const int n = in->n, cs = in->cs, ct = in->ct;
    long *joint = calloc((size_t)ct * cs, sizeof *joint), *cz = calloc((size_t)cs, sizeof *cz);
    if (!joint || !cz) {
        free(joint);
        free(cz);
        return XFER_OOM(err);
    }
    for (int i = 0; i < n; i++) {
        const double *t = in->probs + (size_t)i * cs;
        int z = 0;
        for (int k = 1; k < cs; k++)
            if (t[k] > t[z]) z = k;
        joint[(size_t)in->labels[i] * cs + z]++;
        cz[z]++;
    }
    double h = 0;
    for (int y = 0; y < ct; y++)
        for (int z = 0; z < cs; z++) {
            long c = joint[(size_t)y * cs + z];
            if (c > 0) h += (double)c / n * log((double)c / (double)cz[z]);
        }
    free(joint);
    free(cz);
    out->value = h;
    return XFER_OK;
}
