/* float64 linear algebra for the metrics: OpenBLAS's CBLAS plus the LAPACK routines OpenBLAS ships
 * (checked with `nm -D libopenblas.so.0`: dsyevd_, dpotrf_, dpotrs_, dgesdd_, dgebrd_, dlasq1_,
 * dgeqrf_, dpocon_, dsytrd_, dsterf_, dstemr_, dormtr_). Row-major callers pass symmetric matrices,
 * for which row- and column-major agree. OpenBLAS runs single-threaded here (xfer_metric_compute
 * sets it): its threaded kernels split sums (symv, dot, gemv) by the thread count, so a score would
 * depend on it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "scores_internal.h"

/* Fortran LAPACK; the trailing size_t are gfortran's hidden lengths of the character arguments. */
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
                    double *w, double *work, const int *lwork, int *iwork, const int *liwork,
                    int *info, size_t, size_t);
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t);
extern void dpocon_(const char *uplo, const int *n, const double *a, const int *lda,
                    const double *anorm, double *rcond, double *work, int *iwork, int *info,
                    size_t);
extern void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a,
                    const int *lda, double *b, const int *ldb, int *info, size_t);
extern void dgeqrf_(const int *m, const int *n, double *a, const int *lda, double *tau,
                    double *work, const int *lwork, int *info);
extern void dsytrd_(const char *uplo, const int *n, double *a, const int *lda, double *d, double *e,
                    double *tau, double *work, const int *lwork, int *info, size_t);
extern void dsterf_(const int *n, double *d, double *e, int *info);
extern void dstemr_(const char *jobz, const char *range, const int *n, double *d, double *e,
                    const double *vl, const double *vu, const int *il, const int *iu, int *m,
                    double *w, double *z, const int *ldz, const int *nzc, int *isuppz, int *tryrac,
                    double *work, const int *lwork, int *iwork, const int *liwork, int *info,
                    size_t, size_t);
extern void dormtr_(const char *side, const char *uplo, const char *trans, const int *m,
                    const int *n, const double *a, const int *lda, const double *tau, double *c,
                    const int *ldc, double *work, const int *lwork, int *info, size_t, size_t,
                    size_t);
extern void dgebrd_(const int *m, const int *n, double *a, const int *lda, double *d, double *e,
                    double *tauq, double *taup, double *work, const int *lwork, int *info);
extern void dlasq1_(const int *n, double *d, double *e, double *work, int *info);
extern void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda,
                    double *s, double *u, const int *ldu, double *vt, const int *ldvt, double *work,
                    const int *lwork, int *iwork, int *info, size_t);

int xfer_la_eigh(int n, double *A, double *w, xfer_err *err) {
    if (n <= 0) return XFER_OK;
    int lwork = -1, liwork = -1, info = 0, iq;
    double wq;
    dsyevd_("V", "U", &n, A, &n, w, &wq, &lwork, &iq, &liwork, &info, 1, 1);
    if (info != 0) return xfer_fail(err, XFER_EINTERNAL, "dsyevd workspace query failed");
    lwork = (int)wq + 1;
    liwork = iq + 1;
    double *work = malloc((size_t)lwork * sizeof *work);
    int *iwork = malloc((size_t)liwork * sizeof *iwork);
    if (!work || !iwork) {
        free(work);
        free(iwork);
        return XFER_OOM(err);
    }
    dsyevd_("V", "U", &n, A, &n, w, work, &lwork, iwork, &liwork, &info, 1, 1);
    free(work);
    free(iwork);
    if (info != 0)
        return xfer_fail(err, XFER_EINTERNAL, "symmetric eigensolver (dsyevd) failed, info %d",
                         info);
    return XFER_OK;
}

