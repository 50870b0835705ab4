/* NHWC index arithmetic shared by the pooling kernels (kernels/pool.cu, kernels/archs.cu): the
 * coordinates of a flat element index, and the outputs whose windows cover an input cell (the
 * backward passes are gathers over those windows). */
#ifndef XFER_KERNELS_NHWC_INDEX_CUH
#define XFER_KERNELS_NHWC_INDEX_CUH

#include <stddef.h>

/* One element of an NHWC tensor: image, row, column, channel. */
typedef struct {
    size_t img;
    int y, x, ch;
} xk_nhwc;

/* The coordinates of flat index i in an NHWC tensor of h x w x c images. */
__device__ __forceinline__ xk_nhwc xk_nhwc_at(size_t i, int h, int w, int c) {
    xk_nhwc p;
    p.ch = (int)(i % c);
    size_t r = i / c;
    p.x = (int)(r % w);
    r /= w;
    p.y = (int)(r % h);
    p.img = r / h;
    return p;
}

/* Along one axis, the outputs o in [*lo, *hi] (empty when *lo > *hi) whose window
 * [o * stride - pad, o * stride - pad + k) contains input cell i, clipped to [0, out). */
__device__ __forceinline__ void xk_covering(int i, int pad, int k, int stride, int out, int *lo,
                                            int *hi) {
    int t = i + pad - k + 1;
    *lo = t <= 0 ? 0 : (t + stride - 1) / stride;
    *hi = (i + pad) / stride;
    if (*hi >= out) *hi = out - 1;
}

#endif
