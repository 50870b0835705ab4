/* Shared helpers of the metric implementations (not a public header): float64 linear algebra over
 * OpenBLAS/LAPACK, feature preparation, per-class statistics, and each metric's entry point. */
#ifndef XFER_SCORES_INTERNAL_H
#define XFER_SCORES_INTERNAL_H

#include <stddef.h>

#include "xfer/metrics.h"

/* ---- linear algebra (row-major, float64) ---- */

/* Symmetric eigendecomposition of A [n,n] (LAPACK dsyevd). On return w holds the eigenvalues in
 * ascending order and A's row j holds the unit eigenvector of w[j]. */
int xfer_la_eigh(int n, double *A, double *w, xfer_err *err);

/* The symmetric eigenproblem in steps, for callers that need every eigenvalue but only some
 * eigenvectors. xfer_la_tridiag reduces A [n,n] to tridiagonal form (LAPACK dsytrd, upper): diag
 * [n] and off [n-1] receive T, A and tau [n] the reflectors Q with A = Q T Q^T.
 * xfer_la_tridiag_values: all of T's eigenvalues w [n], ascending (dsterf).
 * xfer_la_tridiag_vectors: the unit eigenvectors of eigenvalues il..iu (1-based, ascending; MRRR,
 * dstemr) back in A's basis, as the rows of Z [iu-il+1, n], ascending. Each call computes the same
 * vectors from the same (diag, off, il, iu), whichever other ranges were asked for; A is not
 * written, even for a moment (calls on the same A may run at the same time). */
int xfer_la_tridiag(int n, double *A, double *diag, double *off, double *tau, xfer_err *err);
int xfer_la_tridiag_values(int n, const double *diag, const double *off, double *w, xfer_err *err);
int xfer_la_tridiag_vectors(int n, const double *A, const double *tau, const double *diag,
                            const double *off, int il, int iu, double *Z, xfer_err *err);

/* Singular values s [min(m,n)] (descending) of the row-major A [m,n], which is destroyed (LAPACK
 * dgesdd, or its dgebrd + dlasq1 steps; tall A through xfer_la_qr_r); when vt is not NULL also the
 * right singular vectors, as the rows of vt [min(m,n), n]. */
int xfer_la_svd(int m, int n, double *A, double *s, double *vt, xfer_err *err);

/* R [n,n] (row-major, upper triangular, rows beyond m zero) with A = Q R for the row-major A
 * [m,n], m >= 1 (a tall-skinny QR in fixed 512-row blocks: the same bits whatever the thread
 * count); A is not changed. */
int xfer_la_qr_r(int m, int n, const double *A, double *R, xfer_err *err);

/* Cholesky of the symmetric positive definite A [n,n] in place (lower factor); XFER_EINPUT when
 * not positive definite (message names `what`). */
int xfer_la_cholesky(int n, double *A, const char *what, xfer_err *err);
/* LAPACK's estimate (dpocon) of 1 / cond_1(A) from A's Cholesky factor and anorm = |A|_1; 0 when
 * it cannot be formed. */
double xfer_la_chol_rcond(int n, const double *L, double anorm);
/* log det of A from its Cholesky factor. */
double xfer_la_chol_logdet(int n, const double *L);
/* Solves A X = B for X [n,nrhs] (B row-major [n,nrhs]) in place given the Cholesky factor. */
int xfer_la_chol_solve(int n, const double *L, int nrhs, double *B, xfer_err *err);

/* v[0] + v[1] + ... + v[n-1], added in index order. Parallel loops write one term per item and
 * add them here, so a score is the serial loop's sum whatever the thread count. */
double xfer_sum_ordered(const double *v, size_t n);

/* ---- feature preparation ---- */

/* A float64 copy of the features [N,D] (malloc'd; caller frees). NULL on allocation failure. */
double *xfer_features_f64(const xfer_metric_input *in);
/* Column means mu [d] of X [n,d], then X -= mu in place (mu may be NULL). */
void xfer_center_columns(double *X, int n, int d, double *mu);
/* C = X^T X / denom for X [n,d] (C [d,d], full symmetric). With N >= 2 XFER_GRAM_CHUNK_ROWS and
 * D^2 >= XFER_GRAM_MIN_ENTRIES the rows are split into min(N / XFER_GRAM_CHUNK_ROWS,
 * XFER_GRAM_MAX_CHUNKS) fixed chunks computed in parallel and added in order: the same bits
 * whatever the thread count. */
#define XFER_GRAM_CHUNK_ROWS 1024
#define XFER_GRAM_MAX_CHUNKS 4
#define XFER_GRAM_MIN_ENTRIES 16384
void xfer_gram(const double *X, int n, int d, double denom, double *C);
/* C [n,m] = A [n,k] B (transb 0, B [k,m]) or A B^T (transb 1, B [m,k]), row-major with leading
 * dimensions; the rows of A and C in fixed blocks of XFER_GEMM_ROWS shared out over the threads
 * (one single-threaded dgemm each): the same bits whatever the thread count. */
#define XFER_GEMM_ROWS 512
void xfer_gemm_rows(int transb, int n, int m, int k, const double *A, int lda, const double *B,
                    int ldb, double *C, int ldc);