int xfer_la_tridiag(int n, double *A, double *diag, double *off, double *tau, xfer_err *err) {
    if (n <= 0) return XFER_OK;
    int lwork = -1, info = 0;
    double wq;
    dsytrd_("U", &n, A, &n, diag, off, tau, &wq, &lwork, &info, 1);
    double *work = info == 0 ? malloc(((size_t)wq + 1) * sizeof *work) : NULL;
    if (work) {
        lwork = (int)wq + 1;
        dsytrd_("U", &n, A, &n, diag, off, tau, work, &lwork, &info, 1);
    }
    free(work);
    if (!work && info == 0) return XFER_OOM(err);
    if (info != 0)
        return xfer_fail(err, XFER_EINTERNAL, "tridiagonal reduction (dsytrd) failed, info %d",
                         info);
    return XFER_OK;
}

int xfer_la_tridiag_values(int n, const double *diag, const double *off, double *w, xfer_err *err) {
    if (n <= 0) return XFER_OK;
    double *e = malloc((size_t)n * sizeof *e);
    if (!e) return XFER_OOM(err);
    memcpy(w, diag, (size_t)n * sizeof *w);
    memcpy(e, off, (size_t)(n - 1) * sizeof *e);
    int info = 0;
    dsterf_(&n, w, e, &info);
    free(e);
    if (info != 0)
        return xfer_fail(err, XFER_EINTERNAL, "tridiagonal eigenvalues (dsterf) failed, info %d",
                         info);
    return XFER_OK;
}

int xfer_la_tridiag_vectors(int n, const double *A, const double *tau, const double *diag,
                            const double *off, int il, int iu, double *Z, xfer_err *err) {
    const int m0 = iu - il + 1;
    if (n <= 0 || m0 <= 0) return XFER_OK;
    /* dstemr: d and e (e with one spare entry) are overwritten; 18n / 10n workspace */
    int lwork = 18 * n, liwork = 10 * n, lwo = -1, info = 0, m = 0, tryrac = 1;
    double *d = malloc((size_t)n * sizeof *d), *e = calloc((size_t)n, sizeof *e);
    double *w = malloc((size_t)n * sizeof *w), *work = malloc((size_t)lwork * sizeof *work);
    int *iwork = malloc((size_t)liwork * sizeof *iwork),
        *isuppz = malloc(2 * (size_t)m0 * sizeof *isuppz);
    double vl = 0, vu = 0, wq = 0, *Ac = NULL;
    int rc = XFER_OK;
    if (!d || !e || !w || !work || !iwork || !isuppz) {
        rc = XFER_OOM(err);
        goto done;
    }
    memcpy(d, diag, (size_t)n * sizeof *d);
    memcpy(e, off, (size_t)(n - 1) * sizeof *e);
    dstemr_("V", "I", &n, d, e, &vl, &vu, &il, &iu, &m, w, Z, &n, &m0, isuppz, &tryrac, work,
            &lwork, iwork, &liwork, &info, 1, 1);
    if (info != 0 || m != m0) {
        rc = xfer_fail(err, XFER_EINTERNAL,
                       "tridiagonal eigenvectors (dstemr) failed, info %d, %d of %d vectors", info,
                       m, m0);
        goto done;
    }
    /* Z (column-major [n,m]) back to the original basis: Q Z, Q = dsytrd's reflectors. dormtr
     * (dorm2l) writes 1 into A's reflector entries while it applies them and puts them back: it
     * works on a copy, so that calls on the same A may run at the same time (the PCA's chunks). */
    if (!(Ac = malloc((size_t)n * n * sizeof *Ac))) {
        rc = XFER_OOM(err);
        goto done;
    }
    memcpy(Ac, A, (size_t)n * n * sizeof *Ac);
    dormtr_("L", "U", "N", &n, &m, Ac, &n, tau, Z, &n, &wq, &lwo, &info, 1, 1, 1);
    if (info == 0 && (size_t)wq + 1 > (size_t)lwork) {
        free(work);
        lwork = (int)wq + 1;
        if (!(work = malloc((size_t)lwork * sizeof *work))) {
            rc = XFER_OOM(err);
            goto done;
        }
    }
    if (info == 0) dormtr_("L", "U", "N", &n, &m, Ac, &n, tau, Z, &n, work, &lwork, &info, 1, 1, 1);
    if (info != 0)
        rc = xfer_fail(err, XFER_EINTERNAL, "back-transformation (dormtr) failed, info %d", info);
done:
    free(Ac);
    free(d);
    free(e);
    free(w);
    free(work);
    free(iwork);
    free(isuppz);
    return rc;
}

