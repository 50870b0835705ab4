/* Elementwise kernels: ReLU, residual add, dropout (the shared counter-based RNG), bias rows,
 * deterministic column sums, bf16 conversions, the one-launch SGD and layout transposes. */
#include <cuda_bf16.h>

#include "common.cuh"

__global__ void k_relu_fwd(size_t n, const float *x, float *y) {
    XK_GRID_STRIDE(i, n) {
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    }
}

__global__ void k_relu_bwd(size_t n, const float *y, const float *dy, float *dx) {
    XK_GRID_STRIDE(i, n) {
        dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
    }
}

__global__ void k_add(size_t n, const float *a, const float *c, float *y) {
    XK_GRID_STRIDE(i, n) {
        y[i] = a[i] + c[i];
    }
}

/* include/xfer/backend.h: u = (splitmix64(seed ^ (golden * (counter + 1))) >> 40) * 2^-24 */
__device__ __forceinline__ float dropout_uniform(uint64_t seed, uint64_t counter) {
    uint64_t z = seed ^ (0x9E3779B97F4A7C15ull * (counter + 1));
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z = z ^ (z >> 31);
    return (float)(z >> 40) * (1.0f / 16777216.0f);
}

__global__ void k_dropout_fwd(size_t n, float p, uint64_t seed, uint64_t offset, const float *x,
                              float *y, uint8_t *mask) {
    const float scale = 1.0f / (1.0f - p);
    XK_GRID_STRIDE(i, n) {
        int keep = p <= 0.0f || dropout_uniform(seed, offset + i) >= p;
        mask[i] = (uint8_t)keep;
        y[i] = keep ? (p <= 0.0f ? x[i] : __fmul_rn(x[i], scale)) : 0.0f;
    }
}

__global__ void k_dropout_bwd(size_t n, float p, const uint8_t *mask, const float *dy, float *dx) {
    const float scale = p <= 0.0f ? 1.0f : 1.0f / (1.0f - p);
    XK_GRID_STRIDE(i, n) {
        dx[i] = mask[i] ? __fmul_rn(dy[i], scale) : 0.0f;
    }
}

__global__ void k_fill_rows(size_t total, int cols, const float *bias, float *y) {
    XK_GRID_STRIDE(i, total) {
        y[i] = bias[i % (size_t)cols];
    }
}

__global__ void k_add_rows(size_t total, int cols, const float *bias, float *y) {
    XK_GRID_STRIDE(i, total) {
        y[i] += bias[i % (size_t)cols];
    }
}

/* Column sums in two deterministic stages: block (cx, r) sums rows [r*chunk, (r+1)*chunk) of
 * columns cx*32 .. cx*32+31 into part[r][col]; then each column sums its parts in order. */
#define CS_ROWS 8
static size_t colsum_parts(size_t rows) {
    size_t p = (rows + 255) / 256;
    if (p > 256) p = 256;
    return p < 1 ? 1 : p;
}

__global__ void k_colsum_part(size_t rows, int cols, size_t chunk, const float *a, double *part) {
    __shared__ double sh[CS_ROWS][32];
    int col = blockIdx.x * 32 + threadIdx.x;
    size_t lo = (size_t)blockIdx.y * chunk, hi = lo + chunk < rows ? lo + chunk : rows;
    double acc = 0.0;
    if (col < cols)
        for (size_t r = lo + threadIdx.y; r < hi; r += CS_ROWS)
            acc += a[r * cols + col];
    sh[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && col < cols) {
        double s = 0.0;
        for (int t = 0; t < CS_ROWS; t++)
            s += sh[t][threadIdx.x];
        part[(size_t)blockIdx.y * cols + col] = s;
    }
}

__global__ void k_colsum_final(int cols, size_t parts, const double *part, float *out) {
    int col = blockIdx.x * blockDim.x + threadIdx.x;
    if (col >= cols) return;
    double s = 0.0;
    for (size_t p = 0; p < parts; p++)
        s += part[p * cols + col];
    out[col] += (float)s;
}

__global__ void k_f32_to_bf16(size_t n, const float *src, __nv_bfloat16 *dst) {
    XK_GRID_STRIDE(i, n) {
        dst[i] = __float2bfloat16_rn(src[i]);
    }
}

