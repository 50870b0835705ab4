/* One output pixel of the CPU batcher's transform (src/data/augment.c + src/data/resize.c),
 * written once for the host and the device so that the GPU batch path gives the CPU's batches
 * bit for bit. Included by kernels/augment_pil.cu and by the host test tests/cuda/test_aug_pixel.c
 * (which checks it against xfer_augment_image on machines without a GPU).
 *
 * Resampling is PIL's antialiased bilinear filter as src/data/resize.c computes it: per axis,
 * scale = (b1 - b0) / T, the triangle widened by max(scale, 1), taps normalised to sum 1 and
 * rounded to 22-bit fixed point; the horizontal pass rounds to uint8, then the vertical pass.
 * resize.c computes a whole row of the horizontal pass once; here each output pixel recomputes
 * the (at most ksize) horizontal results it needs: integer arithmetic, so the same values.
 * All double and float arithmetic goes through XK_DMUL/XK_DADD/XK_FMUL/XK_FADD, which are the
 * round-to-nearest intrinsics on the device (nvcc would otherwise contract a*b+c into an FMA and
 * change the last bit) and plain operators on the host (x86-64 without -mfma does not contract). */
#ifndef XFER_KERNELS_AUGMENT_PIL_H
#define XFER_KERNELS_AUGMENT_PIL_H

#include <stdint.h>

#if defined(__CUDACC__)
#define XK_HD __host__ __device__
#else
#define XK_HD
#endif

#if defined(__CUDA_ARCH__)
#define XK_DMUL(a, b) __dmul_rn((a), (b))
#define XK_DADD(a, b) __dadd_rn((a), (b))
#define XK_FMUL(a, b) __fmul_rn((a), (b))
#define XK_FADD(a, b) __fadd_rn((a), (b))
#else
#define XK_DMUL(a, b) ((a) * (b))
#define XK_DADD(a, b) ((a) + (b))
#define XK_FMUL(a, b) ((a) * (b))
#define XK_FADD(a, b) ((a) + (b))
#endif

#define XK_AUG_BITS 22 /* Pillow's 8-bit path: 32 - 8 - 2 */

/* Same layout as xfer_aug_box (include/xfer/cuda_backend.h). */
typedef struct {
    int32_t index, copy, x0, y0, w, h, flip, pad_;
} xk_aug_box;

/* Taps of output pixel i of an axis resampling [b0, b0 + len) of in_size to out_size pixels. */
typedef struct {
    double center, support, ss, ww;
    int first, count;
} xk_axis;

XK_HD static inline double xk_triangle(double x) {
    if (x < 0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

XK_HD static inline double xk_tap_raw(const xk_axis *a, int x) {
    /* resize.c: triangle((x + xmin - center + 0.5) * ss) */
    return xk_triangle(XK_DMUL(XK_DADD(XK_DADD((double)(x + a->first), -a->center), 0.5), a->ss));
}

XK_HD static inline void xk_axis_make(int in_size, int b0, int len, int out_size, int i,
                                      xk_axis *a) {
    double db0 = (double)b0, db1 = (double)(b0 + len);
    double scale = XK_DADD(db1, -db0) / (double)out_size;
    double fscale = scale < 1.0 ? 1.0 : scale;
    double support = fscale; /* 1.0 * fscale */
    int ceil_support = (int)support;
    if ((double)ceil_support < support) ceil_support++;
    int ksize = ceil_support * 2 + 1;
    double center = XK_DADD(db0, XK_DMUL(XK_DADD((double)i, 0.5), scale));
    double ss = 1.0 / fscale;
    int xmin = (int)XK_DADD(XK_DADD(center, -support), 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = (int)XK_DADD(XK_DADD(center, support), 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    if (xmax > ksize) xmax = ksize;
    if (xmax < 0) xmax = 0;
    a->center = center;
    a->support = support;
    a->ss = ss;
    a->first = xmin;
    a->count = xmax;
    double ww = 0;
    for (int x = 0; x < xmax; x++)
        ww = XK_DADD(ww, xk_tap_raw(a, x));
    a->ww = ww;
}

/* Fixed-point tap x (resize.c's rounding: taps are never negative here). */
XK_HD static inline int32_t xk_tap(const xk_axis *a, int x) {
    double w = xk_tap_raw(a, x);
    double v = a->ww != 0.0 ? w / a->ww : w;
    double f = XK_DMUL(v, (double)(1 << XK_AUG_BITS));
    return v < 0 ? (int32_t)XK_DADD(-0.5, f) : (int32_t)XK_DADD(0.5, f);
}

XK_HD static inline uint8_t xk_clip8(int32_t v) {
    if (v <= 0) return 0;
    if (v >= (255 << XK_AUG_BITS)) return 255;
    return (uint8_t)(v >> XK_AUG_BITS);
}

/* The three channels of output pixel (oy, ox) of a T x T output from the S x S x 3 image img:
 * out[c] = u8 * scale[c] + shift[c] with scale = 1 / (255 std), shift = -mean / std (float). */
XK_HD static inline void xk_aug_pixel(const uint8_t *img, int S, const xk_aug_box *bx, int T,
                                      int oy, int ox, const float scale[3], const float shift[3],
                                      float out[3]) {
    int sx = bx->flip ? T - 1 - ox : ox;
    int v[3];
    if (bx->copy) {
        const uint8_t *p = img + ((size_t)(bx->y0 + oy) * S + (bx->x0 + sx)) * 3;
        v[0] = p[0], v[1] = p[1], v[2] = p[2];
    } else {
        xk_axis ah, av;
        xk_axis_make(S, bx->x0, bx->w, T, sx, &ah);
        xk_axis_make(S, bx->y0, bx->h, T, oy, &av);
        const int32_t half = 1 << (XK_AUG_BITS - 1);
        int32_t acc[3] = {half, half, half};
        for (int j = 0; j < av.count; j++) {
            const uint8_t *row = img + (size_t)(av.first + j) * S * 3 + (size_t)ah.first * 3;
            int32_t s0 = half, s1 = half, s2 = half;
            for (int k = 0; k < ah.count; k++) {
                int32_t t = xk_tap(&ah, k);
                s0 += row[3 * k + 0] * t;
                s1 += row[3 * k + 1] * t;
                s2 += row[3 * k + 2] * t;
            }
            int32_t tv = xk_tap(&av, j);
            acc[0] += xk_clip8(s0) * tv;
            acc[1] += xk_clip8(s1) * tv;
            acc[2] += xk_clip8(s2) * tv;
        }
        for (int c = 0; c < 3; c++)
            v[c] = xk_clip8(acc[c]);
    }
    for (int c = 0; c < 3; c++)
        out[c] = XK_FADD(XK_FMUL((float)v[c], scale[c]), shift[c]);
}

#endif
