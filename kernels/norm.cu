/* Batch normalisation over m rows of c channels (NHWC), the CPU backend's semantics: statistics
 * summed in double over a fixed partition of rows (deterministic), the mean rounded to float
 * before the variance pass, biased variance to normalise, unbiased for running_var. */
#include <math.h>

#include "common.cuh"

#define BN_ROWS 8

static int bn_parts(int m) {
    int p = (m + 511) / 512;
    if (p > 256) p = 256;
    return p < 1 ? 1 : p;
}

/* mode 0: sum x; 1: sum (x - mean)^2; 2: sum dy and sum dy * xhat (width 2c). Block (cx, r). */
__global__ void k_bn_part(int m, int c, int chunk, int mode, const float *x, const float *dy,
                          const float *mean, const float *invstd, double *part) {
    __shared__ double sh[2][BN_ROWS][32];
    int ch = blockIdx.x * 32 + threadIdx.x;
    int lo = blockIdx.y * chunk, hi = lo + chunk < m ? lo + chunk : m;
    double a0 = 0.0, a1 = 0.0;
    if (ch < c) {
        double mu = mode ? (double)mean[ch] : 0.0;
        double is = mode == 2 ? (double)invstd[ch] : 0.0;
        for (int r = lo + threadIdx.y; r < hi; r += BN_ROWS) {
            double v = x[(size_t)r * c + ch];
            if (mode == 0) {
                a0 += v;
            } else if (mode == 1) {
                double d = v - mu;
                a0 += d * d;
            } else {
                double g = dy[(size_t)r * c + ch];
                a0 += g;
                a1 += g * ((v - mu) * is);
            }
        }
    }
    sh[0][threadIdx.y][threadIdx.x] = a0;
    sh[1][threadIdx.y][threadIdx.x] = a1;
    __syncthreads();
    if (threadIdx.y == 0 && ch < c) {
        double s0 = 0.0, s1 = 0.0;
        for (int t = 0; t < BN_ROWS; t++) {
            s0 += sh[0][t][threadIdx.x];
            s1 += sh[1][t][threadIdx.x];
        }
        int width = mode == 2 ? 2 * c : c;
        part[(size_t)blockIdx.y * width + ch] = s0;
        if (mode == 2) part[(size_t)blockIdx.y * width + c + ch] = s1;
    }
}

/* out[j] = sum over parts, in part order */
__global__ void k_bn_sum(int width, int parts, const double *part, double *out) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= width) return;
    double s = 0.0;
    for (int p = 0; p < parts; p++)
        s += part[(size_t)p * width + j];
    out[j] = s;
}

__global__ void k_bn_mean(int m, int c, const double *sums, float *smean) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j < c) smean[j] = (float)(sums[j] / m);
}

__global__ void k_bn_var(int m, int c, const double *sq, const float *smean, float *rmean,
                         float *rvar, float momentum, float eps, float *sinv) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= c) return;
    double var = sq[j] / m;
    sinv[j] = (float)(1.0 / sqrt(var + eps));
    double unbiased = m > 1 ? sq[j] / (m - 1) : var;
    float om = 1.0f - momentum;
    rmean[j] = __fadd_rn(__fmul_rn(om, rmean[j]), __fmul_rn(momentum, smean[j]));
    rvar[j] = __fadd_rn(__fmul_rn(om, rvar[j]), __fmul_rn(momentum, (float)unbiased));
}

__global__ void k_bn_eval_stats(int c, const float *rmean, const float *rvar, float eps,
                                float *smean, float *sinv) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= c) return;
    smean[j] = rmean[j];
    sinv[j] = (float)(1.0 / sqrt((double)rvar[j] + eps));
}

__global__ void k_bn_normalize(size_t total, int c, const float *x, const float *gamma,
                               const float *beta, const float *mean, const float *invstd,
                               float *y) {
    XK_GRID_STRIDE(i, total) {
        int j = (int)(i % (size_t)c);
        float t = __fmul_rn(__fmul_rn(__fsub_rn(x[i], mean[j]), invstd[j]), gamma[j]);
        y[i] = __fadd_rn(t, beta[j]);
    }
}

