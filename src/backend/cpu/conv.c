/* Convolution on the CPU: im2col over NHWC gives a patch matrix P [rows = n*oh*ow][K = kh*kw*c]
 * whose columns are ordered (ky, kx, c), the same order as an OHWI filter row, so
 *   forward:          Y [rows][o]  = P * W^T          (one GEMM)
 *   backward data:    dP [rows][K] = dY * W, then col2im gathers dP back into dx
 *   backward filter:  dW [o][K]   += dY^T * P
 * Images are processed in chunks so the patch matrix stays within a bounded workspace. A 1x1,
 * stride-1, unpadded convolution uses x itself as P. Depthwise convolutions (groups > 1) run the
 * direct kernels of conv_depthwise.c. */
#include <string.h>

#include "cpu_ops.h"

/* Patch-matrix budget in floats (64 MiB): large enough for efficient GEMMs, small enough to keep
 * the peak memory of a 224x224 batch reasonable. */
#define CONV_WORKSPACE_FLOATS ((size_t)16 << 20)

static int is_pointwise(const xfer_conv2d_desc *d) {
    return d->kh == 1 && d->kw == 1 && d->stride == 1 && d->pad_h == 0 && d->pad_w == 0;
}

static size_t patch_cols(const xfer_conv2d_desc *d) {
    return (size_t)d->kh * d->kw * d->c;
}

static int images_per_chunk(const xfer_conv2d_desc *d) {
    size_t per_image = (size_t)d->oh * d->ow * patch_cols(d);
    size_t k = CONV_WORKSPACE_FLOATS / (per_image ? per_image : 1);
    if (k < 1) k = 1;
    if (k > (size_t)d->n) k = (size_t)d->n;
    return (int)k;
}

/* P rows for images [i0, i0 + cnt) of x. */
static void im2col(const xfer_conv2d_desc *d, const float *x, int i0, int cnt, float *p) {
    const size_t K = patch_cols(d);
    const int C = d->c;
#pragma omp parallel for collapse(2) schedule(static)
    for (int i = 0; i < cnt; i++) {
        for (int oy = 0; oy < d->oh; oy++) {
            const float *img = x + (size_t)(i0 + i) * d->h * d->w * C;
            for (int ox = 0; ox < d->ow; ox++) {
                float *row = p + (((size_t)i * d->oh + oy) * d->ow + ox) * K;
                for (int ky = 0; ky < d->kh; ky++) {
                    int iy = oy * d->stride - d->pad_h + ky;
                    for (int kx = 0; kx < d->kw; kx++) {
                        int ix = ox * d->stride - d->pad_w + kx;
                        float *dst = row + ((size_t)ky * d->kw + kx) * C;
                        if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w)
                            memset(dst, 0, sizeof(float) * C);
                        else
                            memcpy(dst, img + ((size_t)iy * d->w + ix) * C, sizeof(float) * C);
                    }
                }
            }
        }
    }
}

/* dx for images [i0, i0 + cnt) from their patch gradients dP: every input pixel gathers the patch
 * entries that read it (a gather, so threads never write the same element). */
static void col2im(const xfer_conv2d_desc *d, const float *dp, int i0, int cnt, float *dx) {
    const size_t K = patch_cols(d);
    const int C = d->c;
#pragma omp parallel for collapse(2) schedule(static)
    for (int i = 0; i < cnt; i++) {
        for (int iy = 0; iy < d->h; iy++) {
            for (int ix = 0; ix < d->w; ix++) {
                float *dst = dx + (((size_t)(i0 + i) * d->h + iy) * d->w + ix) * C;
                memset(dst, 0, sizeof(float) * C);
                for (int ky = 0; ky < d->kh; ky++) {
                    int oy = xfer_cpu_conv_out_of(iy, d->pad_h, ky, d->stride, d->oh);
                    if (oy < 0) continue;
                    for (int kx = 0; kx < d->kw; kx++) {
                        int ox = xfer_cpu_conv_out_of(ix, d->pad_w, kx, d->stride, d->ow);
                        if (ox < 0) continue;
                        const float *src = dp + (((size_t)i * d->oh + oy) * d->ow + ox) * K +
                                           ((size_t)ky * d->kw + kx) * C;
                        for (int c = 0; c < C; c++)
                            dst[c] += src[c];
                    }
                }
            }
        }
    }
}

