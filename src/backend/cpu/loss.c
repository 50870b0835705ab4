/* Softmax, cross-entropy and the scoring helpers. Rows are small (k classes): serial in row order,
 * in double, so the loss is reproducible and stable (max subtracted before exp). */
#include <math.h>

#include "cpu_ops.h"

void xfer_cpu_softmax_xent(xfer_backend *b, int n, int k, const float *logits,
                           const int32_t *labels, float *loss, float *dlogits) {
    (void)b;
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * k;
        float mx = l[0];
        for (int j = 1; j < k; j++)
            mx = l[j] > mx ? l[j] : mx;
        double s = 0.0;
        for (int j = 0; j < k; j++)
            s += exp((double)l[j] - mx);
        double lse = log(s) + mx;
        total += lse - l[labels[i]];
        if (dlogits) {
            float *g = dlogits + (size_t)i * k;
            for (int j = 0; j < k; j++) {
                double p = exp((double)l[j] - lse);
                g[j] = (float)((p - (j == labels[i] ? 1.0 : 0.0)) / n);
            }
        }
    }
    loss[0] = (float)(total / n);
}

void xfer_cpu_softmax(xfer_backend *b, int n, int k, const float *logits, float *probs) {
    (void)b;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++) {
        const float *l = logits + (size_t)i * k;
        float *p = probs + (size_t)i * k;
        float mx = l[0];
        for (int j = 1; j < k; j++)
            mx = l[j] > mx ? l[j] : mx;
        double s = 0.0;
        for (int j = 0; j < k; j++)
            s += exp((double)l[j] - mx);
        for (int j = 0; j < k; j++)
            p[j] = (float)(exp((double)l[j] - mx) / s);
    }
}

static int32_t row_argmax(const float *l, int k) {
    int32_t best = 0;
    for (int j = 1; j < k; j++)
        if (l[j] > l[best]) best = j;
    return best;
}

void xfer_cpu_argmax(xfer_backend *b, int n, int k, const float *logits, int32_t *pred) {
    (void)b;
    for (int i = 0; i < n; i++)
        pred[i] = row_argmax(logits + (size_t)i * k, k);
}

void xfer_cpu_count_correct(xfer_backend *b, int n, int k, const float *logits,
                            const int32_t *labels, float *correct) {
    (void)b;
    int c = 0;
    for (int i = 0; i < n; i++)
        c += row_argmax(logits + (size_t)i * k, k) == labels[i];
    correct[0] += (float)c;
}
