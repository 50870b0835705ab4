/* Depthwise convolution on the CPU (groups == c == o: output channel j reads input channel j only),
 * as direct NHWC loops whose innermost loop runs over the contiguous channels, so the compiler
 * vectorises it. The OHWI filter [c][kh][kw][1] is first transposed to [kh][kw][c] so filter taps
 * are contiguous over channels too.
 *   forward:          y[n][oy][ox][j] = bias[j] + sum_{ky,kx} x[n][iy][ix][j] * w[j][ky][kx]
 *   backward data:    a gather: every input pixel sums the dy entries whose window covers it
 *   backward filter:  per-image partials in double for a block of channels (disjoint writes),
 *                     combined in image order, so the result depends neither on the thread count
 *                     nor on the schedule. */
#include <stdlib.h>
#include <string.h>

#include "cpu_ops.h"

#define DW_CBLOCK 64 /* channels per backward-filter work item */

/* [c][kk] -> [kk][c]; NULL (recorded) on out of memory. */
static float *taps_by_channel(xfer_backend *b, const xfer_conv2d_desc *d, const float *w) {
    const int C = d->c, KK = d->kh * d->kw;
    float *t = malloc(sizeof(float) * (size_t)C * KK);
    if (!t) {
        xfer_cpu_record_oom(b, sizeof(float) * (size_t)C * KK, "depthwise filter");
        return NULL;
    }
    for (int j = 0; j < C; j++)
        for (int k = 0; k < KK; k++)
            t[(size_t)k * C + j] = w[(size_t)j * KK + k];
    return t;
}

void xfer_cpu_dwconv_forward(xfer_backend *b, const xfer_conv2d_desc *d, const float *x,
                             const float *w, const float *bias, float *y) {
    const int C = d->c;
    float *t = taps_by_channel(b, d, w);
    if (!t) return;
#pragma omp parallel for collapse(2) schedule(static)
    for (int i = 0; i < d->n; i++) {
        for (int oy = 0; oy < d->oh; oy++) {
            const float *img = x + (size_t)i * d->h * d->w * C;
            for (int ox = 0; ox < d->ow; ox++) {
                float *out = y + (((size_t)i * d->oh + oy) * d->ow + ox) * C;
                for (int j = 0; j < C; j++)
                    out[j] = bias ? bias[j] : 0.0f;
                for (int ky = 0; ky < d->kh; ky++) {
                    int iy = oy * d->stride - d->pad_h + ky;
                    if (iy < 0 || iy >= d->h) continue;
                    for (int kx = 0; kx < d->kw; kx++) {
                        int ix = ox * d->stride - d->pad_w + kx;
                        if (ix < 0 || ix >= d->w) continue;
                        const float *xv = img + ((size_t)iy * d->w + ix) * C;
                        const float *wv = t + ((size_t)ky * d->kw + kx) * C;
                        for (int j = 0; j < C; j++)
                            out[j] += xv[j] * wv[j];
                    }
                }
            }
        }
    }
    free(t);
}

void xfer_cpu_dwconv_backward_data(xfer_backend *b, const xfer_conv2d_desc *d, const float *dy,
                                   const float *w, float *dx) {
    const int C = d->c;
    float *t = taps_by_channel(b, d, w);
    if (!t) return;
#pragma omp parallel for collapse(2) schedule(static)
    for (int i = 0; i < d->n; i++) {
        for (int iy = 0; iy < d->h; iy++) {
            for (int ix = 0; ix < d->w; ix++) {
                float *dst = dx + (((size_t)i * d->h + iy) * d->w + ix) * C;
                memset(dst, 0, sizeof(float) * C);
                for (int ky = 0; ky < d->kh; ky++) {
                    int oy = xfer_cpu_conv_out_of(iy, d->pad_h, ky, d->stride, d->oh);
                    if (oy < 0) continue;
                    for (int kx = 0; kx < d->kw; kx++) {
                        int ox = xfer_cpu_conv_out_of(ix, d->pad_w, kx, d->stride, d->ow);
                        if (ox < 0) continue;
                        const float *g = dy + (((size_t)i * d->oh + oy) * d->ow + ox) * C;
                        const float *wv = t + ((size_t)ky * d->kw + kx) * C;
                        for (int j = 0; j < C; j++)
                            dst[j] += g[j] * wv[j];
                    }
                }
            }
        }
    }
    free(t);
}

void xfer_cpu_dwconv_backward_filter(xfer_backend *b, const xfer_conv2d_desc *d, const float *x,
                                     const float *dy, float *dw, float *dbias) {
    const int C = d->c, KK = d->kh * d->kw;
    const int blocks = (C + DW_CBLOCK - 1) / DW_CBLOCK;
    size_t per_image = (size_t)KK * C;
    double *part = calloc((size_t)d->n * per_image, sizeof(double));
    if (!part) {
        xfer_cpu_record_oom(b, sizeof(double) * d->n * per_image, "depthwise filter gradient");
        return;
    }
#pragma omp parallel for collapse(2) schedule(static)
    for (int i = 0; i < d->n; i++) {
        for (int cb = 0; cb < blocks; cb++) {
            const int j0 = cb * DW_CBLOCK, j1 = j0 + DW_CBLOCK < C ? j0 + DW_CBLOCK : C;
            const float *img = x + (size_t)i * d->h * d->w * C;
            double *p = part + (size_t)i * per_image; /* [kk][c], channels j0..j1 only */
            for (int oy = 0; oy < d->oh; oy++)
                for (int ox = 0; ox < d->ow; ox++) {
                    const float *g = dy + (((size_t)i * d->oh + oy) * d->ow + ox) * C;
                    for (int ky = 0; ky < d->kh; ky++) {
                        int iy = oy * d->stride - d->pad_h + ky;
                        if (iy < 0 || iy >= d->h) continue;
                        for (int kx = 0; kx < d->kw; kx++) {
                            int ix = ox * d->stride - d->pad_w + kx;
                            if (ix < 0 || ix >= d->w) continue;
                            const float *xv = img + ((size_t)iy * d->w + ix) * C;
                            double *pk = p + ((size_t)ky * d->kw + kx) * C;
                            for (int j = j0; j < j1; j++)
                                pk[j] += (double)xv[j] * g[j];
                        }
                    }
                }
        }
    }
#pragma omp parallel for schedule(static)
    for (int j = 0; j < C; j++)
        for (int k = 0; k < KK; k++) {
            double s = 0;
            for (int i = 0; i < d->n; i++)
                s += part[(size_t)i * per_image + (size_t)k * C + j];
            dw[(size_t)j * KK + k] += (float)s;
        }
    free(part);
    if (dbias) xfer_cpu_colsum_add((size_t)d->n * d->oh * d->ow, C, dy, dbias);
}
