/* GEMM for the CPU backend: OpenBLAS runs single-threaded inside our OpenMP loop over tiles of C
 * (blocks of rows or of columns, whichever dimension is larger). Why OpenMP around a sequential
 * OpenBLAS: OpenBLAS's own thread pool and OpenMP's threads spin against each other on few cores (a
 * third of the time went to sched_yield and OpenMP spin-waits on 2 cores); with one pool there is
 * no oversubscription.
 *
 * The tiles depend only on the shape (m, n, k), never on the thread count: every tile is one
 * sequential OpenBLAS call with the same arguments whichever thread runs it and however many there
 * are, so C is bitwise the same for 1, 2 or 64 threads (OpenBLAS picks its kernels and blocking
 * from the call's shape, so cutting C by the thread count would not guarantee that). The tile
 * count is a multiple of 4 (the work divides evenly among 1, 2 or 4 threads) with tiles of at most
 * GEMM_TILE_MAX; narrow matrices get 2 tiles or 1, since each tile re-packs the operand it shares
 * with the others. */
#include <cblas.h>

#include "cpu_ops.h"

#define GEMM_ALIGN 16       /* tile edges are multiples of this (the kernels' register tile) */
#define GEMM_TILE_MAX 1024  /* rows or columns per tile, at most */
#define GEMM_TILE_MIN 64    /* ... and at least, where the extent allows */
#define GEMM_SERIAL_MNK 1e6 /* smaller products: one call */

/* Number of tiles along a dimension of `extent` (a function of the shape only). */
static int tile_count(int extent, double mnk) {
    if (mnk < GEMM_SERIAL_MNK || extent < 2 * GEMM_TILE_MIN) return 1;
    if (extent < 4 * GEMM_TILE_MIN) return 2;
    return 4 * ((extent + 4 * GEMM_TILE_MAX - 1) / (4 * GEMM_TILE_MAX));
}

void xfer_cpu_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                    int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    const enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
    const enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
    const int split_rows = m >= n;
    const int extent = split_rows ? m : n;
    const int tiles = tile_count(extent, (double)m * n * k);
    if (tiles == 1) {
        cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    const int blocks = (extent + GEMM_ALIGN - 1) / GEMM_ALIGN;
#pragma omp parallel for schedule(dynamic, 1)
    for (int t = 0; t < tiles; t++) {
        int lo = (int)((long long)blocks * t / tiles) * GEMM_ALIGN;
        int hi = (int)((long long)blocks * (t + 1) / tiles) * GEMM_ALIGN;
        if (hi > extent) hi = extent;
        if (hi <= lo) continue;
        if (split_rows) {
            const float *as = trans_a ? a + lo : a + (size_t)lo * lda;
            cblas_sgemm(CblasRowMajor, ta, tb, hi - lo, n, k, alpha, as, lda, b, ldb, beta,
                        c + (size_t)lo * ldc, ldc);
        } else {
            const float *bs = trans_b ? b + (size_t)lo * ldb : b + lo;
            cblas_sgemm(CblasRowMajor, ta, tb, m, hi - lo, k, alpha, a, lda, bs, ldb, beta, c + lo,
                        ldc);
        }
    }
}