/* QR of the column-major [m,n] (ld m) in place, m >= 1; the upper triangle of its first min(m, n)
 * rows becomes R. */
static int qr_in_place(int m, int n, double *A, double *tau, xfer_err *err) {
    int lwork = -1, info = 0;
    double wq;
    dgeqrf_(&m, &n, A, &m, tau, &wq, &lwork, &info);
    double *work = info == 0 ? malloc(((size_t)wq + 1) * sizeof *work) : NULL;
    if (work) {
        lwork = (int)wq + 1;
        dgeqrf_(&m, &n, A, &m, tau, work, &lwork, &info);
    }
    free(work);
    if (!work && info == 0) return XFER_OOM(err);
    if (info != 0)
        return xfer_fail(err, XFER_EINTERNAL, "QR factorisation (dgeqrf) failed, info %d", info);
    return XFER_OK;
}

/* R [n,n] (row-major, upper triangular) with A = Q R for the row-major A [m,n], m >= n: a tall-
 * skinny QR. The rows in fixed blocks of max(TSQR_ROWS, 2n) (by m and n only, never the thread
 * count), each block's QR in parallel (LAPACK dgeqrf on a column-major copy), their R factors
 * stacked in block order and factorised once more: the same bits whatever the thread count. */
#define TSQR_ROWS 512
int xfer_la_qr_r(int m, int n, const double *A, double *R, xfer_err *err) {
    const int b = TSQR_ROWS > 2 * n ? TSQR_ROWS : 2 * n, nb = (m + b - 1) / b, sm = nb * n;
    double *S = calloc((size_t)sm * n, sizeof *S); /* column-major [sm,n]: block q's R at row q n */
    if (!S) return XFER_OOM(err);
    int failed = 0;
#pragma omp parallel reduction(| : failed)
    {
        double *B = malloc((size_t)b * n * sizeof *B), *tau = malloc((size_t)n * sizeof *tau);
        xfer_err e2;
        failed |= !B || !tau;
#pragma omp for schedule(dynamic)
        for (int q = 0; q < nb; q++) {
            const int i0 = q * b, ni = m - i0 < b ? m - i0 : b, nr = ni < n ? ni : n;
            if (!B || !tau) continue;
            for (int i = 0; i < ni; i++)
                for (int j = 0; j < n; j++)
                    B[(size_t)j * ni + i] = A[(size_t)(i0 + i) * n + j];
            if (qr_in_place(ni, n, B, tau, &e2)) {
                failed = 1;
                continue;
            }
            for (int j = 0; j < n; j++)
                for (int i = 0; i <= j && i < nr; i++)
                    S[(size_t)j * sm + q * n + i] = B[(size_t)j * ni + i];
        }
        free(B);
        free(tau);
    }
    double *tau = failed ? NULL : malloc((size_t)n * sizeof *tau);
    int rc = failed   ? xfer_fail(err, XFER_EINTERNAL, "tall QR: a block's factorisation failed")
             : !tau   ? XFER_OOM(err)
             : nb > 1 ? qr_in_place(sm, n, S, tau, err)
                      : XFER_OK;
    if (rc == XFER_OK)
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                R[(size_t)i * n + j] = j >= i ? S[(size_t)j * sm + i] : 0.0;
    free(tau);
    free(S);
    return rc;
}

