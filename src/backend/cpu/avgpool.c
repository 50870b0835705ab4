/* Average pooling k x k / stride / pad over NHWC with torch's divisor (count_include_pad, ceil
 * mode; include/xfer/backend.h). The backward pass is a gather: every input cell sums dy / divisor
 * over the windows that cover it, so threads never write the same element. */
#include <string.h>

#include "cpu_ops.h"

/* What output (oy, ox) divides its sum by: the window's cells inside the input, or with
 * count_include_pad its extent within the padded input. */
static float divisor(const xfer_pool2d_desc *d, int oy, int ox) {
    int y0, y1, py, x0, x1, px;
    py = xfer_cpu_pool_window(oy, d->stride, d->pad, d->k, d->h, &y0, &y1);
    px = xfer_cpu_pool_window(ox, d->stride, d->pad, d->k, d->w, &x0, &x1);
    int cnt = d->count_include_pad ? py * px : (y1 - y0) * (x1 - x0);
    return (float)(cnt > 0 ? cnt : 1);
}

void xfer_cpu_avgpool2d_forward(xfer_backend *b, const xfer_pool2d_desc *d, const float *x,
                                float *y) {
    (void)b;
    const int C = d->c;
#pragma omp parallel for collapse(2) schedule(static)
    for (int i = 0; i < d->n; i++) {
        for (int oy = 0; oy < d->oh; oy++) {
            const float *img = x + (size_t)i * d->h * d->w * C;
            int y0, y1;
            xfer_cpu_pool_window(oy, d->stride, d->pad, d->k, d->h, &y0, &y1);
            for (int ox = 0; ox < d->ow; ox++) {
                int x0, x1;
                xfer_cpu_pool_window(ox, d->stride, d->pad, d->k, d->w, &x0, &x1);
                float *out = y + (((size_t)i * d->oh + oy) * d->ow + ox) * C;
                memset(out, 0, sizeof(float) * C);
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) {
                        const float *v = img + ((size_t)iy * d->w + ix) * C;
                        for (int j = 0; j < C; j++)
                            out[j] += v[j];
                    }
                float inv = 1.0f / divisor(d, oy, ox);
                for (int j = 0; j < C; j++)
                    out[j] *= inv;
            }
        }
    }
}

/* Output indices whose window covers input cell i along one axis: [*lo, *hi]. */
static void covering(const xfer_pool2d_desc *d, int i, int out, int *lo, int *hi) {
    int t = i + d->pad - d->k + 1; /* o*stride >= t */
    *lo = t <= 0 ? 0 : (t + d->stride - 1) / d->stride;
    *hi = (i + d->pad) / d->stride;
    if (*hi >= out) *hi = out - 1;
}

void xfer_cpu_avgpool2d_backward(xfer_backend *b, const xfer_pool2d_desc *d, const float *dy,
                                 float *dx) {
    (void)b;
    const int C = d->c;
#pragma omp parallel for collapse(2) schedule(static)
    for (int i = 0; i < d->n; i++) {
        for (int iy = 0; iy < d->h; iy++) {
            int oy0, oy1;
            covering(d, iy, d->oh, &oy0, &oy1);
            for (int ix = 0; ix < d->w; ix++) {
                int ox0, ox1;
                covering(d, ix, d->ow, &ox0, &ox1);
                float *dst = dx + (((size_t)i * d->h + iy) * d->w + ix) * C;
                memset(dst, 0, sizeof(float) * C);
                for (int oy = oy0; oy <= oy1; oy++)
                    for (int ox = ox0; ox <= ox1; ox++) {
                        const float *g = dy + (((size_t)i * d->oh + oy) * d->ow + ox) * C;
                        float inv = 1.0f / divisor(d, oy, ox);
                        for (int j = 0; j < C; j++)
                            dst[j] += g[j] * inv;
                    }
            }
        }
    }
}
