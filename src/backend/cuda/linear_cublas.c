/* Linear layers through cuBLAS. Row-major [rows][cols] is column-major [cols][rows], so
 *   y[n][out]   = x W^T       is  Y^T  (out x n)  = gemm(T, N, W (in x out, ld in), X^T)
 *   dx[n][in]   = dy W        is  dX^T (in x n)   = gemm(N, N, W^T, dY^T)
 *   dw[out][in] += dy^T x     is  dW^T (in x out) = gemm(N, T, X^T, dY^T) with beta 1
 * The compute type follows the precision: CUBLAS_COMPUTE_32F (fp32, no TF32: the handle stays in
 * CUBLAS_DEFAULT_MATH), CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_COMPUTE_32F_FAST_16BF (bf16 products,
 * fp32 accumulation, fp32 storage: the master weights stay fp32). */
#include "cuda_internal.h"
#include "cuda_kernels.h"

static cublasComputeType_t compute_type(xfer_precision p) {
    if (p == XFER_PREC_TF32) return CUBLAS_COMPUTE_32F_FAST_TF32;
    if (p == XFER_PREC_BF16) return CUBLAS_COMPUTE_32F_FAST_16BF;
    return CUBLAS_COMPUTE_32F;
}

int xfer_cuda_apply_precision(xfer_backend *b) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    /* DEFAULT_MATH: TF32 only where a FAST_TF32 compute type asks for it */
    return CU_BLAS(b, cublasSetMathMode(c->cublas, CUBLAS_DEFAULT_MATH));
}

static int gemm(xfer_backend *b, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    const float alpha = 1.0f;
    return CU_BLAS(b, cublasGemmEx(c->cublas, ta, tb, m, n, k, &alpha, A, CUDA_R_32F, lda, B,
                                   CUDA_R_32F, ldb, &beta, C, CUDA_R_32F, ldc,
                                   compute_type(c->prec), CUBLAS_GEMM_DEFAULT));
}

static void linear_fwd(xfer_backend *b, int n, int in, int out, const float *x, const float *w,
                       const float *bias, float *y) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    float beta = 0.0f;
    if (bias) {
        if (CU_LAUNCH(b, xk_fill_rows(c->stream, (size_t)n, out, bias, y))) return;
        beta = 1.0f;
    }
    gemm(b, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, w, in, x, in, beta, y, out);
}

static void linear_bwd(xfer_backend *b, int n, int in, int out, const float *x, const float *w,
                       const float *dy, float *dx, float *dw, float *dbias) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    if (dx && gemm(b, CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, w, in, dy, out, 0.0f, dx, in)) return;
    if (gemm(b, CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, x, in, dy, out, 1.0f, dw, in)) return;
    if (dbias) {
        double *scr = xfer_cuda_reduce_scratch(b, xk_colsum_scratch((size_t)n, out));
        if (scr) CU_LAUNCH(b, xk_colsum_add(c->stream, (size_t)n, out, dy, dbias, scr));
    }
}

void xfer_cuda_install_linear(xfer_backend *b) {
    b->linear_forward = linear_fwd;
    b->linear_backward = linear_bwd;
}
