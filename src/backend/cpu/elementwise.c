/* ReLU, residual add and dropout. */
#include "cpu_ops.h"

void xfer_cpu_relu_forward(xfer_backend *b, size_t n, const float *x, float *y) {
    (void)b;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void xfer_cpu_relu_backward(xfer_backend *b, size_t n, const float *y, const float *dy, float *dx) {
    (void)b;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = dy[i]; /* read unconditionally: a select, so the loop vectorises */
        dx[i] = y[i] > 0.0f ? g : 0.0f;
    }
}

void xfer_cpu_add(xfer_backend *b, size_t n, const float *a, const float *c, float *y) {
    (void)b;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] + c[i];
}

void xfer_cpu_dropout_forward(xfer_backend *b, size_t n, float p, uint64_t seed, uint64_t offset,
                              const float *x, float *y, uint8_t *mask) {
    (void)b;
    const float scale = 1.0f / (1.0f - p);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        int keep = p <= 0.0f || xfer_dropout_uniform(seed, offset + i) >= p;
        mask[i] = (uint8_t)keep;
        y[i] = keep ? (p <= 0.0f ? x[i] : x[i] * scale) : 0.0f;
    }
}

void xfer_cpu_dropout_backward(xfer_backend *b, size_t n, float p, const uint8_t *mask,
                               const float *dy, float *dx) {
    (void)b;
    const float scale = p <= 0.0f ? 1.0f : 1.0f / (1.0f - p);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        dx[i] = mask[i] ? dy[i] * scale : 0.0f;
}
