/* knn: leave-one-out k-nearest-neighbour accuracy of the target labels in the source's feature
 * space (Sorkhei et al. 2025 report it ranks sources better than the field's metrics). For each
 * sample i the k nearest other samples (distance `euclidean`, or `cosine` = 1 - cos, which ranks
 * as the euclidean distance of the rows scaled to unit length; equal distances: the lower index
 * first) vote; the prediction is the most frequent label among them (ties: the smallest label, as
 * sklearn's KNeighborsClassifier); knn = the fraction of samples predicted correctly. Squared
 * distances |x_j|^2 - 2 x_i.x_j (+ |x_i|^2) from float64 GEMMs over tiles of the Gram matrix's
 * upper triangle (shared out over the threads), the k smallest of each row kept by insertion.
 * Needs k < N. Higher is better. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "scores_internal.h"

#define KNN_K_DEFAULT 10 /* xfer's choice (the k is a parameter) */
#define KNN_ROWS 256     /* rows of a tile of the Gram matrix (one GEMM) */
#define KNN_COLS 1024    /* its columns */

/* A row's k nearest so far: bd ascending (squared distance less the row's own |x_i|^2), bi their
 * indices, *m of them filled. Candidates are ordered by (distance, index), so equal distances
 * keep the lower index whatever order the candidates arrive in. */
static inline int knn_before(double da, int ja, double db, int jb) {
    return da < db || (da == db && ja < jb);
}

static inline void knn_offer(double *bd, int *bi, int *m, int k, double dj, int j) {
    if (*m == k && !knn_before(dj, j, bd[k - 1], bi[k - 1])) return;
    int p = *m < k ? (*m)++ : k - 1;
    while (p > 0 && knn_before(dj, j, bd[p - 1], bi[p - 1])) {
        bd[p] = bd[p - 1];
        bi[p] = bi[p - 1];
        p--;
    }
    bd[p] = dj;
    bi[p] = j;
}

/* Tiles in row block ib of the Gram matrix's upper triangle: its columns from the block's first
 * row on, KNN_COLS at a time. */
static inline int knn_block_tiles(int n, int ib) {
    return (n - ib * KNN_ROWS + KNN_COLS - 1) / KNN_COLS;
}

/* A tile of the Gram matrix's upper triangle: rows i0..i0+ni-1 against rows j0..j0+nj-1,
 * j0 >= i0 (one GEMM into G [ni,nj]). Each pair's squared distance is offered to both of its rows,
 * except where both rows are in the tile's row block: there each of the two entries G[r][c],
 * G[c][r] gives its own row its candidate (and the diagonal none). The thread's own lists
 * bd/bi/fill. */
static void knn_tile(const double *X, const double *sq, int d, int k, int i0, int ni, int j0,
                     int nj, double *G, double *bd, int *bi, int *fill) {
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ni, nj, d, 1.0, X + (size_t)i0 * d, d,
                X + (size_t)j0 * d, d, 0.0, G, nj);
    const int cin = i0 + ni - j0 > 0 ? i0 + ni - j0 : 0; /* columns c < cin: rows of the block */
    for (int r = 0; r < ni; r++) {
        const int i = i0 + r;
        const double *g = G + (size_t)r * nj;
        for (int c = 0; c < nj; c++)
            if (j0 + c != i)
                knn_offer(bd + (size_t)i * k, bi + (size_t)i * k, fill + i, k,
                          sq[j0 + c] - 2 * g[c], j0 + c);
        for (int c = cin; c < nj; c++)
            knn_offer(bd + (size_t)(j0 + c) * k, bi + (size_t)(j0 + c) * k, fill + j0 + c, k,
                      sq[i] - 2 * g[c], i);
    }
}

