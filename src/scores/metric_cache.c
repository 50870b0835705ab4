/* The per-input cache of the metrics (xfer_metric_cache, include/xfer/metrics.h): the features'
 * principal axes. gbc, ncti, parc and nleep all project the same centred float64 features on the
 * leading eigenvectors of the same covariance; the first of them to run computes the centred copy
 * and the eigendecomposition, the others only their own projection. Each metric's projection is
 * computed by the same code from the same arrays whether or not the basis came from the cache, so
 * its value is bitwise the same with and without a cache. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "scores_internal.h"

#define PCA_ROWS 512 /* rows of the projection per GEMM */

typedef struct {
    int n, d;
    double *X; /* [n,d] the features, float64, centred */
    double *C; /* [d,d] row j: the unit eigenvector of w[j] */
    double *w; /* [d] the covariance's eigenvalues, ascending */
} pca_basis;

struct xfer_metric_cache {
    pca_basis pca; /* X == NULL: not computed yet */
};

xfer_metric_cache *xfer_metric_cache_new(void) {
    return calloc(1, sizeof(xfer_metric_cache));
}

static void basis_free(pca_basis *b) {
    free(b->X);
    free(b->C);
    free(b->w);
    memset(b, 0, sizeof *b);
}

void xfer_metric_cache_free(xfer_metric_cache *c) {
    if (!c) return;
    basis_free(&c->pca);
    free(c);
}

/* The centred features and the eigendecomposition of their covariance (denominator N-1). */
static int basis_compute(const xfer_metric_input *in, pca_basis *b, xfer_err *err) {
    const int n = in->n, d = in->d;
    *b = (pca_basis){n, d, xfer_features_f64(in), malloc((size_t)d * d * sizeof(double)),
                     malloc((size_t)d * sizeof(double))};
    if (!b->X || !b->C || !b->w) {
        basis_free(b);
        return XFER_OOM(err);
    }
    xfer_center_columns(b->X, n, d, NULL);
    xfer_gram(b->X, n, d, n > 1 ? n - 1 : 1, b->C);
    int rc = xfer_la_eigh(d, b->C, b->w, err);
    if (rc) basis_free(b);
    return rc;
}

/* The projections [n,k] on the top k components (k chosen by var_frac when > 0). */
static int basis_project(const pca_basis *b, int k, double var_frac, double **out, int *k_out,
                         xfer_err *err) {
    const int n = b->n, d = b->d;
    const double *w = b->w;
    if (var_frac > 0) {
        double total = 0, acc = 0;
        for (int j = 0; j < d; j++)
            total += w[j] > 0 ? w[j] : 0;
        k = d;
        for (int j = 0; j < d; j++) {
            acc += w[d - 1 - j] > 0 ? w[d - 1 - j] : 0;
            if (acc >= var_frac * total) {
                k = j + 1;
                break;
            }
        }
    }
    if (k > d) k = d;
    if (k > n) k = n; /* at most min(N, D) components, as sklearn's PCA */
    if (k < 1) k = 1;
    /* Components in descending eigenvalue order: rows d-1, d-2, ... of C. */
    double *V = malloc((size_t)k * d * sizeof *V), *Y = malloc((size_t)n * k * sizeof *Y);
    if (!V || !Y) {
        free(V);
        free(Y);
        return XFER_OOM(err);
    }
    for (int j = 0; j < k; j++)
        memcpy(V + (size_t)j * d, b->C + (size_t)(d - 1 - j) * d, (size_t)d * sizeof *V);
    /* Y = X V^T in fixed blocks of PCA_ROWS rows, shared out over the threads (BLAS is
     * single-threaded in the metrics; the same bits whatever the thread count). */
    const int nb = (n + PCA_ROWS - 1) / PCA_ROWS;
#pragma omp parallel for schedule(dynamic)
    for (int q = 0; q < nb; q++) {
        const int i0 = q * PCA_ROWS, ni = n - i0 < PCA_ROWS ? n - i0 : PCA_ROWS;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ni, k, d, 1.0, b->X + (size_t)i0 * d,
                    d, V, d, 0.0, Y + (size_t)i0 * k, k);
    }
    free(V);
    /* Component signs as sklearn's PCA (svd_flip, u-based): each component's largest-magnitude
     * score (the first of equal ones) is positive. PARC's row correlations depend on these
     * signs. Rows in order, all components at once. */
    int *imax = calloc((size_t)k, sizeof *imax);
    if (!imax) {
        free(Y);
        return XFER_OOM(err);
    }
    for (int i = 1; i < n; i++)
        for (int j = 0; j < k; j++)
            if (fabs(Y[(size_t)i * k + j]) > fabs(Y[(size_t)imax[j] * k + j])) imax[j] = i;
    for (int j = 0; j < k; j++) /* imax[j] becomes: flip component j */
        imax[j] = Y[(size_t)imax[j] * k + j] < 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
            if (imax[j]) Y[(size_t)i * k + j] = -Y[(size_t)i * k + j];
    free(imax);
    *out = Y;
    *k_out = k;
    return XFER_OK;
}

int xfer_features_pca(const xfer_metric_input *in, int k, double var_frac, double **out, int *k_out,
                      xfer_err *err) {
    *out = NULL;
    xfer_metric_cache *c = in->cache;
    if (c && c->pca.X && (c->pca.n != in->n || c->pca.d != in->d)) basis_free(&c->pca);
    if (c && c->pca.X) return basis_project(&c->pca, k, var_frac, out, k_out, err);
    pca_basis b;
    int rc = basis_compute(in, &b, err);
    if (rc) return rc;
    rc = basis_project(&b, k, var_frac, out, k_out, err);
    if (c && rc == XFER_OK)
        c->pca = b;
    else
        basis_free(&b);
    return rc;
}