__global__ void k_bf16_to_f32(size_t n, const __nv_bfloat16 *src, float *dst, int acc) {
    XK_GRID_STRIDE(i, n) {
        float v = __bfloat162float(src[i]);
        dst[i] = acc ? dst[i] + v : v;
    }
}

/* torch.optim.SGD, dampening 0, the CPU backend's float operations in its order (no FMA). */
__device__ __forceinline__ void sgd_one(size_t i, float *params, const float *grads, float *buf,
                                        float lr, float momentum, float wd, int nesterov,
                                        int first_step) {
    float p = params[i];
    float g = grads[i];
    if (wd != 0.0f) g = __fadd_rn(g, __fmul_rn(wd, p));
    if (momentum != 0.0f) {
        float b = first_step ? g : __fadd_rn(__fmul_rn(momentum, buf[i]), g);
        buf[i] = b;
        g = nesterov ? __fadd_rn(g, __fmul_rn(momentum, b)) : b;
    }
    params[i] = __fsub_rn(p, __fmul_rn(lr, g));
}

__global__ void k_sgd(size_t n, float *params, const float *grads, float *buf, float lr,
                      float momentum, float wd, int nesterov, int first_step) {
    XK_GRID_STRIDE(i, n) {
        sgd_one(i, params, grads, buf, lr, momentum, wd, nesterov, first_step);
    }
}

/* The learning rate from device memory: read when the kernel runs, so a captured graph follows
 * the schedule. */
__global__ void k_sgd_dev(size_t n, float *params, const float *grads, float *buf, const float *lr,
                          float momentum, float wd, int nesterov, int first_step) {
    const float l = *lr;
    XK_GRID_STRIDE(i, n) {
        sgd_one(i, params, grads, buf, l, momentum, wd, nesterov, first_step);
    }
}

/* y[i] += alpha * x[i] (one rounding for the product, one for the sum, as the CPU's a*b+c
 * without contraction). */
__global__ void k_axpy(size_t n, float alpha, const float *x, float *y) {
    XK_GRID_STRIDE(i, n) {
        y[i] = __fadd_rn(y[i], __fmul_rn(alpha, x[i]));
    }
}

__global__ void k_nchw_to_nhwc(size_t total, int c, int h, int w, const float *src, float *dst) {
    XK_GRID_STRIDE(i, total) { /* i indexes dst [n][h][w][c] */
        size_t ch = i % c, r = i / c;
        size_t x = r % w;
        r /= w;
        size_t y = r % h, img = r / h;
        dst[i] = src[((img * c + ch) * h + y) * w + x];
    }
}

__global__ void k_nhwc_to_nchw(size_t total, int c, int h, int w, const float *src, float *dst) {
    XK_GRID_STRIDE(i, total) { /* i indexes dst [n][c][h][w] */
        size_t x = i % w, r = i / w;
        size_t y = r % h;
        r /= h;
        size_t ch = r % c, img = r / c;
        dst[i] = src[((img * h + y) * w + x) * c + ch];
    }
}

