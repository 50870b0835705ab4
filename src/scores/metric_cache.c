/* The per-input cache of the metrics (xfer_metric_cache, include/xfer/metrics.h): the features'
 * principal axes. gbc, ncti, parc and nleep all project the same centred float64 features on the
 * leading eigenvectors of the same covariance; the first of them to run computes the column means
 * and the covariance's tridiagonal form; all its eigenvalues (for a variance fraction) and its
 * eigenvectors are computed on demand in fixed chunks of PCA_CHUNK from the top (a metric asking
 * for k components gets the first ceil(k / PCA_CHUNK) chunks, each computed by the same call
 * whoever asked first). No float64 copy of the features is kept: each projection converts and
 * centres fixed blocks of XFER_FEATURE_ROWS rows on the fly. Each metric's projection is computed
 * by the same code from the same arrays whether or not the basis came from the cache, so its value
 * is bitwise the same with and without a cache. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "scores_internal.h"

#define PCA_CHUNK 32 /* eigenvectors computed together */

typedef struct {
    int n, d;
    double *mu;         /* [d] the features' column means */
    double *A, *tau;    /* [d,d], [d]: dsytrd's reflectors of the covariance */
    double *diag, *off; /* [d], [d-1]: its tridiagonal form */
    double *w;          /* [d] the covariance's eigenvalues, ascending, once have_w */
    int have_w;         /* computed when a metric first needs them (var_frac) */
    double *vec;        /* [d,d] row j: the unit eigenvector of w[d-1-j] (descending order) */
    int nvec;           /* rows of vec computed (whole chunks, or d) */
} pca_basis;

struct xfer_metric_cache {
    pca_basis pca; /* mu == NULL: not computed yet */
};

xfer_metric_cache *xfer_metric_cache_new(void) {
    return calloc(1, sizeof(xfer_metric_cache));
}

static void basis_free(pca_basis *b) {
    free(b->mu);
    free(b->A);
    free(b->tau);
    free(b->diag);
    free(b->off);
    free(b->w);
    free(b->vec);
    memset(b, 0, sizeof *b);
}

void xfer_metric_cache_free(xfer_metric_cache *c) {
    if (!c) return;
    basis_free(&c->pca);
    free(c);
}

/* Column means, the covariance (denominator N-1) and its tridiagonal form (feature_blocks.c: the
 * same bits whatever the thread count). */
static int basis_compute(const xfer_metric_input *in, pca_basis *b, xfer_err *err) {
    const int n = in->n, d = in->d;
    const size_t dd = (size_t)d * d;
    *b = (pca_basis){.n = n, .d = d};
    b->mu = malloc((size_t)d * sizeof *b->mu);
    b->A = malloc(dd * sizeof *b->A);
    b->tau = malloc((size_t)d * sizeof *b->tau);
    b->diag = malloc((size_t)d * sizeof *b->diag);
    b->off = malloc((size_t)d * sizeof *b->off);
    b->w = malloc((size_t)d * sizeof *b->w);
    b->vec = malloc(dd * sizeof *b->vec);
    int rc = XFER_OK;
    if (!b->mu || !b->A || !b->tau || !b->diag || !b->off || !b->w || !b->vec) rc = XFER_OOM(err);
    if (!rc) rc = xfer_feature_moments(in, b->mu, NULL, err);
    if (!rc) rc = xfer_feature_gram(in, b->mu, NULL, 1.0 / (n > 1 ? n - 1 : 1), b->A, NULL, err);
    if (!rc) rc = xfer_la_tridiag(d, b->A, b->diag, b->off, b->tau, err);
    if (rc) basis_free(b);
    return rc;
}

/* Eigenvectors of the top k eigenvalues (rows 0..k-1 of vec), whole chunks at a time, each by the
 * same call whoever asked first. One chunk after the other: the chunks were computed in parallel
 * for a while, and one CI run then saw gbc and ncti differ between 1 and 4 threads (run_threads;
 * not reproduced in 5 reruns of that test nor in 10 runs of xfer metrics), so no LAPACK routine
 * runs concurrently on the shared reflectors any more. */
