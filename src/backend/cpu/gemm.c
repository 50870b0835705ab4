/* GEMM for the CPU backend: OpenBLAS runs single-threaded inside OpenMP threads, each computing a
 * fixed block of C (rows or columns, whichever dimension is larger). Why: OpenBLAS's own thread
 * pool and OpenMP's threads spin against each other on few cores (a third of the time went to
 * sched_yield and OpenMP spin-waits on 2 cores); with one pool there is no oversubscription. Every
 * element of C is computed by one thread in OpenBLAS's fixed order, so results are deterministic
 * for a given thread count. */
#include <cblas.h>

#include "cpu_ops.h"
#include "reduce.h"

/* Blocks are multiples of this many rows/columns (the kernels' register tile). */
#define GEMM_ALIGN 16

void xfer_cpu_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                    int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    const enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
    const enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
    const int split_rows = m >= n;
    const int extent = split_rows ? m : n;
    int threads = XFER_MAX_THREADS();
    if (threads > 1 && extent >= 2 * GEMM_ALIGN && (double)m * n * k >= 1e6) {
#pragma omp parallel num_threads(threads)
        {
            int t = XFER_THREAD_ID(), nt = XFER_THREAD_COUNT();
            int blocks = (extent + GEMM_ALIGN - 1) / GEMM_ALIGN;
            int lo = (int)((long long)blocks * t / nt) * GEMM_ALIGN;
            int hi = (int)((long long)blocks * (t + 1) / nt) * GEMM_ALIGN;
            if (hi > extent) hi = extent;
            if (hi > lo) {
                if (split_rows) {
                    const float *as = trans_a ? a + lo : a + (size_t)lo * lda;
                    cblas_sgemm(CblasRowMajor, ta, tb, hi - lo, n, k, alpha, as, lda, b, ldb, beta,
                                c + (size_t)lo * ldc, ldc);
                } else {
                    const float *bs = trans_b ? b + (size_t)lo * ldb : b + lo;
                    cblas_sgemm(CblasRowMajor, ta, tb, m, hi - lo, k, alpha, a, lda, bs, ldb, beta,
                                c + lo, ldc);
                }
            }
        }
        return;
    }
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