/* The features in fixed blocks of XFER_FEATURE_ROWS rows, converted to float64 as they are used
 * (src/scores/feature_blocks.c; the same bits whatever the thread count).
 * xfer_feature_rows: rows [i0, i0+ni) as (x - mu) / sd (sd NULL: x - mu) into out [ni, d].
 * xfer_feature_moments: column means mu [d]; sqdev [d] (unless NULL) the sums of squared
 * deviations from them.
 * xfer_feature_gram: G [d,d] = scale X^T X with X the rows as xfer_feature_rows gives them, full
 * symmetric; sums [ct,d] (unless NULL) the class sums of X's rows (labels needed). */
#define XFER_FEATURE_ROWS 512
void xfer_feature_rows(const xfer_metric_input *in, const double *mu, const double *sd, int i0,
                       int ni, double *out);
int xfer_feature_moments(const xfer_metric_input *in, double *mu, double *sqdev, xfer_err *err);
int xfer_feature_gram(const xfer_metric_input *in, const double *mu, const double *sd, double scale,
                      double *G, double *sums, xfer_err *err);
/* Principal components of the features: *out receives [n,k] projections of the centred float64
 * features on the top k eigenvectors of their covariance (k = min(k, d, n); if var_frac > 0, k is
 * instead the smallest count whose eigenvalues reach that fraction of the total variance), each
 * component's sign as sklearn's PCA; *k_out = k used. The column means and the
 * eigendecomposition come from in->cache when an earlier metric computed them (and are left
 * there otherwise); the result is the same either way, bit for bit (src/scores/metric_cache.c). */
int xfer_features_pca(const xfer_metric_input *in, int k, double var_frac, double **out, int *k_out,
                      xfer_err *err);

/* counts [ct] of each label. */
void xfer_class_counts(const int *labels, int n, int ct, int *counts);
/* The rows of each class in row order: order [n] lists class 0's rows, then class 1's, ...;
 * class c's are order[start[c] .. start[c+1]-1] (start [nc+1]). Labels in [0, nc). */
void xfer_class_rows(const int *labels, int n, int nc, int *start, int *order);
/* sums [ct,d] of each class's rows of X [n,d]. */
void xfer_class_sums(const double *X, const int *labels, int n, int d, int ct, double *sums);
/* XFER_EINPUT naming the metric when some class present has fewer than min_count samples. */
int xfer_require_class_size(const int *counts, int ct, int min_count, const char *metric,
                            xfer_err *err);

/* ---- the metrics ---- */
int xfer_metric_softmax_max(const xfer_metric_input *, const xfer_metric_params *,
                            xfer_metric_result *, xfer_err *);
int xfer_metric_emd(const xfer_metric_input *, const xfer_metric_params *, xfer_metric_result *,
                    xfer_err *);
int xfer_metric_leep(const xfer_metric_input *, const xfer_metric_params *, xfer_metric_result *,
                     xfer_err *);
int xfer_metric_nce(const xfer_metric_input *, const xfer_metric_params *, xfer_metric_result *,
                    xfer_err *);
int xfer_metric_hscore(const xfer_metric_input *, const xfer_metric_params *, xfer_metric_result *,
                       xfer_err *);
int xfer_metric_hscore_reg(const xfer_metric_input *, const xfer_metric_params *,
                           xfer_metric_result *, xfer_err *);
int xfer_metric_logme(const xfer_metric_input *, const xfer_metric_params *, xfer_metric_result *,
                      xfer_err *);
int xfer_metric_gbc(const xfer_metric_input *, const xfer_metric_params *, xfer_metric_result *,
                    xfer_err *);
int xfer_metric_transrate(const xfer_metric_input *, const xfer_metric_params *,
                          xfer_metric_result *, xfer_err *);
int xfer_metric_sfda(const xfer_metric_input *, const xfer_metric_params *, xfer_metric_result *,
                     xfer_err *);
int xfer_metric_nleep(const xfer_metric_input *, const xfer_metric_params *, xfer_metric_result *,
                      xfer_err *);
int xfer_metric_parc(const xfer_metric_input *, const xfer_metric_params *, xfer_metric_result *,
                     xfer_err *);

int xfer_metric_knn(const xfer_metric_input *, const xfer_metric_params *, xfer_metric_result *,
                    xfer_err *);
int xfer_metric_tmi(const xfer_metric_input *, const xfer_metric_params *, xfer_metric_result *,
                    xfer_err *);
int xfer_metric_etran(const xfer_metric_input *, const xfer_metric_params *, xfer_metric_result *,
                      xfer_err *);
int xfer_metric_pactran(const xfer_metric_input *, const xfer_metric_params *, xfer_metric_result *,
                        xfer_err *);
void xfer_metric_etran_pool(const double *terms, int n, double *values);
int xfer_metric_ncti(const xfer_metric_input *, const xfer_metric_params *, xfer_metric_result *,
                     xfer_err *);
void xfer_metric_ncti_pool(const double *terms, int n, double *values);
int xfer_metric_emms(const xfer_metric_input *, const xfer_metric_params *, xfer_metric_result *,
                     xfer_err *);

/* LEEP of probabilities theta [n,c] (rows sum to 1) against labels; shared by leep and nleep. */
int xfer_leep_from_probs(const double *theta, int n, int c, const int *labels, int ct, double *out,
                         xfer_err *err);

/* splitmix64, the project's documented seeded generator (also re-implemented in the tests). */
unsigned long long xfer_scores_splitmix_next(unsigned long long *state);

#define XFER_OOM(err) xfer_fail((err), XFER_EINTERNAL, "out of memory")

#endif
