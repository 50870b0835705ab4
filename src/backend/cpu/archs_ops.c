/* Elementwise ops of the wider architectures: ReLU6 (MobileNetV2), the per-channel affine
 * (torchvision's transform_input) and the strided copy behind NHWC channel concatenation. */
#include <string.h>

#include "cpu_ops.h"

void xfer_cpu_relu6_forward(xfer_backend *b, size_t n, const float *x, float *y) {
    (void)b;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float v = x[i] > 0.0f ? x[i] : 0.0f;
        y[i] = v < 6.0f ? v : 6.0f;
    }
}

void xfer_cpu_relu6_backward(xfer_backend *b, size_t n, const float *y, const float *dy,
                             float *dx) {
    (void)b;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = dy[i], v = y[i]; /* no branch: the loop vectorises */
        dx[i] = (v > 0.0f) & (v < 6.0f) ? g : 0.0f;
    }
}

void xfer_cpu_channel_affine(xfer_backend *b, int m, int c, const float *x, const float *scale,
                             const float *shift, float *y) {
    (void)b;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < m; r++) {
        const float *xr = x + (size_t)r * c;
        float *yr = y + (size_t)r * c;
        for (int j = 0; j < c; j++)
            yr[j] = shift ? xr[j] * scale[j] + shift[j] : xr[j] * scale[j];
    }
}

void xfer_cpu_copy_strided(xfer_backend *b, size_t rows, int cols, const float *src, int src_ld,
                           float *dst, int dst_ld) {
    (void)b;
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < rows; r++)
        memcpy(dst + r * dst_ld, src + r * src_ld, sizeof(float) * cols);
}