/* Singular values only, m < 2n: LAPACK's bidiagonal reduction (dgebrd) and dqds (dlasq1), the
 * steps of dgesdd's jobz = 'N' without its set-up. -1 (A untouched, nothing reported) sends the
 * caller to dgesdd, which also rescales entries near under- or overflow; a failure once A is
 * reduced is reported. */
static int values_only(int m, int n, double *A, double *s, xfer_err *err) {
    double amax = 0;
    for (size_t q = 0; q < (size_t)m * n; q++)
        amax = fabs(A[q]) > amax ? fabs(A[q]) : amax;
    if (!(amax > 1e-150 && amax < 1e150)) return -1;
    const int cm = n, cn = m, mn = m < n ? m : n; /* column-major [n,m] */
    int lwork = -1, info = 0;
    double wq, *e = malloc((size_t)mn * sizeof *e), *tq = malloc((size_t)mn * sizeof *tq);
    double *tp = malloc((size_t)mn * sizeof *tp), *work = NULL;
    if (e && tq && tp) dgebrd_(&cm, &cn, A, &cm, s, e, tq, tp, &wq, &lwork, &info);
    if (e && tq && tp && info == 0) {
        lwork = (int)wq + 1;
        if (lwork < 4 * mn) lwork = 4 * mn; /* dlasq1 needs 4 n */
        work = malloc((size_t)lwork * sizeof *work);
    }
    int rc = -1;
    if (work) {
        dgebrd_(&cm, &cn, A, &cm, s, e, tq, tp, work, &lwork, &info);
        if (info == 0) dlasq1_(&mn, s, e, work, &info);
        rc = info == 0 ? XFER_OK
                       : xfer_fail(err, XFER_EINTERNAL,
                                   "singular values (dgebrd + dlasq1) failed, info %d", info);
    }
    free(e);
    free(tq);
    free(tp);
    free(work);
    return rc;
}

int xfer_la_svd(int m, int n, double *A, double *s, double *vt, xfer_err *err) {
    if (m <= 0 || n <= 0) return XFER_OK;
    if (m >= 2 * n) {
        /* Tall A = Q R: R has A's singular values and right vectors, and the m x n work of the
         * decomposition is one QR pass (xfer_la_qr_r) instead of dgesdd's. */
        double *R = malloc((size_t)n * n * sizeof *R);
        if (!R) return XFER_OOM(err);
        int rc = xfer_la_qr_r(m, n, A, R, err);
        if (rc == XFER_OK) rc = xfer_la_svd(n, n, R, s, vt, err);
        free(R);
        return rc;
    }
    if (!vt) {
        int rv = values_only(m, n, A, s, err);
        if (rv != -1) return rv;
    }
    /* Row-major A [m,n] is column-major B = A^T [n,m]; B = U S W^T gives A = W S U^T, so A's
     * right singular vectors are B's left ones: U [n,mn] column-major = vt [mn,n] row-major. */
    int mn = m < n ? m : n, lwork = -1, info = 0, ldw = mn;
    const char *jobz = vt ? "S" : "N";
    double wq, *w = NULL;
    int *iwork = malloc((size_t)8 * mn * sizeof *iwork);
    if (vt && !(w = malloc((size_t)mn * m * sizeof *w))) {
        free(iwork);
        return XFER_OOM(err);
    }
    if (!iwork) {
        free(w);
        return XFER_OOM(err);
    }
    dgesdd_(jobz, &n, &m, A, &n, s, vt, &n, w, &ldw, &wq, &lwork, iwork, &info, 1);
    double *work = info == 0 ? malloc(((size_t)wq + 1) * sizeof *work) : NULL;
    if (work) {
        lwork = (int)wq + 1;
        dgesdd_(jobz, &n, &m, A, &n, s, vt, &n, w, &ldw, work, &lwork, iwork, &info, 1);
    }
    free(work);
    free(iwork);
    free(w);
    if (!work && info == 0) return XFER_OOM(err);
    if (info != 0)
        return xfer_fail(err, XFER_EINTERNAL,
                         "singular value decomposition (dgesdd) failed, "
                         "info %d",
                         info);
    return XFER_OK;
}