/* k[0..c) = gamma*invstd, k[c..2c) = mean(dy), k[2c..3c) = mean(dy*xhat); dgamma/dbeta += */
__global__ void k_bn_bwd_coef(int m, int c, const double *sums, const float *gamma,
                              const float *sinv, int batch_stats, float *dgamma, float *dbeta,
                              float *k) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= c) return;
    dbeta[j] += (float)sums[j];
    dgamma[j] += (float)sums[c + j];
    k[j] = __fmul_rn(gamma[j], sinv[j]);
    k[c + j] = batch_stats ? (float)(sums[j] / m) : 0.0f;
    k[2 * c + j] = batch_stats ? (float)(sums[c + j] / m) : 0.0f;
}

__global__ void k_bn_bwd_dx(size_t total, int c, const float *x, const float *dy,
                            const float *smean, const float *sinv, const float *k, float *dx) {
    XK_GRID_STRIDE(i, total) {
        int j = (int)(i % (size_t)c);
        float xhat = __fmul_rn(__fsub_rn(x[i], smean[j]), sinv[j]);
        float t = __fsub_rn(__fsub_rn(dy[i], k[c + j]), __fmul_rn(xhat, k[2 * c + j]));
        dx[i] = __fmul_rn(k[j], t);
    }
}

static void bn_sums(cudaStream_t s, int m, int c, int mode, const float *x, const float *dy,
                    const float *mean, const float *invstd, double *scratch, double *out) {
    int parts = bn_parts(m), chunk = (m + parts - 1) / parts;
    int width = mode == 2 ? 2 * c : c;
    dim3 grid((unsigned)((c + 31) / 32), (unsigned)parts), block(32, BN_ROWS);
    k_bn_part<<<grid, block, 0, s>>>(m, c, chunk, mode, x, dy, mean, invstd, scratch);
    k_bn_sum<<<(width + 127) / 128, 128, 0, s>>>(width, parts, scratch, out);
}

extern "C" {

size_t xk_bn_scratch(int m, int c) {
    /* parts x 2c partials, 2c sums, 3c floats of coefficients (as doubles: 2c is enough room) */
    return (size_t)bn_parts(m) * 2 * c + 2 * (size_t)c + 2 * (size_t)c;
}

cudaError_t xk_bn_fwd_train(cudaStream_t s, int m, int c, const float *x, const float *gamma,
                            const float *beta, float *rmean, float *rvar, float momentum, float eps,
                            float *y, float *smean, float *sinv, double *scratch) {
    double *sums = scratch + (size_t)bn_parts(m) * 2 * c;
    unsigned cb = (unsigned)((c + 127) / 128);
    bn_sums(s, m, c, 0, x, NULL, NULL, NULL, scratch, sums);
    k_bn_mean<<<cb, 128, 0, s>>>(m, c, sums, smean);
    bn_sums(s, m, c, 1, x, NULL, smean, NULL, scratch, sums);
    k_bn_var<<<cb, 128, 0, s>>>(m, c, sums, smean, rmean, rvar, momentum, eps, sinv);
    size_t t = (size_t)m * c;
    k_bn_normalize<<<xk_blocks(t), XK_THREADS, 0, s>>>(t, c, x, gamma, beta, smean, sinv, y);
    return cudaGetLastError();
}

cudaError_t xk_bn_fwd_eval(cudaStream_t s, int m, int c, const float *x, const float *gamma,
                           const float *beta, const float *rmean, const float *rvar, float eps,
                           float *y, float *smean, float *sinv) {
    k_bn_eval_stats<<<(c + 127) / 128, 128, 0, s>>>(c, rmean, rvar, eps, smean, sinv);
    size_t t = (size_t)m * c;
    if (t) k_bn_normalize<<<xk_blocks(t), XK_THREADS, 0, s>>>(t, c, x, gamma, beta, smean, sinv, y);
    return cudaGetLastError();
}

cudaError_t xk_bn_bwd(cudaStream_t s, int m, int c, const float *x, const float *dy,
                      const float *gamma, const float *smean, const float *sinv, int batch_stats,
                      float *dx, float *dgamma, float *dbeta, double *scratch) {
    double *sums = scratch + (size_t)bn_parts(m) * 2 * c;
    float *k = (float *)(sums + 2 * (size_t)c);
    bn_sums(s, m, c, 2, x, dy, smean, sinv, scratch, sums);
    k_bn_bwd_coef<<<(c + 127) / 128, 128, 0, s>>>(m, c, sums, gamma, sinv, batch_stats, dgamma,
                                                  dbeta, k);
    size_t t = (size_t)m * c;
    k_bn_bwd_dx<<<xk_blocks(t), XK_THREADS, 0, s>>>(t, c, x, dy, smean, sinv, k, dx);
    return cudaGetLastError();
}

} /* extern "C" */
