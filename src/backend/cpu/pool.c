/* Max pooling and adaptive average pooling over NHWC. Backward passes scatter into dx; they are
 * parallel over images only, so no two threads write the same element. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_ops.h"

void xfer_cpu_maxpool_forward(xfer_backend *b, const xfer_pool2d_desc *d, const float *x,
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
                for (int c = 0; c < C; c++)
                    out[c] = -INFINITY;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) {
                        const float *v = img + ((size_t)iy * d->w + ix) * C;
                        for (int c = 0; c < C; c++)
                            if (v[c] > out[c]) out[c] = v[c]; /* strict: the first max wins */
                    }
            }
        }
    }
}

void xfer_cpu_maxpool_backward(xfer_backend *b, const xfer_pool2d_desc *d, const float *x,
                               const float *y, const float *dy, float *dx) {
    (void)y;
    const int C = d->c;
    const size_t img_size = (size_t)d->h * d->w * C;
    int failed = 0;
#pragma omp parallel
    {
        float *best = malloc(sizeof(float) * C);
        size_t *arg = malloc(sizeof(size_t) * C);
        if (!best || !arg) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int i = 0; i < d->n; i++) {
            if (!best || !arg) continue;
            const float *img = x + (size_t)i * img_size;
            float *dimg = dx + (size_t)i * img_size;
            memset(dimg, 0, sizeof(float) * img_size);
            for (int oy = 0; oy < d->oh; oy++) {
                int y0, y1;
                xfer_cpu_pool_window(oy, d->stride, d->pad, d->k, d->h, &y0, &y1);
                for (int ox = 0; ox < d->ow; ox++) {
                    int x0, x1;
                    xfer_cpu_pool_window(ox, d->stride, d->pad, d->k, d->w, &x0, &x1);
                    for (int c = 0; c < C; c++) {
                        best[c] = -INFINITY;
                        arg[c] = ((size_t)y0 * d->w + x0) * C + c;
                    }
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++) {
                            size_t base = ((size_t)iy * d->w + ix) * C;
                            for (int c = 0; c < C; c++)
                                if (img[base + c] > best[c]) {
                                    best[c] = img[base + c];
                                    arg[c] = base + c;
                                }
                        }
                    const float *g = dy + (((size_t)i * d->oh + oy) * d->ow + ox) * C;
                    for (int c = 0; c < C; c++)
                        dimg[arg[c]] += g[c];
                }
            }
        }
        free(best);
        free(arg);
    }
    if (failed) xfer_cpu_record_oom(b, sizeof(float) * C, "max-pool backward");
}

/* torch's adaptive bins: [floor(i*h/o), ceil((i+1)*h/o)) */
static void bin(int i, int size, int out, int *lo, int *hi) {
    *lo = (int)(((long long)i * size) / out);
    *hi = (int)((((long long)i + 1) * size + out - 1) / out);
}

void xfer_cpu_avgpool_forward(xfer_backend *b, int n, int h, int w, int c, int oh, int ow,
                              const float *x, float *y) {
    (void)b;
#pragma omp parallel for collapse(2) schedule(static)
    for (int i = 0; i < n; i++) {
        for (int oy = 0; oy < oh; oy++) {
            const float *img = x + (size_t)i * h * w * c;
            int y0, y1;
            bin(oy, h, oh, &y0, &y1);
            for (int ox = 0; ox < ow; ox++) {
                int x0, x1;
                bin(ox, w, ow, &x0, &x1);
                float *out = y + (((size_t)i * oh + oy) * ow + ox) * c;
                for (int j = 0; j < c; j++)
                    out[j] = 0.0f;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) {
                        const float *v = img + ((size_t)iy * w + ix) * c;
                        for (int j = 0; j < c; j++)
                            out[j] += v[j];
                    }
                float inv = 1.0f / (float)((y1 - y0) * (x1 - x0));
                for (int j = 0; j < c; j++)
                    out[j] *= inv;
            }
        }
    }
}

void xfer_cpu_avgpool_backward(xfer_backend *b, int n, int h, int w, int c, int oh, int ow,
                               const float *dy, float *dx) {
    (void)b;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++) {
        float *dimg = dx + (size_t)i * h * w * c;
        memset(dimg, 0, sizeof(float) * h * w * c);
        for (int oy = 0; oy < oh; oy++) {
            int y0, y1;
            bin(oy, h, oh, &y0, &y1);
            for (int ox = 0; ox < ow; ox++) {
                int x0, x1;
                bin(ox, w, ow, &x0, &x1);
                const float *g = dy + (((size_t)i * oh + oy) * ow + ox) * c;
                float inv = 1.0f / (float)((y1 - y0) * (x1 - x0));
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) {
                        float *o = dimg + ((size_t)iy * w + ix) * c;
                        for (int j = 0; j < c; j++)
                            o[j] += g[j] * inv;
                    }
            }
        }
    }
}