int xfer_la_cholesky(int n, double *A, const char *what, xfer_err *err) {
    int info = 0;
    /* Row-major lower == column-major upper. */
    dpotrf_("U", &n, A, &n, &info, 1);
    if (info > 0)
        return xfer_fail(err, XFER_EINPUT, "%s is not positive definite (leading minor %d)", what,
                         info);
    if (info < 0) return xfer_fail(err, XFER_EINTERNAL, "dpotrf argument %d invalid", -info);
    return XFER_OK;
}

double xfer_la_chol_rcond(int n, const double *L, double anorm) {
    double rcond = 0, *work = malloc((size_t)3 * n * sizeof *work);
    int *iwork = malloc((size_t)n * sizeof *iwork), info = 0;
    if (work && iwork) dpocon_("U", &n, L, &n, &anorm, &rcond, work, iwork, &info, 1);
    free(work);
    free(iwork);
    return info == 0 ? rcond : 0;
}

double xfer_la_chol_logdet(int n, const double *L) {
    double s = 0;
    for (int i = 0; i < n; i++)
        s += log(L[(size_t)i * n + i]);
    return 2 * s;
}

int xfer_la_chol_solve(int n, const double *L, int nrhs, double *B, xfer_err *err) {
    /* B row-major [n,nrhs] is column-major [nrhs,n]: transpose into column-major for dpotrs. */
    double *Bc = malloc((size_t)n * nrhs * sizeof *Bc);
    if (!Bc) return XFER_OOM(err);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < nrhs; j++)
            Bc[(size_t)j * n + i] = B[(size_t)i * nrhs + j];
    int info = 0;
    dpotrs_("U", &n, &nrhs, L, &n, Bc, &n, &info, 1);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < nrhs; j++)
            B[(size_t)i * nrhs + j] = Bc[(size_t)j * n + i];
    free(Bc);
    if (info != 0) return xfer_fail(err, XFER_EINTERNAL, "dpotrs failed, info %d", info);
    return XFER_OK;
}

double xfer_sum_ordered(const double *v, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return s;
}

double *xfer_features_f64(const xfer_metric_input *in) {
    size_t nd = (size_t)in->n * in->d;
    double *X = malloc((nd ? nd : 1) * sizeof *X);
    if (!X) return NULL;
    if (in->features)
        memcpy(X, in->features, nd * sizeof *X);
    else {
        const float *f = in->features_f32;
        const long nl = (long)nd;
#pragma omp parallel for schedule(dynamic, 65536)
        for (long i = 0; i < nl; i++)
            X[i] = f[i];
    }
    return X;
}

void xfer_center_columns(double *X, int n, int d, double *mu_out) {
    double *mu = calloc((size_t)d, sizeof *mu);
    if (!mu) return; /* callers allocate far more than this; treat as unreachable */
    for (int i = 0; i < n; i++)
        for (int k = 0; k < d; k++)
            mu[k] += X[(size_t)i * d + k];
    for (int k = 0; k < d; k++)
        mu[k] /= n;
#pragma omp parallel for schedule(dynamic, 256)
    for (int i = 0; i < n; i++)
        for (int k = 0; k < d; k++)
            X[(size_t)i * d + k] -= mu[k];
    if (mu_out) memcpy(mu_out, mu, (size_t)d * sizeof *mu);
    free(mu);
}