/* The patch matrices of forward and backward-filter are built a chunk of images at a time in one
 * workspace; a pointwise convolution reads its input as is (one chunk, no workspace). Returns 0
 * when the workspace cannot be had. */
static int patch_chunking(xfer_backend *b, const xfer_conv2d_desc *d, int *chunk, float **ws) {
    *chunk = is_pointwise(d) ? d->n : images_per_chunk(d);
    *ws = is_pointwise(d) ? NULL
                          : xfer_cpu_workspace(b, (size_t)*chunk * d->oh * d->ow * patch_cols(d));
    return is_pointwise(d) || *ws;
}

/* The [cnt*oh*ow, K] patch matrix of images i0 .. i0+cnt-1: the input itself when pointwise, else
 * im2col into ws. */
static const float *chunk_patches(const xfer_conv2d_desc *d, const float *x, int i0, int cnt,
                                  float *ws) {
    if (is_pointwise(d)) return x + (size_t)i0 * d->h * d->w * d->c;
    im2col(d, x, i0, cnt, ws);
    return ws;
}

/* y = conv(x, w) + bias for groups == 1, the patch matrices built a chunk of images at a time in
 * p (NULL when pointwise). */
static void forward_gemm(const xfer_conv2d_desc *d, int chunk, float *p, const float *x,
                         const float *w, const float *bias, float *y) {
    const size_t K = patch_cols(d);
    const size_t rows_per_image = (size_t)d->oh * d->ow;
    for (int i0 = 0; i0 < d->n; i0 += chunk) {
        int cnt = d->n - i0 < chunk ? d->n - i0 : chunk;
        size_t rows = (size_t)cnt * rows_per_image;
        const float *patches = chunk_patches(d, x, i0, cnt, p);
        float *yc = y + (size_t)i0 * rows_per_image * d->o;
        float beta = 0.0f;
        if (bias) {
#pragma omp parallel for schedule(static)
            for (size_t r = 0; r < rows; r++)
                memcpy(yc + r * d->o, bias, sizeof(float) * d->o);
            beta = 1.0f;
        }
        xfer_cpu_sgemm(0, 1, (int)rows, d->o, (int)K, 1.0f, patches, (int)K, w, (int)K, beta, yc,
                       d->o);
    }
}

void xfer_cpu_conv2d_forward(xfer_backend *b, const xfer_conv2d_desc *d, const float *x,
                             const float *w, const float *bias, float *y) {
    if (d->groups > 1) {
        xfer_cpu_dwconv_forward(b, d, x, w, bias, y);
        return;
    }
    int chunk;
    float *p;
    if (!patch_chunking(b, d, &chunk, &p)) return;
    forward_gemm(d, chunk, p, x, w, bias, y);
}

/* A stride-1 convolution's backward data is a stride-1 convolution of dy with the filter flipped
 * in space and transposed (o <-> c), padded by k - 1 - pad: its patch matrix has kh*kw*o columns
 * instead of the kh*kw*c of dP, and the GEMM writes dx directly (no col2im, no zeroed dP). The
 * sums run over the same terms in another order. Taken when the padding allows it (pad <= k - 1
 * on both axes). */
static int backward_as_forward(const xfer_conv2d_desc *d, xfer_conv2d_desc *t) {
    if (d->stride != 1 || d->pad_h > d->kh - 1 || d->pad_w > d->kw - 1) return 0;
    *t = (xfer_conv2d_desc){.n = d->n,
                            .h = d->oh,
                            .w = d->ow,
                            .c = d->o,
                            .o = d->c,
                            .kh = d->kh,
                            .kw = d->kw,
                            .stride = 1,
                            .pad_h = d->kh - 1 - d->pad_h,
                            .pad_w = d->kw - 1 - d->pad_w,
                            .groups = 1};
    xfer_conv2d_desc_init(t);
    return t->oh == d->h && t->ow == d->w;
}

