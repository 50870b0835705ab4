/* knn: leave-one-out k-nearest-neighbour accuracy of the target labels in the source's feature
 * space (Sorkhei et al. 2025 report it ranks sources better than the field's metrics). For each
 * sample i the k nearest other samples (distance `euclidean`, or `cosine` = 1 - cos, which ranks
 * as the euclidean distance of the rows scaled to unit length; equal distances: the lower index
 * first) vote; the prediction is the most frequent label among them (ties: the smallest label, as
 * sklearn's KNeighborsClassifier); knn = the fraction of samples predicted correctly. Squared
 * distances |x_j|^2 - 2 x_i.x_j (+ |x_i|^2) from a blocked float64 GEMM, the k smallest kept by
 * insertion. Needs k < N. Higher is better. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "scores_internal.h"

#define KNN_K_DEFAULT 10 /* xfer's choice (the k is a parameter) */
#define KNN_BLOCK 256    /* rows of the distance matrix per GEMM */

/* Keeps the k smallest (dist, index) pairs of one row in ascending order. */
static void knn_row(const double *g, const double *sq, int n, int self, int k, double *bd,
                    int *bi) {
    int m = 0;
    for (int j = 0; j < n; j++) {
        if (j == self) continue;
        double dj = sq[j] - 2 * g[j];
        if (m == k && !(dj < bd[k - 1])) continue; /* equal: the earlier index stays */
        int p = m < k ? m++ : k - 1;
        while (p > 0 && bd[p - 1] > dj) {
            bd[p] = bd[p - 1];
            bi[p] = bi[p - 1];
            p--;
        }
        bd[p] = dj;
        bi[p] = j;
    }
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
    double *G = malloc((size_t)KNN_BLOCK * n * sizeof *G);
    int rc = XFER_OK;
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
    long correct = 0;
    for (int b0 = 0; b0 < n && rc == XFER_OK; b0 += KNN_BLOCK) {
        int nb = n - b0 < KNN_BLOCK ? n - b0 : KNN_BLOCK;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, n, d, 1.0, X + (size_t)b0 * d, d,
                    X, d, 0.0, G, n);
        int oom = 0;
#pragma omp parallel reduction(+ : correct) reduction(| : oom)
        {
            double *bd = malloc((size_t)k * sizeof *bd);
            int *bi = malloc((size_t)k * sizeof *bi), *votes = calloc((size_t)ct, sizeof *votes);
            if (!bd || !bi || !votes) oom = 1;
#pragma omp for schedule(static)
            for (int r = 0; r < nb; r++) {
                if (oom) continue;
                knn_row(G + (size_t)r * n, sq, n, b0 + r, (int)k, bd, bi);
                int best = 0;
                for (int q = 0; q < k; q++)
                    votes[in->labels[bi[q]]]++;
                for (int c = 1; c < ct; c++)
                    if (votes[c] > votes[best]) best = c;
                for (int q = 0; q < k; q++)
                    votes[in->labels[bi[q]]] = 0;
                correct += best == in->labels[b0 + r];
            }
            free(bd);
            free(bi);
            free(votes);
        }
        if (oom) rc = XFER_OOM(err);
    }
    if (rc == XFER_OK) out->value = (double)correct / n;
done:
    free(X);
    free(sq);
    free(G);
    return rc;
}
