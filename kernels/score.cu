/* Score kernels for the transferability metrics: softmax with its row maximum (softmax_max), the
 * one-hot EMD closed form for every image at once, a batched log-domain Sinkhorn, and feature
 * statistics (means, per-class sums, centring for the covariance GEMM). All accumulation is in
 * double in a fixed order (deterministic). */
#include <math.h>

#include "common.cuh"

#define WARPS 8

__global__ void k_softmax_rowmax(int n, int k, const float *logits, float *probs, double *rowmax) {
    int row = blockIdx.x * WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= n) return;
    const float *l = logits + (size_t)row * k;
    float mx = -INFINITY;
    for (int j = lane; j < k; j += 32)
        mx = fmaxf(mx, l[j]);
    mx = xk_warp_max(mx);
    double s = 0.0;
    for (int j = lane; j < k; j += 32)
        s += exp((double)l[j] - mx);
    s = xk_warp_sum(s);
    /* no barrier needed: each lane writes only its own elements j = lane (mod 32) of probs, a
     * buffer apart from logits (a __syncwarp here was caught by no test: docs/gpu.md) */
    if (probs)
        for (int j = lane; j < k; j += 32)
            probs[(size_t)row * k + j] = (float)(exp((double)l[j] - mx) / s);
    if (lane == 0) rowmax[row] = 1.0 / s; /* exp(max - max) / s */
}

__global__ void k_emd_onehot(int n, int S, int T, const float *theta, const double *D,
                             const int32_t *labels, double *out) {
    int row = blockIdx.x * WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= n) return;
    int y = labels[row];
    if (y < 0 || y >= T) { /* a label outside the cost matrix: no value */
        if (lane == 0) out[row] = NAN;
        return;
    }
    double acc = 0.0;
    for (int s = lane; s < S; s += 32)
        acc += (double)theta[(size_t)row * S + s] * D[(size_t)s * T + y];
    acc = xk_warp_sum(acc);
    if (lane == 0) out[row] = acc;
}

/* log-sum-exp over j of (v[j] - D[.]) / eps with a stride into D, -inf terms ignored */
__device__ double lse_row(const double *v, const double *D, size_t d0, size_t dstride, int len,
                          double eps) {
    double m = -INFINITY;
    for (int j = 0; j < len; j++) {
        double t = (v[j] - D[d0 + (size_t)j * dstride]) / eps;
        if (t > m) m = t;
    }
    if (m == -INFINITY) return -INFINITY;
    double s = 0.0;
    for (int j = 0; j < len; j++) {
        double t = (v[j] - D[d0 + (size_t)j * dstride]) / eps;
        s += exp(t - m);
    }
    return m + log(s);
}

#define SK_THREADS 256

__global__ void k_sinkhorn(int S, int T, const double *a, const double *bh, const double *D,
                           double eps, int iters, double *out, double *work) {
    int p = blockIdx.x;
    const double *ap = a + (size_t)p * S, *bp = bh + (size_t)p * T;
    double *f = work + (size_t)p * (S + T), *g = f + S;
    for (int s = threadIdx.x; s < S; s += blockDim.x)
        f[s] = 0.0;
    for (int t = threadIdx.x; t < T; t += blockDim.x)
        g[t] = 0.0;
    __syncthreads();
    for (int it = 0; it < iters; it++) {
        for (int s = threadIdx.x; s < S; s += blockDim.x)
            f[s] = ap[s] > 0.0 ? eps * log(ap[s]) - eps * lse_row(g, D, (size_t)s * T, 1, T, eps)
                               : -INFINITY;
        __syncthreads();
        for (int t = threadIdx.x; t < T; t += blockDim.x)
            g[t] = bp[t] > 0.0 ? eps * log(bp[t]) - eps * lse_row(f, D, (size_t)t, T, S, eps)
                               : -INFINITY;
        __syncthreads();
    }
    __shared__ double part[SK_THREADS];
    double acc = 0.0;
    for (int s = threadIdx.x; s < S; s += blockDim.x) {
        if (f[s] == -INFINITY) continue;
        for (int t = 0; t < T; t++) {
            if (g[t] == -INFINITY) continue;
            double d = D[(size_t)s * T + t];
            acc += exp((f[s] + g[t] - d) / eps) * d;
        }
    }
    part[threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.x == 0) {
        double tot = 0.0;
        for (int i = 0; i < (int)blockDim.x; i++)
            tot += part[i];
        out[p] = tot;
    }
}