int xfer_metric_knn(const xfer_metric_input *in, const xfer_metric_params *p,
                    xfer_metric_result *out, xfer_err *err) {
    long k;
    int cosine;
    if (xfer_metric_param_int(p, "knn", "k", KNN_K_DEFAULT, 1, 1000000, &k, err) ||
        xfer_metric_param_choice(p, "knn", "distance", "euclidean|cosine", 0, &cosine, err))
        return err->code;
    const int n = in->n, d = in->d, ct = in->ct, kk = (int)k;
    if (k >= n)
        return xfer_fail(err, XFER_EINPUT,
                         "knn: k = %ld needs more than k samples (N = %d; each sample's neighbours "
                         "are the other N - 1)",
                         k, n);
    double *X = xfer_features_f64(in), *sq = malloc((size_t)n * sizeof *sq), *bd = NULL;
    int *bi = NULL, *fill = NULL, rc = XFER_OK, nt = omp_get_max_threads();
    if (!X || !sq) {
        rc = XFER_OOM(err);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        double *x = X + (size_t)i * d;
        sq[i] = cblas_ddot(d, x, 1, x, 1);
        if (cosine) {
            if (!(sq[i] > 0)) {
                rc = xfer_fail(err, XFER_EINPUT,
                               "knn: features[%d] is zero, its cosine distance is undefined", i);
                goto done;
            }
            cblas_dscal(d, 1.0 / sqrt(sq[i]), x, 1);
            sq[i] = 1.0;
        }
    }
    /* The Gram matrix's upper triangle (half the GEMM work of the full matrix) in fixed tiles:
     * KNN_ROWS rows of block row ib against KNN_COLS columns at a time from its first row on,
     * shared out over the threads. Every thread keeps its own k nearest of each row, merged by
     * (distance, index) at the end. A pair's distance comes from the same tile's GEMM whatever
     * the thread count, and the k nearest under that order do not depend on which thread saw
     * which candidate: the result is independent of the thread count. */
    const int nb = (n + KNN_ROWS - 1) / KNN_ROWS;
    int ntiles = 0;
    for (int ib = 0; ib < nb; ib++)
        ntiles += knn_block_tiles(n, ib);
    if (nt > ntiles) nt = ntiles;
    if (nt < 1) nt = 1;
    bd = malloc((size_t)nt * n * kk * sizeof *bd);
    bi = malloc((size_t)nt * n * kk * sizeof *bi);
    fill = calloc((size_t)nt * n, sizeof *fill);
    if (!bd || !bi || !fill) {
        rc = XFER_OOM(err);
        goto done;
    }
    int oom = 0;
#pragma omp parallel num_threads(nt) reduction(| : oom)
    {
        const int t = omp_get_thread_num();
        double *G = malloc((size_t)KNN_ROWS * KNN_COLS * sizeof *G);
        if (!G) oom = 1;
#pragma omp for schedule(dynamic)
        for (int q = 0; q < ntiles; q++) {
            int ib = 0, r = q; /* tile q: row block ib, column chunk r from its first row */
            while (r >= knn_block_tiles(n, ib)) {
                r -= knn_block_tiles(n, ib);
                ib++;
            }
            const int i0 = ib * KNN_ROWS, j0 = i0 + r * KNN_COLS;
            const int ni = n - i0 < KNN_ROWS ? n - i0 : KNN_ROWS,
                      nj = n - j0 < KNN_COLS ? n - j0 : KNN_COLS;
            if (G)
                knn_tile(X, sq, d, kk, i0, ni, j0, nj, G, bd + (size_t)t * n * kk,
                         bi + (size_t)t * n * kk, fill + (size_t)t * n);
        }
        free(G);
    }
    if (oom) {
        rc = XFER_OOM(err);
        goto done;
    }
    /* merge the threads' lists into thread 0's */
    for (int t = 1; t < nt; t++)
#pragma omp parallel for schedule(static)
        for (int i = 0; i < n; i++) {
            const double *sd = bd + ((size_t)t * n + i) * kk;
            const int *si = bi + ((size_t)t * n + i) * kk;
            for (int q = 0; q < fill[(size_t)t * n + i]; q++)
                knn_offer(bd + (size_t)i * kk, bi + (size_t)i * kk, fill + i, kk, sd[q], si[q]);
        }
    long correct = 0;
#pragma omp parallel reduction(+ : correct) reduction(| : oom)
    {
        int *votes = calloc((size_t)ct, sizeof *votes);
        if (!votes) oom = 1;
#pragma omp for schedule(static)
        for (int i = 0; i < n; i++) {
            if (oom) continue;
            const int *nbr = bi + (size_t)i * k;
            int best = 0;
            for (int q = 0; q < fill[i]; q++) /* k after the merge: N - 1 >= k candidates */
                votes[in->labels[nbr[q]]]++;
            for (int c = 1; c < ct; c++)
                if (votes[c] > votes[best]) best = c;
            for (int q = 0; q < fill[i]; q++)
                votes[in->labels[nbr[q]]] = 0;
            correct += best == in->labels[i];
        }
        free(votes);
    }
    if (oom) rc = XFER_OOM(err);
    if (rc == XFER_OK) out->value = (double)correct / n;
done:
    free(X);
    free(sq);
    free(bd);
    free(bi);
    free(fill);
    return rc;
}