extern "C" {

cudaError_t xk_relu_fwd(cudaStream_t s, size_t n, const float *x, float *y) {
    if (n) k_relu_fwd<<<xk_blocks(n), XK_THREADS, 0, s>>>(n, x, y);
    return cudaGetLastError();
}

cudaError_t xk_relu_bwd(cudaStream_t s, size_t n, const float *y, const float *dy, float *dx) {
    if (n) k_relu_bwd<<<xk_blocks(n), XK_THREADS, 0, s>>>(n, y, dy, dx);
    return cudaGetLastError();
}

cudaError_t xk_add(cudaStream_t s, size_t n, const float *a, const float *c, float *y) {
    if (n) k_add<<<xk_blocks(n), XK_THREADS, 0, s>>>(n, a, c, y);
    return cudaGetLastError();
}

cudaError_t xk_dropout_fwd(cudaStream_t s, size_t n, float p, uint64_t seed, uint64_t offset,
                           const float *x, float *y, uint8_t *mask) {
    if (n) k_dropout_fwd<<<xk_blocks(n), XK_THREADS, 0, s>>>(n, p, seed, offset, x, y, mask);
    return cudaGetLastError();
}

cudaError_t xk_dropout_bwd(cudaStream_t s, size_t n, float p, const uint8_t *mask, const float *dy,
                           float *dx) {
    if (n) k_dropout_bwd<<<xk_blocks(n), XK_THREADS, 0, s>>>(n, p, mask, dy, dx);
    return cudaGetLastError();
}

cudaError_t xk_fill_rows(cudaStream_t s, size_t rows, int cols, const float *bias, float *y) {
    size_t t = rows * (size_t)cols;
    if (t) k_fill_rows<<<xk_blocks(t), XK_THREADS, 0, s>>>(t, cols, bias, y);
    return cudaGetLastError();
}

cudaError_t xk_add_rows(cudaStream_t s, size_t rows, int cols, const float *bias, float *y) {
    size_t t = rows * (size_t)cols;
    if (t) k_add_rows<<<xk_blocks(t), XK_THREADS, 0, s>>>(t, cols, bias, y);
    return cudaGetLastError();
}

size_t xk_colsum_scratch(size_t rows, int cols) {
    return colsum_parts(rows) * (size_t)cols;
}

cudaError_t xk_colsum_add(cudaStream_t s, size_t rows, int cols, const float *a, float *out,
                          double *scratch) {
    if (!rows || cols <= 0) return cudaGetLastError();
    size_t parts = colsum_parts(rows), chunk = (rows + parts - 1) / parts;
    dim3 grid((unsigned)((cols + 31) / 32), (unsigned)parts), block(32, CS_ROWS);
    k_colsum_part<<<grid, block, 0, s>>>(rows, cols, chunk, a, scratch);
    k_colsum_final<<<(cols + 127) / 128, 128, 0, s>>>(cols, parts, scratch, out);
    return cudaGetLastError();
}

cudaError_t xk_f32_to_bf16(cudaStream_t s, size_t n, const float *src, void *dst) {
    if (n) k_f32_to_bf16<<<xk_blocks(n), XK_THREADS, 0, s>>>(n, src, (__nv_bfloat16 *)dst);
    return cudaGetLastError();
}

cudaError_t xk_bf16_to_f32(cudaStream_t s, size_t n, const void *src, float *dst, int acc) {
    if (n)
        k_bf16_to_f32<<<xk_blocks(n), XK_THREADS, 0, s>>>(n, (const __nv_bfloat16 *)src, dst, acc);
    return cudaGetLastError();
}

cudaError_t xk_sgd(cudaStream_t s, size_t n, float *params, const float *grads, float *buf,
                   float lr, float momentum, float wd, int nesterov, int first_step) {
    if (n)
        k_sgd<<<xk_blocks(n), XK_THREADS, 0, s>>>(n, params, grads, buf, lr, momentum, wd, nesterov,
                                                  first_step);
    return cudaGetLastError();
}

cudaError_t xk_sgd_dev(cudaStream_t s, size_t n, float *params, const float *grads, float *buf,
                       const float *lr, float momentum, float wd, int nesterov, int first_step) {
    if (n)
        k_sgd_dev<<<xk_blocks(n), XK_THREADS, 0, s>>>(n, params, grads, buf, lr, momentum, wd,
                                                      nesterov, first_step);
    return cudaGetLastError();
}

cudaError_t xk_axpy(cudaStream_t s, size_t n, float alpha, const float *x, float *y) {
    if (n) k_axpy<<<xk_blocks(n), XK_THREADS, 0, s>>>(n, alpha, x, y);
    return cudaGetLastError();
}

cudaError_t xk_nchw_to_nhwc(cudaStream_t s, int n, int c, int h, int w, const float *src,
                            float *dst) {
    size_t t = (size_t)n * c * h * w;
    if (t) k_nchw_to_nhwc<<<xk_blocks(t), XK_THREADS, 0, s>>>(t, c, h, w, src, dst);
    return cudaGetLastError();
}

cudaError_t xk_nhwc_to_nchw(cudaStream_t s, int n, int c, int h, int w, const float *src,
                            float *dst) {
    size_t t = (size_t)n * c * h * w;
    if (t) k_nhwc_to_nchw<<<xk_blocks(t), XK_THREADS, 0, s>>>(t, c, h, w, src, dst);
    return cudaGetLastError();
}

} /* extern "C" */