__global__ void k_feature_mean(int n, int F, const float *x, double *mean) {
    int f = blockIdx.x * blockDim.x + threadIdx.x;
    if (f >= F) return;
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += x[(size_t)i * F + f];
    mean[f] = s / n;
}

/* thread f owns column f of every class: no two threads write the same element */
__global__ void k_class_sums(int n, int F, int K, const float *x, const int32_t *labels,
                             double *sums, int *counts) {
    int f = blockIdx.x * blockDim.x + threadIdx.x;
    if (f >= F) return;
    for (int k = 0; k < K; k++)
        sums[(size_t)k * F + f] = 0.0;
    if (f == 0)
        for (int k = 0; k < K; k++)
            counts[k] = 0;
    for (int i = 0; i < n; i++) {
        int y = labels[i];
        if (y < 0 || y >= K) continue;
        sums[(size_t)y * F + f] += x[(size_t)i * F + f];
        if (f == 0) counts[y]++;
    }
}

__global__ void k_center(size_t total, int F, const float *x, const double *mean, double *xc) {
    XK_GRID_STRIDE(i, total) {
        xc[i] = (double)x[i] - mean[i % (size_t)F];
    }
}

extern "C" {

cudaError_t xk_softmax_rowmax(cudaStream_t s, int n, int k, const float *logits, float *probs,
                              double *rowmax) {
    if (n > 0)
        k_softmax_rowmax<<<(n + WARPS - 1) / WARPS, 32 * WARPS, 0, s>>>(n, k, logits, probs,
                                                                        rowmax);
    return cudaGetLastError();
}

cudaError_t xk_emd_onehot(cudaStream_t s, int n, int S, int T, const float *theta, const double *D,
                          const int32_t *labels, double *out) {
    if (n > 0)
        k_emd_onehot<<<(n + WARPS - 1) / WARPS, 32 * WARPS, 0, s>>>(n, S, T, theta, D, labels, out);
    return cudaGetLastError();
}

cudaError_t xk_sinkhorn_log(cudaStream_t s, int B, int S, int T, const double *a, const double *bh,
                            const double *D, double eps, int iters, double *out, double *work) {
    if (B > 0) k_sinkhorn<<<B, SK_THREADS, 0, s>>>(S, T, a, bh, D, eps, iters, out, work);
    return cudaGetLastError();
}

cudaError_t xk_feature_mean(cudaStream_t s, int n, int F, const float *feats, double *mean) {
    if (F > 0) k_feature_mean<<<(F + 127) / 128, 128, 0, s>>>(n, F, feats, mean);
    return cudaGetLastError();
}

cudaError_t xk_class_sums(cudaStream_t s, int n, int F, int K, const float *feats,
                          const int32_t *labels, double *sums, int *counts) {
    if (F > 0) k_class_sums<<<(F + 127) / 128, 128, 0, s>>>(n, F, K, feats, labels, sums, counts);
    return cudaGetLastError();
}

cudaError_t xk_center(cudaStream_t s, int n, int F, const float *feats, const double *mean,
                      double *xc) {
    size_t t = (size_t)n * F;
    if (t) k_center<<<xk_blocks(t), XK_THREADS, 0, s>>>(t, F, feats, mean, xc);
    return cudaGetLastError();
}

} /* extern "C" */
