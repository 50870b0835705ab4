/* Max pooling and adaptive average pooling over NHWC with the CPU backend's semantics. The
 * backward passes are gathers (each input element sums the windows that chose it, in window
 * order), so they need no atomics and are deterministic. */
#include <math.h>

#include "common.cuh"
#include "nhwc_index.cuh"

__device__ __forceinline__ void win(int o, int stride, int pad, int k, int size, int *lo, int *hi) {
    int s = o * stride - pad;
    *lo = s < 0 ? 0 : s;
    *hi = s + k > size ? size : s + k;
}

/* torch's adaptive bins: [floor(i*size/out), ceil((i+1)*size/out)) */
__device__ __forceinline__ void bin(int i, int size, int out, int *lo, int *hi) {
    *lo = (int)(((long long)i * size) / out);
    *hi = (int)((((long long)i + 1) * size + out - 1) / out);
}

__global__ void k_maxpool_fwd(size_t total, int h, int w, int c, int k, int stride, int pad, int oh,
                              int ow, const float *x, float *y) {
    XK_GRID_STRIDE(i, total) {
        xk_nhwc o = xk_nhwc_at(i, oh, ow, c);
        int y0, y1, x0, x1;
        win(o.y, stride, pad, k, h, &y0, &y1);
        win(o.x, stride, pad, k, w, &x0, &x1);
        const float *base = x + o.img * h * w * c + o.ch;
        float best = -INFINITY;
        for (int iy = y0; iy < y1; iy++)
            for (int ix = x0; ix < x1; ix++) {
                float v = base[((size_t)iy * w + ix) * c];
                if (v > best) best = v;
            }
        y[i] = best;
    }
}

/* The window's chosen element (the CPU rule: strict >, start at the window's first cell). */
__device__ __forceinline__ int argmax_in(const float *base, int w, int c, int y0, int y1, int x0,
                                         int x1) {
    float best = -INFINITY;
    int arg = y0 * w + x0;
    for (int iy = y0; iy < y1; iy++)
        for (int ix = x0; ix < x1; ix++) {
            float v = base[((size_t)iy * w + ix) * c];
            if (v > best) {
                best = v;
                arg = iy * w + ix;
            }
        }
    return arg;
}

__global__ void k_maxpool_bwd(size_t total, int h, int w, int c, int k, int stride, int pad, int oh,
                              int ow, const float *x, const float *dy, float *dx) {
    XK_GRID_STRIDE(i, total) { /* i indexes x */
        xk_nhwc p = xk_nhwc_at(i, h, w, c);
        const float *base = x + p.img * h * w * c + p.ch;
        const float *g = dy + p.img * oh * ow * c + p.ch;
        int me = p.y * w + p.x;
        int oy_lo, oy_hi, ox_lo, ox_hi;
        xk_covering(p.y, pad, k, stride, oh, &oy_lo, &oy_hi);
        xk_covering(p.x, pad, k, stride, ow, &ox_lo, &ox_hi);
        float acc = 0.0f;
        for (int oy = oy_lo; oy <= oy_hi; oy++) {
            int y0, y1;
            win(oy, stride, pad, k, h, &y0, &y1);
            for (int ox = ox_lo; ox <= ox_hi; ox++) {
                int x0, x1;
                win(ox, stride, pad, k, w, &x0, &x1);
                if (argmax_in(base, w, c, y0, y1, x0, x1) == me)
                    acc += g[((size_t)oy * ow + ox) * c];
            }
        }
        dx[i] = acc;
    }
}

__global__ void k_avgpool_fwd(size_t total, int h, int w, int c, int oh, int ow, const float *x,
                              float *y) {
    XK_GRID_STRIDE(i, total) {
        xk_nhwc o = xk_nhwc_at(i, oh, ow, c);
        int y0, y1, x0, x1;
        bin(o.y, h, oh, &y0, &y1);
        bin(o.x, w, ow, &x0, &x1);
        const float *base = x + o.img * h * w * c + o.ch;
        float acc = 0.0f;
        for (int iy = y0; iy < y1; iy++)
            for (int ix = x0; ix < x1; ix++)
                acc += base[((size_t)iy * w + ix) * c];
        float inv = 1.0f / (float)((y1 - y0) * (x1 - x0));
        y[i] = __fmul_rn(acc, inv);
    }
}

__global__ void k_avgpool_bwd(size_t total, int h, int w, int c, int oh, int ow, const float *dy,
                              float *dx) {
    XK_GRID_STRIDE(i, total) { /* i indexes x */
        xk_nhwc p = xk_nhwc_at(i, h, w, c);
        const float *g = dy + p.img * oh * ow * c + p.ch;
        float acc = 0.0f;
        for (int oy = 0; oy < oh; oy++) {
            int y0, y1;
            bin(oy, h, oh, &y0, &y1);
            if (p.y < y0 || p.y >= y1) continue;
            for (int ox = 0; ox < ow; ox++) {
                int x0, x1;
                bin(ox, w, ow, &x0, &x1);
                if (p.x < x0 || p.x >= x1) continue;
                float inv = 1.0f / (float)((y1 - y0) * (x1 - x0));
                acc = __fadd_rn(acc, __fmul_rn(g[((size_t)oy * ow + ox) * c], inv));
            }
        }
        dx[i] = acc;
    }
}

extern "C" {

cudaError_t xk_maxpool_fwd(cudaStream_t s, int n, int h, int w, int c, int k, int stride, int pad,
                           int oh, int ow, const float *x, float *y) {
    size_t t = (size_t)n * oh * ow * c;
    if (t)
        k_maxpool_fwd<<<xk_blocks(t), XK_THREADS, 0, s>>>(t, h, w, c, k, stride, pad, oh, ow, x, y);
    return cudaGetLastError();
}

cudaError_t xk_maxpool_bwd(cudaStream_t s, int n, int h, int w, int c, int k, int stride, int pad,
                           int oh, int ow, const float *x, const float *dy, float *dx) {
    size_t t = (size_t)n * h * w * c;
    if (t)
        k_maxpool_bwd<<<xk_blocks(t), XK_THREADS, 0, s>>>(t, h, w, c, k, stride, pad, oh, ow, x, dy,
                                                          dx);
    return cudaGetLastError();
}

cudaError_t xk_avgpool_fwd(cudaStream_t s, int n, int h, int w, int c, int oh, int ow,
                           const float *x, float *y) {
    size_t t = (size_t)n * oh * ow * c;
    if (t) k_avgpool_fwd<<<xk_blocks(t), XK_THREADS, 0, s>>>(t, h, w, c, oh, ow, x, y);
    return cudaGetLastError();
}

cudaError_t xk_avgpool_bwd(cudaStream_t s, int n, int h, int w, int c, int oh, int ow,
                           const float *dy, float *dx) {
    size_t t = (size_t)n * h * w * c;
    if (t) k_avgpool_bwd<<<xk_blocks(t), XK_THREADS, 0, s>>>(t, h, w, c, oh, ow, dy, dx);
    return cudaGetLastError();
}

} /* extern "C" */