/* wt[ci][ky][kx][oi] = w[oi][kh-1-ky][kw-1-kx][ci]: the OHWI filter of backward_as_forward. */
static void flip_transpose(const xfer_conv2d_desc *d, const float *w, float *wt) {
    const int kk = d->kh * d->kw;
#pragma omp parallel for schedule(static)
    for (int ci = 0; ci < d->c; ci++)
        for (int t = 0; t < kk; t++) {
            const int ky = t / d->kw, kx = t % d->kw;
            const float *src =
                w + ((size_t)(d->kh - 1 - ky) * d->kw + (d->kw - 1 - kx)) * d->c + ci;
            float *dst = wt + ((size_t)ci * kk + t) * d->o;
            for (int oi = 0; oi < d->o; oi++)
                dst[oi] = src[(size_t)oi * kk * d->c];
        }
}

void xfer_cpu_conv2d_backward_data(xfer_backend *b, const xfer_conv2d_desc *d, const float *dy,
                                   const float *w, float *dx) {
    if (d->groups > 1) {
        xfer_cpu_dwconv_backward_data(b, d, dy, w, dx);
        return;
    }
    const size_t K = patch_cols(d);
    const size_t rows_per_image = (size_t)d->oh * d->ow;
    if (is_pointwise(d)) {
        xfer_cpu_sgemm(0, 0, d->n * (int)rows_per_image, (int)K, d->o, 1.0f, dy, d->o, w, (int)K,
                       0.0f, dx, (int)K);
        return;
    }
    xfer_conv2d_desc t;
    if (backward_as_forward(d, &t)) {
        /* one workspace: the flipped filter (rounded up to 64 bytes), then the patches */
        const size_t wt_floats = (K * d->o + 15) / 16 * 16;
        const int tchunk = images_per_chunk(&t);
        float *ws =
            xfer_cpu_workspace(b, wt_floats + (size_t)tchunk * t.oh * t.ow * patch_cols(&t));
        if (!ws) return;
        flip_transpose(d, w, ws);
        forward_gemm(&t, tchunk, ws + wt_floats, dy, ws, NULL, dx);
        return;
    }
    const int chunk = images_per_chunk(d);
    float *dp = xfer_cpu_workspace(b, (size_t)chunk * rows_per_image * K);
    if (!dp) return;
    for (int i0 = 0; i0 < d->n; i0 += chunk) {
        int cnt = d->n - i0 < chunk ? d->n - i0 : chunk;
        size_t rows = (size_t)cnt * rows_per_image;
        xfer_cpu_sgemm(0, 0, (int)rows, (int)K, d->o, 1.0f, dy + (size_t)i0 * rows_per_image * d->o,
                       d->o, w, (int)K, 0.0f, dp, (int)K);
        col2im(d, dp, i0, cnt, dx);
    }
}

void xfer_cpu_conv2d_backward_filter(xfer_backend *b, const xfer_conv2d_desc *d, const float *x,
                                     const float *dy, float *dw, float *dbias) {
    if (d->groups > 1) {
        xfer_cpu_dwconv_backward_filter(b, d, x, dy, dw, dbias);
        return;
    }
    const size_t K = patch_cols(d);
    const size_t rows_per_image = (size_t)d->oh * d->ow;
    int chunk;
    float *p;
    if (!patch_chunking(b, d, &chunk, &p)) return;
    for (int i0 = 0; i0 < d->n; i0 += chunk) {
        int cnt = d->n - i0 < chunk ? d->n - i0 : chunk;
        size_t rows = (size_t)cnt * rows_per_image;
        const float *patches = chunk_patches(d, x, i0, cnt, p);
        xfer_cpu_sgemm(1, 0, d->o, (int)K, (int)rows, 1.0f, dy + (size_t)i0 * rows_per_image * d->o,
                       d->o, patches, (int)K, 1.0f, dw, (int)K);
    }
    if (dbias) xfer_cpu_colsum_add((size_t)d->n * rows_per_image, d->o, dy, dbias);
}
