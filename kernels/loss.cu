/* Fused softmax + cross-entropy and the row operations on logits: one warp per row, the max
 * subtracted before exp, sums in double (the CPU backend's formulas). The batch loss is summed
 * over rows in row order by one thread block (deterministic). */
#include <math.h>

#include "common.cuh"

#define ROWS_PER_BLOCK 8 /* warps per block */

__device__ float row_max(const float *l, int k, int lane) {
    float mx = -INFINITY;
    for (int j = lane; j < k; j += 32)
        mx = fmaxf(mx, l[j]);
    return xk_warp_max(mx);
}

__global__ void k_softmax_xent_rows(int n, int k, const float *logits, const int32_t *labels,
                                    float *dlogits, double *row_loss) {
    int row = blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= n) return;
    const float *l = logits + (size_t)row * k;
    float mx = row_max(l, k, lane);
    double s = 0.0;
    for (int j = lane; j < k; j += 32)
        s += exp((double)l[j] - mx);
    s = xk_warp_sum(s);
    double lse = log(s) + mx;
    int y = labels[row];
    if (lane == 0) row_loss[row] = lse - l[y];
    if (dlogits) {
        float *g = dlogits + (size_t)row * k;
        for (int j = lane; j < k; j += 32) {
            double p = exp((double)l[j] - lse);
            g[j] = (float)((p - (j == y ? 1.0 : 0.0)) / n);
        }
    }
}

/* one block of 32 threads: total in row order (lane-strided partials combined in lane order) */
__global__ void k_mean_loss(int n, const double *row_loss, float *loss) {
    __shared__ double part[32];
    double s = 0.0;
    int chunk = (n + 31) / 32, lo = threadIdx.x * chunk, hi = lo + chunk < n ? lo + chunk : n;
    for (int i = lo; i < hi; i++)
        s += row_loss[i];
    part[threadIdx.x] = s;
    __syncwarp();
    if (threadIdx.x == 0) {
        double t = 0.0;
        for (int i = 0; i < 32; i++)
            t += part[i];
        loss[0] = (float)(t / n);
    }
}

__global__ void k_softmax(int n, int k, const float *logits, float *probs) {
    int row = blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= n) return;
    const float *l = logits + (size_t)row * k;
    float mx = row_max(l, k, lane);
    double s = 0.0;
    for (int j = lane; j < k; j += 32)
        s += exp((double)l[j] - mx);
    s = xk_warp_sum(s);
    /* probs may alias logits: safe without a barrier, each lane reads and writes only its own
     * elements j = lane (mod 32) (a __syncwarp here was caught by no test: docs/gpu.md) */
    float *p = probs + (size_t)row * k;
    for (int j = lane; j < k; j += 32)
        p[j] = (float)(exp((double)l[j] - mx) / s);
}

/* first maximum of the row: per lane the first max of its strided elements, then the lowest
 * index among lanes with the overall max */
__device__ int row_argmax(const float *l, int k, int lane) {
    float best = -INFINITY;
    int arg = k;
    for (int j = lane; j < k; j += 32)
        if (arg == k || l[j] > best) {
            best = l[j];
            arg = j;
        }
    for (int o = 16; o > 0; o >>= 1) {
        float ob = __shfl_xor_sync(0xffffffffu, best, o);
        int oa = __shfl_xor_sync(0xffffffffu, arg, o);
        if (oa < k && (arg == k || ob > best || (ob == best && oa < arg))) {
            best = ob;
            arg = oa;
        }
    }
    return arg;
}

__global__ void k_argmax(int n, int k, const float *logits, int32_t *pred) {
    int row = blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= n) return;
    int a = row_argmax(logits + (size_t)row * k, k, lane);
    if (lane == 0) pred[row] = a;
}

__global__ void k_count_correct(int n, int k, const float *logits, const int32_t *labels,
                                float *correct) {
    __shared__ int hits[ROWS_PER_BLOCK];
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    int total = 0;
    for (int row = warp; row < n; row += ROWS_PER_BLOCK) {
        int a = row_argmax(logits + (size_t)row * k, k, lane);
        total += a == labels[row];
    }
    if (lane == 0) hits[warp] = total;
    __syncthreads();
    if (threadIdx.x == 0) {
        int t = 0;
        for (int w = 0; w < ROWS_PER_BLOCK; w++)
            t += hits[w];
        correct[0] += (float)t;
    }
}

extern "C" {

cudaError_t xk_softmax_xent(cudaStream_t s, int n, int k, const float *logits,
                            const int32_t *labels, float *loss, float *dlogits, double *scratch) {
    if (n <= 0) return cudaGetLastError();
    k_softmax_xent_rows<<<(n + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK, 32 * ROWS_PER_BLOCK, 0, s>>>(
        n, k, logits, labels, dlogits, scratch);
    k_mean_loss<<<1, 32, 0, s>>>(n, scratch, loss);
    return cudaGetLastError();
}

cudaError_t xk_softmax(cudaStream_t s, int n, int k, const float *logits, float *probs) {
    if (n > 0)
        k_softmax<<<(n + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK, 32 * ROWS_PER_BLOCK, 0, s>>>(
            n, k, logits, probs);
    return cudaGetLastError();
}

cudaError_t xk_argmax(cudaStream_t s, int n, int k, const float *logits, int32_t *pred) {
    if (n > 0)
        k_argmax<<<(n + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK, 32 * ROWS_PER_BLOCK, 0, s>>>(
            n, k, logits, pred);
    return cudaGetLastError();
}

cudaError_t xk_count_correct(cudaStream_t s, int n, int k, const float *logits,
                             const int32_t *labels, float *correct) {
    if (n > 0) k_count_correct<<<1, 32 * ROWS_PER_BLOCK, 0, s>>>(n, k, logits, labels, correct);
    return cudaGetLastError();
}

} /* extern "C" */
