/* Kernels of the wider architectures: ReLU6, the per-channel affine (transform_input) and average
 * pooling k / stride / pad with torch's divisor. One thread per output element (forward) or per
 * input element (backward: a gather over the covering windows, in window order, so it needs no
 * atomics and matches the CPU backend's order). */
#include "../src/backend/cuda/archs_kernels.h"
#include "common.cuh"
#include "nhwc_index.cuh"

__global__ void k_relu6_fwd(size_t n, const float *x, float *y) {
    XK_GRID_STRIDE(i, n) {
        float v = x[i] > 0.0f ? x[i] : 0.0f;
        y[i] = v < 6.0f ? v : 6.0f;
    }
}

__global__ void k_relu6_bwd(size_t n, const float *y, const float *dy, float *dx) {
    XK_GRID_STRIDE(i, n) {
        dx[i] = y[i] > 0.0f && y[i] < 6.0f ? dy[i] : 0.0f;
    }
}

__global__ void k_channel_affine(size_t n, int c, const float *x, const float *scale,
                                 const float *shift, float *y) {
    XK_GRID_STRIDE(i, n) {
        int j = (int)(i % c);
        /* a product rounded, then a sum: the CPU's (and torch's) two operations, not one FMA */
        float p = __fmul_rn(x[i], scale[j]);
        y[i] = shift ? __fadd_rn(p, shift[j]) : p;
    }
}

/* the window along one axis: cells [lo, hi) inside the input, padded extent for the divisor */
__device__ __forceinline__ void avg_win(int o, int stride, int pad, int k, int size, int *lo,
                                        int *hi, int *padded) {
    int s = o * stride - pad;
    int e = s + k;
    if (e > size + pad) e = size + pad;
    *padded = e - s;
    *lo = s < 0 ? 0 : s;
    *hi = e > size ? size : e;
}

__device__ __forceinline__ float avg_div(int oy, int ox, int h, int w, int k, int stride, int pad,
                                         int cip) {
    int y0, y1, py, x0, x1, px;
    avg_win(oy, stride, pad, k, h, &y0, &y1, &py);
    avg_win(ox, stride, pad, k, w, &x0, &x1, &px);
    int cnt = cip ? py * px : (y1 - y0) * (x1 - x0);
    return (float)(cnt > 0 ? cnt : 1);
}

__global__ void k_avgpool2d_fwd(size_t total, int h, int w, int c, int k, int stride, int pad,
                                int oh, int ow, int cip, const float *x, float *y) {
    XK_GRID_STRIDE(i, total) {
        xk_nhwc o = xk_nhwc_at(i, oh, ow, c);
        int y0, y1, py, x0, x1, px;
        avg_win(o.y, stride, pad, k, h, &y0, &y1, &py);
        avg_win(o.x, stride, pad, k, w, &x0, &x1, &px);
        const float *base = x + o.img * h * w * c + o.ch;
        float acc = 0.0f;
        for (int iy = y0; iy < y1; iy++)
            for (int ix = x0; ix < x1; ix++)
                acc = __fadd_rn(acc, base[((size_t)iy * w + ix) * c]);
        y[i] = __fmul_rn(acc, 1.0f / avg_div(o.y, o.x, h, w, k, stride, pad, cip));
    }
}

__global__ void k_avgpool2d_bwd(size_t total, int h, int w, int c, int k, int stride, int pad,
                                int oh, int ow, int cip, const float *dy, float *dx) {
    XK_GRID_STRIDE(i, total) { /* i indexes x */
        xk_nhwc p = xk_nhwc_at(i, h, w, c);
        const float *g = dy + p.img * oh * ow * c + p.ch;
        int oy0, oy1, ox0, ox1;
        xk_covering(p.y, pad, k, stride, oh, &oy0, &oy1);
        xk_covering(p.x, pad, k, stride, ow, &ox0, &ox1);
        float acc = 0.0f;
        for (int oy = oy0; oy <= oy1; oy++)
            for (int ox = ox0; ox <= ox1; ox++) {
                float inv = 1.0f / avg_div(oy, ox, h, w, k, stride, pad, cip);
                acc = __fadd_rn(acc, __fmul_rn(g[((size_t)oy * ow + ox) * c], inv));
            }
        dx[i] = acc;
    }
}

extern "C" {

cudaError_t xk_relu6_fwd(cudaStream_t s, size_t n, const float *x, float *y) {
    if (n) k_relu6_fwd<<<xk_blocks(n), XK_THREADS, 0, s>>>(n, x, y);
    return cudaGetLastError();
}

cudaError_t xk_relu6_bwd(cudaStream_t s, size_t n, const float *y, const float *dy, float *dx) {
    if (n) k_relu6_bwd<<<xk_blocks(n), XK_THREADS, 0, s>>>(n, y, dy, dx);
    return cudaGetLastError();
}

cudaError_t xk_channel_affine(cudaStream_t s, int m, int c, const float *x, const float *scale,
                              const float *shift, float *y) {
    size_t n = (size_t)m * c;
    if (n) k_channel_affine<<<xk_blocks(n), XK_THREADS, 0, s>>>(n, c, x, scale, shift, y);
    return cudaGetLastError();
}

cudaError_t xk_avgpool2d_fwd(cudaStream_t s, int n, int h, int w, int c, int k, int stride, int pad,
                             int oh, int ow, int count_include_pad, const float *x, float *y) {
    size_t t = (size_t)n * oh * ow * c;
    if (t)
        k_avgpool2d_fwd<<<xk_blocks(t), XK_THREADS, 0, s>>>(t, h, w, c, k, stride, pad, oh, ow,
                                                            count_include_pad, x, y);
    return cudaGetLastError();
}

cudaError_t xk_avgpool2d_bwd(cudaStream_t s, int n, int h, int w, int c, int k, int stride, int pad,
                             int oh, int ow, int count_include_pad, const float *dy, float *dx) {
    size_t t = (size_t)n * h * w * c;
    if (t)
        k_avgpool2d_bwd<<<xk_blocks(t), XK_THREADS, 0, s>>>(t, h, w, c, k, stride, pad, oh, ow,
                                                            count_include_pad, dy, dx);
    return cudaGetLastError();
}

} /* extern "C" */
