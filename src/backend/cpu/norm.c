/* Batch normalisation over NHWC activations viewed as m rows of c channels. Statistics are summed
 * in double over fixed chunks of rows (independent of the thread count); see include/xfer/backend.h
 * for the torch semantics (biased variance to normalise, unbiased for running_var). */
#include <math.h>
#include <stdlib.h>

#include "cpu_ops.h"
#include "reduce.h"

/* Rows [lo, hi) of channel_sums into the chunk's partials p; mode 2 masks dy where relu_y <= 0
 * (relu_y NULL: no mask). */
static XFER_CPU_CLONES void sum_rows(size_t lo, size_t hi, int c, const float *x, const float *dy,
                                     const float *relu_y, const float *mean, const float *invstd,
                                     int mode, double *p) {
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
        } else if (relu_y) {
            const float *g = dy + i * c, *yr = relu_y + i * c;
            for (int j = 0; j < c; j++) {
                float gj = g[j];
                gj = yr[j] > 0.0f ? gj : 0.0f;
                p[j] += gj;
                p[c + j] += (double)gj * (((double)xr[j] - mean[j]) * invstd[j]);
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

/* Per-channel sums of f(x) over the m rows, in double over fixed chunks of rows (reduce.h), so the
 * result does not depend on the thread count. mode 0: x; 1: (x-mean)^2; 2: dy and dy*xhat into
 * two halves (2c values), dy masked by relu_y > 0 unless relu_y is NULL. Returns the totals (free
 * with free()), NULL on out of memory. */
static double *channel_sums(xfer_backend *b, int m, int c, const float *x, const float *dy,
                            const float *relu_y, const float *mean, const float *invstd, int mode) {
    int width = mode == 2 ? 2 * c : c;
    xfer_chunk_sums s;
    if (!xfer_chunk_sums_init(&s, (size_t)m, width)) {
        xfer_cpu_record_oom(b, s.chunks * width * sizeof(double), "batch-norm statistics");
        return NULL;
    }
#pragma omp parallel for schedule(static)
    for (size_t q = 0; q < s.chunks; q++) {
        size_t lo, hi;
        xfer_chunk_range(&s, q, &lo, &hi);
        sum_rows(lo, hi, c, x, dy, relu_y, mean, invstd, mode, s.part + q * width);
    }
    xfer_chunk_sums_combine(&s);
    return s.part;
}

/* Rows [lo, hi) of y = (x - mean) * invstd * gamma + beta. */
static XFER_CPU_CLONES void normalize_rows(int lo, int hi, int c, const float *x,
                                           const float *gamma, const float *beta, const float *mean,
                                           const float *invstd, float *y) {
    for (int i = lo; i < hi; i++) {
        const float *xr = x + (size_t)i * c;
        float *yr = y + (size_t)i * c;
        for (int j = 0; j < c; j++)
            yr[j] = (xr[j] - mean[j]) * invstd[j] * gamma[j] + beta[j];
    }
}

/* Blocks of rows per parallel loop: a function of m only (the arithmetic never depends on it). */
#define NORM_BLOCK 64

static void normalize(int m, int c, const float *x, const float *gamma, const float *beta,
                      const float *mean, const float *invstd, float *y) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < m; i += NORM_BLOCK)
        normalize_rows(i, i + NORM_BLOCK < m ? i + NORM_BLOCK : m, c, x, gamma, beta, mean, invstd,
                       y);
}

void xfer_cpu_bn_forward_train(xfer_backend *b, int m, int c, const float *x, const float *gamma,
                               const float *beta, float *running_mean, float *running_var,
                               float momentum, float eps, float *y, float *save_mean,
                               float *save_invstd) {
    double *s = channel_sums(b, m, c, x, NULL, NULL, NULL, NULL, 0);
    if (!s) return;
    for (int j = 0; j < c; j++)
        save_mean[j] = (float)(s[j] / m);
    free(s);
    s = channel_sums(b, m, c, x, NULL, NULL, save_mean, NULL, 1);
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

/* Rows [lo, hi) of dx = k1 * (g - k2 - xhat * k3), g = dy masked where relu_y <= 0 (relu_y NULL:
 * g = dy); added to dx when acc. */
static XFER_CPU_CLONES void bn_dx_rows(int lo, int hi, int c, const float *x, const float *dy,
                                       const float *relu_y, const float *mean, const float *invstd,
                                       const float *k1, const float *k2, const float *k3, int acc,
                                       float *dx) {
    for (int i = lo; i < hi; i++) {
        const float *xr = x + (size_t)i * c, *g = dy + (size_t)i * c;
        const float *yr = relu_y ? relu_y + (size_t)i * c : NULL;
        float *o = dx + (size_t)i * c;
        if (yr && acc) {
            for (int j = 0; j < c; j++) {
                float xhat = (xr[j] - mean[j]) * invstd[j], gj = g[j];
                gj = yr[j] > 0.0f ? gj : 0.0f;
                o[j] = o[j] + k1[j] * (gj - k2[j] - xhat * k3[j]);
            }
        } else if (yr) {
            for (int j = 0; j < c; j++) {
                float xhat = (xr[j] - mean[j]) * invstd[j], gj = g[j];
                gj = yr[j] > 0.0f ? gj : 0.0f;
                o[j] = k1[j] * (gj - k2[j] - xhat * k3[j]);
            }
        } else if (acc) {
            for (int j = 0; j < c; j++) {
                float xhat = (xr[j] - mean[j]) * invstd[j];
                o[j] = o[j] + k1[j] * (g[j] - k2[j] - xhat * k3[j]);
            }
        } else {
            for (int j = 0; j < c; j++) {
                float xhat = (xr[j] - mean[j]) * invstd[j];
                o[j] = k1[j] * (g[j] - k2[j] - xhat * k3[j]);
            }
        }
    }
}

void xfer_cpu_bn_relu_backward(xfer_backend *b, int m, int c, const float *x, const float *relu_y,
                               float *dy, const float *gamma, const float *save_mean,
                               const float *save_invstd, int batch_stats, int accumulate, float *dx,
                               float *dgamma, float *dbeta) {
    double *s = channel_sums(b, m, c, x, dy, relu_y, save_mean, save_invstd, 2);
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
    for (int i = 0; i < m; i += NORM_BLOCK)
        bn_dx_rows(i, i + NORM_BLOCK < m ? i + NORM_BLOCK : m, c, x, dy, relu_y, save_mean,
                   save_invstd, k1, k2, k3, accumulate, dx);
    free(k1);
}

void xfer_cpu_bn_backward(xfer_backend *b, int m, int c, const float *x, const float *dy,
                          const float *gamma, const float *save_mean, const float *save_invstd,
                          int batch_stats, float *dx, float *dgamma, float *dbeta) {
    /* dy is only read when there is no ReLU mask */
    xfer_cpu_bn_relu_backward(b, m, c, x, NULL, (float *)dy, gamma, save_mean, save_invstd,
                              batch_stats, 0, dx, dgamma, dbeta);
}
