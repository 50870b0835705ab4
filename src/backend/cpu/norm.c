/* Batch normalisation over NHWC activations viewed as m rows of c channels. Statistics are summed
 * in double with per-thread partials (deterministic); see include/xfer/backend.h for the torch
 * semantics (biased variance to normalise, unbiased for running_var). */
#include <math.h>
#include <stdlib.h>

#include "cpu_ops.h"
#include "reduce.h"

/* part[t][0..c) += per-channel sums of f(x) over thread t's rows. mode 0: x; 1: (x-mean)^2;
 * 2: dy and dy*xhat into two halves (2c per thread). */
static double *channel_sums(xfer_backend *b, int m, int c, const float *x, const float *dy,
                            const float *mean, const float *invstd, int mode, int *used) {
    int T = XFER_MAX_THREADS();
    int width = mode == 2 ? 2 * c : c;
    double *part = calloc((size_t)T * width, sizeof(double));
    if (!part) {
        xfer_cpu_record_oom(b, (size_t)T * width * sizeof(double), "batch-norm statistics");
        return NULL;
    }
    *used = 1;
#pragma omp parallel num_threads(T)
    {
        int t = XFER_THREAD_ID(), nt = XFER_THREAD_COUNT();
        if (t == 0) *used = nt;
        size_t lo, hi;
        xfer_thread_range((size_t)m, t, nt, &lo, &hi);
        double *p = part + (size_t)t * width;
        for (size_t i = lo; i < hi; i++) {
            const float *xr = x + i * c;
            if (mode == 0) {
                for (int j = 0; j < c; j++)
                    p[j] += xr[j];
            } else if (mode == 1) {
                for (int j = 0; j < c; j++) {
                    double v = (double)xr[j] - mean[j];
                    p[j] += v * v;
                }
            } else {
                const float *g = dy + i * c;
                for (int j = 0; j < c; j++) {
                    p[j] += g[j];
                    p[c + j] += (double)g[j] * (((double)xr[j] - mean[j]) * invstd[j]);
                }
            }
        }
    }
    for (int t = 1; t < *used; t++)
        for (int j = 0; j < width; j++)
            part[j] += part[(size_t)t * width + j];
    return part;
}

static void normalize(int m, int c, const float *x, const float *gamma, const float *beta,
                      const float *mean, const float *invstd, float *y) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < m; i++) {
        const float *xr = x + (size_t)i * c;
        float *yr = y + (size_t)i * c;
        for (int j = 0; j < c; j++)
            yr[j] = (xr[j] - mean[j]) * invstd[j] * gamma[j] + beta[j];
    }
}

void xfer_cpu_bn_forward_train(xfer_backend *b, int m, int c, const float *x, const float *gamma,
                               const float *beta, float *running_mean, float *running_var,
                               float momentum, float eps, float *y, float *save_mean,
                               float *save_invstd) {
    int used;
    double *s = channel_sums(b, m, c, x, NULL, NULL, NULL, 0, &used);
    if (!s) return;
    for (int j = 0; j < c; j++)
        save_mean[j] = (float)(s[j] / m);
    free(s);
    s = channel_sums(b, m, c, x, NULL, save_mean, NULL, 1, &used);
    if (!s) return;
    for (int j = 0; j < c; j++) {
        double var = s[j] / m;
        save_invstd[j] = (float)(1.0 / sqrt(var + eps));
        double unbiased = m > 1 ? s[j] / (m - 1) : var;
        running_mean[j] = (1.0f - momentum) * running_mean[j] + momentum * save_mean[j];
        running_var[j] = (1.0f - momentum) * running_var[j] + momentum * (float)unbiased;
    }
    free(s);
    normalize(m, c, x, gamma, beta, save_mean, save_invstd, y);
}

void xfer_cpu_bn_forward_eval(xfer_backend *b, int m, int c, const float *x, const float *gamma,
                              const float *beta, const float *running_mean,
                              const float *running_var, float eps, float *y, float *save_mean,
                              float *save_invstd) {
    (void)b;
    for (int j = 0; j < c; j++) {
        save_mean[j] = running_mean[j];
        save_invstd[j] = (float)(1.0 / sqrt((double)running_var[j] + eps));
    }
    normalize(m, c, x, gamma, beta, save_mean, save_invstd, y);
}

void xfer_cpu_bn_backward(xfer_backend *b, int m, int c, const float *x, const float *dy,
                          const float *gamma, const float *save_mean, const float *save_invstd,
                          int batch_stats, float *dx, float *dgamma, float *dbeta) {
    int used;
    double *s = channel_sums(b, m, c, x, dy, save_mean, save_invstd, 2, &used);
    if (!s) return;
    float *k1 = malloc(sizeof(float) * 3 * (size_t)c);
    if (!k1) {
        free(s);
        xfer_cpu_record_oom(b, sizeof(float) * 3 * (size_t)c, "batch-norm backward");
        return;
    }
    float *k2 = k1 + c, *k3 = k2 + c;
    for (int j = 0; j < c; j++) {
        dbeta[j] += (float)s[j];
        dgamma[j] += (float)s[c + j];
        /* dx = gamma*invstd * (dy - mean(dy) - xhat * mean(dy*xhat)) with batch statistics,
         * dx = gamma*invstd * dy with constant (running) statistics. */
        k1[j] = gamma[j] * save_invstd[j];
        k2[j] = batch_stats ? (float)(s[j] / m) : 0.0f;
        k3[j] = batch_stats ? (float)(s[c + j] / m) : 0.0f;
    }
    free(s);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < m; i++) {
        const float *xr = x + (size_t)i * c, *g = dy + (size_t)i * c;
        float *o = dx + (size_t)i * c;
        for (int j = 0; j < c; j++) {
            float xhat = (xr[j] - save_mean[j]) * save_invstd[j];
            o[j] = k1[j] * (g[j] - k2[j] - xhat * k3[j]);
        }
    }
    free(k1);
}
