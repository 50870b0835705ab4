/* knn: leave-one-out k-nearest-neighbour accuracy of the target labels in the source's feature
 * space (Sorkhei et al. 2025 report it ranks sources better than the field's metrics). For each
 * sample i the k nearest other samples (distance `euclidean`, or `cosine` = 1 - cos, which ranks
 * as the euclidean distance of the rows scaled to unit length; equal distances: the lower index
 * first) vote; the prediction is the most frequent label among them (ties: the smallest label, as
 * sklearn's KNeighborsClassifier); knn = the fraction of samples predicted correctly. Squared
 * distances |x_j|^2 - 2 x_i.x_j (+ |x_i|^2) from float64 GEMMs over the Gram matrix's upper
 * triangle, the k smallest of each row kept by insertion. Needs k < N. Higher is
 * better. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "scores_internal.h"

#define KNN_K_DEFAULT 10 /* xfer's choice (the k is a parameter) */
#define KNN_BLOCK 256    /* rows of the distance matrix per GEMM */

/* Offers candidate j at squared distance dj (less the row's own |x_i|^2) to a row's k smallest,
 * kept ascending in bd/bi with *m filled. Candidates arrive in ascending j, so on equal distances
 * the earlier index stays. */
static inline void knn_offer(double *bd, int *bi, int *m, int k, double dj, int j) {
    if (*m == k && !(dj < bd[k - 1])) return;
    int p = *m < k ? (*m)++ : k - 1;
    while (p > 0 && bd[p - 1] > dj) {
        bd[p] = bd[p - 1];
        bi[p] = bi[p - 1];
        p--;
    }
    bd[p] = dj;
    bi[p] = j;
}

int xfer_metric_knn(const xfer_metric_input *in, const xfer_metric_params *p,
                    xfer_metric_result *out, xfer_err *err) {
    long k;
    int cosine;
    if (xfer_metric_param_int(p, "knn", "k", KNN_K_DEFAULT, 1, 1000000, &k, err) ||
        xfer_metric_param_choice(p, "knn", "distance", "euclidean|cosine", 0, &cosine, err))
        return err->code;
    const int n = in->n, d = in->d, ct = in->ct;
    if (k >= n)
        return xfer_fail(err, XFER_EINPUT,
                         "knn: k = %ld needs more than k samples (N = %d; each sample's neighbours "
                         "are the other N - 1)",
                         k, n);
    double *X = xfer_features_f64(in), *sq = malloc((size_t)n * sizeof *sq);
    double *G = malloc((size_t)KNN_BLOCK * n * sizeof *G), *bd = NULL;
    int *bi = NULL, *fill = NULL, rc = XFER_OK;
    if (!X || !sq || !G) {
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
    /* The Gram matrix's upper triangle, a block of KNN_BLOCK rows at a time (half the GEMM work
     * of the full matrix): block row I (rows i0.., columns i0..n-1) gives the rows of block I
     * their candidates from column i0 on, and every later row j its candidates in block I (column
     * j of the block row, read row by row so that each thread walks its columns in order). Block
     * rows go in ascending order, so every row meets its candidates in ascending index order. */
    bd = malloc((size_t)n * k * sizeof *bd);
    bi = malloc((size_t)n * k * sizeof *bi);
    fill = calloc((size_t)n, sizeof *fill);
    if (!bd || !bi || !fill) {
        rc = XFER_OOM(err);
        goto done;
    }
    for (int i0 = 0; i0 < n; i0 += KNN_BLOCK) {
        const int ni = n - i0 < KNN_BLOCK ? n - i0 : KNN_BLOCK, w = n - i0;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ni, w, d, 1.0, X + (size_t)i0 * d, d,
                    X + (size_t)i0 * d, d, 0.0, G, w);
#pragma omp parallel
        {
#pragma omp for schedule(static) nowait
            for (int r = 0; r < ni; r++) { /* the rows of block I */
                const int i = i0 + r;
                for (int c = 0; c < w; c++)
                    if (c != r)
                        knn_offer(bd + (size_t)i * k, bi + (size_t)i * k, fill + i, (int)k,
                                  sq[i0 + c] - 2 * G[(size_t)r * w + c], i0 + c);
            }
            /* the later rows, in chunks of columns */
            const int nt = omp_get_num_threads(), t = omp_get_thread_num();
            const int span = w - ni, c0 = ni + (int)((long)span * t / nt),
                      c1 = ni + (int)((long)span * (t + 1) / nt);
            for (int r = 0; r < ni; r++)
                for (int c = c0; c < c1; c++)
                    knn_offer(bd + (size_t)(i0 + c) * k, bi + (size_t)(i0 + c) * k, fill + i0 + c,
                              (int)k, sq[i0 + r] - 2 * G[(size_t)r * w + c], i0 + r);
        }
    }
    long correct = 0;
    int oom = 0;
#pragma omp parallel reduction(+ : correct) reduction(| : oom)
    {
        int *votes = calloc((size_t)ct, sizeof *votes);
        if (!votes) oom = 1;
#pragma omp for schedule(static)
        for (int i = 0; i < n; i++) {
            if (oom) continue;
            const int *nb = bi + (size_t)i * k;
            int best = 0;
            for (int q = 0; q < k; q++)
                votes[in->labels[nb[q]]]++;
            for (int c = 1; c < ct; c++)
                if (votes[c] > votes[best]) best = c;
            for (int q = 0; q < k; q++)
                votes[in->labels[nb[q]]] = 0;
            correct += best == in->labels[i];
        }
        free(votes);
    }
    if (oom) rc = XFER_OOM(err);
    if (rc == XFER_OK) out->value = (double)correct / n;
done:
    free(X);
    free(sq);
    free(G);
    free(bd);
    free(bi);
    free(fill);
    return rc;
}