static int basis_vectors(pca_basis *b, int k, xfer_err *err) {
    const int d = b->d, j0 = b->nvec;
    if (j0 >= k) return XFER_OK;
    const int nch = (k - j0 + PCA_CHUNK - 1) / PCA_CHUNK;
    int failed = 0, oom = 0;
    for (int q = 0; q < nch && !failed && !oom; q++) {
        const int c0 = j0 + q * PCA_CHUNK, m = d - c0 < PCA_CHUNK ? d - c0 : PCA_CHUNK;
        /* descending rows c0..c0+m-1 are ascending indices d-c0-m+1 .. d-c0 (1-based) */
        double *Z = malloc((size_t)m * d * sizeof *Z);
        xfer_err e2;
        if (!Z) {
            oom = 1;
            continue;
        }
        if (xfer_la_tridiag_vectors(d, b->A, b->tau, b->diag, b->off, d - c0 - m + 1, d - c0, Z,
                                    &e2) != XFER_OK)
            failed = 1;
        for (int t = 0; t < m && !failed; t++)
            memcpy(b->vec + (size_t)(c0 + t) * d, Z + (size_t)(m - 1 - t) * d,
                   (size_t)d * sizeof *Z);
        free(Z);
    }
    if (oom) return XFER_OOM(err);
    if (failed)
        return xfer_fail(err, XFER_EINTERNAL, "PCA: the covariance's eigenvectors (dstemr) failed");
    b->nvec = j0 + nch * PCA_CHUNK < d ? j0 + nch * PCA_CHUNK : d;
    return XFER_OK;
}

/* The projections [n,k] on the top k components (k chosen by var_frac when > 0). */
static int basis_project(const xfer_metric_input *in, pca_basis *b, int k, double var_frac,
                         double **out, int *k_out, xfer_err *err) {
    const int n = b->n, d = b->d;
    const double *w = b->w;
    if (var_frac > 0) {
        int rc = b->have_w ? XFER_OK : xfer_la_tridiag_values(d, b->diag, b->off, b->w, err);
        if (rc) return rc;
        b->have_w = 1;
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
    int rc = basis_vectors(b, k, err), failed = 0;
    if (rc) return rc;
    const double *V = b->vec; /* rows 0..k-1: the components, descending */
    double *Y = malloc((size_t)n * k * sizeof *Y);
    if (!Y) return XFER_OOM(err);
    /* Y = (X - mu) V^T in fixed blocks of XFER_FEATURE_ROWS rows, shared out over the threads (BLAS
     * is single-threaded in the metrics; the same bits whatever the thread count). */
    const int nb = (n + XFER_FEATURE_ROWS - 1) / XFER_FEATURE_ROWS;
#pragma omp parallel reduction(| : failed)
    {
        double *X = malloc((size_t)XFER_FEATURE_ROWS * d * sizeof *X);
        failed |= !X;
#pragma omp for schedule(dynamic)
        for (int q = 0; q < nb; q++) {
            const int i0 = q * XFER_FEATURE_ROWS,
                      ni = n - i0 < XFER_FEATURE_ROWS ? n - i0 : XFER_FEATURE_ROWS;
            if (!X) continue;
            xfer_feature_rows(in, b->mu, NULL, i0, ni, X);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ni, k, d, 1.0, X, d, V, d, 0.0,
                        Y + (size_t)i0 * k, k);
        }
        free(X);
    }
    if (failed) {
        free(Y);
        return XFER_OOM(err);
    }
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
    if (c && c->pca.mu && (c->pca.n != in->n || c->pca.d != in->d)) basis_free(&c->pca);
    if (c && c->pca.mu) return basis_project(in, &c->pca, k, var_frac, out, k_out, err);
    pca_basis b;
    int rc = basis_compute(in, &b, err);
    if (rc) return rc;
    rc = basis_project(in, &b, k, var_frac, out, k_out, err);
    if (c && rc == XFER_OK)
        c->pca = b;
    else
        basis_free(&b);
    return rc;
}