void xfer_gemm_rows(int transb, int n, int m, int k, const double *A, int lda, const double *B,
                    int ldb, double *C, int ldc) {
    const int nb = (n + XFER_GEMM_ROWS - 1) / XFER_GEMM_ROWS;
#pragma omp parallel for schedule(dynamic)
    for (int q = 0; q < nb; q++) {
        const int i0 = q * XFER_GEMM_ROWS, ni = n - i0 < XFER_GEMM_ROWS ? n - i0 : XFER_GEMM_ROWS;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, transb ? CblasTrans : CblasNoTrans, ni, m, k, 1.0,
                    A + (size_t)i0 * lda, lda, B, ldb, 0.0, C + (size_t)i0 * ldc, ldc);
    }
}

void xfer_gram(const double *X, int n, int d, double denom, double *C) {
    /* Rows in a fixed number of chunks (by N and D only, never the thread count), one
     * single-threaded dsyrk each (BLAS is single-threaded in the metrics) shared out over the
     * threads, the chunks' upper triangles added in chunk order. */
    int nc = n / XFER_GRAM_CHUNK_ROWS;
    if (nc > XFER_GRAM_MAX_CHUNKS) nc = XFER_GRAM_MAX_CHUNKS;
    if ((size_t)d * d < XFER_GRAM_MIN_ENTRIES) nc = 1;
    double *part = nc > 1 ? malloc((size_t)(nc - 1) * d * d * sizeof *part) : NULL;
    if (!part) nc = 1;
    if (nc == 1) {
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, n, 1.0 / denom, X, d, 0.0, C, d);
    } else {
#pragma omp parallel for schedule(dynamic)
        for (int c = 0; c < nc; c++) {
            const int i0 = (int)((long)n * c / nc), i1 = (int)((long)n * (c + 1) / nc);
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, i1 - i0, 1.0 / denom,
                        X + (size_t)i0 * d, d, 0.0, c ? part + (size_t)(c - 1) * d * d : C, d);
        }
#pragma omp parallel for schedule(dynamic, 16)
        for (int i = 0; i < d; i++)
            for (int c = 1; c < nc; c++) {
                const double *p = part + (size_t)(c - 1) * d * d + (size_t)i * d;
                for (int j = i; j < d; j++)
                    C[(size_t)i * d + j] += p[j];
            }
    }
    free(part);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < i; j++)
            C[(size_t)i * d + j] = C[(size_t)j * d + i];
}

void xfer_class_rows(const int *labels, int n, int nc, int *start, int *order) {
    memset(start, 0, ((size_t)nc + 1) * sizeof *start);
    for (int i = 0; i < n; i++)
        start[labels[i] + 1]++;
    for (int c = 0; c < nc; c++)
        start[c + 1] += start[c];
    for (int i = 0; i < n; i++) /* start[c] advances to class c's end = class c + 1's start */
        order[start[labels[i]]++] = i;
    for (int c = nc; c > 0; c--)
        start[c] = start[c - 1];
    start[0] = 0;
}

void xfer_class_counts(const int *labels, int n, int ct, int *counts) {
    memset(counts, 0, (size_t)ct * sizeof *counts);
    for (int i = 0; i < n; i++)
        counts[labels[i]]++;
}

void xfer_class_sums(const double *X, const int *labels, int n, int d, int ct, double *sums) {
    memset(sums, 0, (size_t)ct * d * sizeof *sums);
    for (int i = 0; i < n; i++) {
        double *s = sums + (size_t)labels[i] * d;
        const double *x = X + (size_t)i * d;
        for (int k = 0; k < d; k++)
            s[k] += x[k];
    }
}

int xfer_require_class_size(const int *counts, int ct, int min_count, const char *metric,
                            xfer_err *err) {
    for (int c = 0; c < ct; c++)
        if (counts[c] > 0 && counts[c] < min_count)
            return xfer_fail(err, XFER_EINPUT,
                             "%s: target class %d has %d sample%s; this metric needs at least %d "
                             "per class",
                             metric, c, counts[c], counts[c] == 1 ? "" : "s", min_count);
    return XFER_OK;
}

unsigned long long xfer_scores_splitmix_next(unsigned long long *state) {
    unsigned long long z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
