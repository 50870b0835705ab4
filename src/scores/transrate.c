/* transrate (Huang et al. 2022, "Frustratingly easy transferability estimation"), with the
 * coding rate R(Z) = 1/2 logdet(I + Z^T Z / (n eps)) for Z with n rows and eps (the distortion)
 * 1e-4, the published value. Two variants (parameter `variant`):
 *   authors (default) — as the authors compute it (Long-Kai/TransRate: generate_transrate/
 *     transrate.py pre_transrate and extract_result_utils.py process_transrate_logs with its
 *     defaults): Z = the centred features with every row scaled to unit length;
 *     TransRate = [R(Z) - sum_c (n_c/n) R(Z_c)] / rank(Z^T Z / n), the rank by numpy's
 *     matrix_rank rule (eigenvalues > max * D * DBL_EPSILON). Their sum over all eigenvalues of
 *     log(1 + lambda/eps) is this logdet.
 *   tllib — Transfer-Learning-Library's version: Z = the centred features (rows not scaled),
 *     TransRate = R(Z) - (1/Ct) sum_c R(Z_c), no rank division.
 * Z_c = the rows of class c (not re-centred); an empty class contributes 0. The smaller of the
 * d x d and n x n Gram matrices is used (Sylvester's determinant identity); logdet by Cholesky.
 * Higher is better. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "scores_internal.h"

#define TRANSRATE_EPS_DEFAULT 1e-4 /* the published distortion epsilon */

/* R(Z) for Z [n,d]. */
static int coding_rate(const double *Z, int n, int d, double eps, double *out, xfer_err *err) {
    *out = 0;
    if (n == 0) return XFER_OK;
    int m = n < d ? n : d;
    double *G = malloc((size_t)m * m * sizeof *G);
    if (!G) return XFER_OOM(err);
    double a = 1.0 / (n * eps);
    if (m == d)
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, n, a, Z, d, 0.0, G, d);
    else
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, n, d, a, Z, d, 0.0, G, n);
    for (int i = 0; i < m; i++) {
        G[(size_t)i * m + i] += 1;
        for (int j = 0; j < i; j++)
            G[(size_t)i * m + j] = G[(size_t)j * m + i];
    }
    int rc = xfer_la_cholesky(m, G, "transrate: I + Z^T Z/(n eps)", err);
    if (rc == XFER_OK) *out = 0.5 * xfer_la_chol_logdet(m, G);
    free(G);
    return rc;
}

/* The rank of Z^T Z / n for Z [n,d] by numpy.linalg.matrix_rank's rule on the d x d matrix:
 * eigenvalues (of the smaller Gram matrix, the same non-zero ones) above max * d * DBL_EPSILON. */
static int gram_rank(const double *Z, int n, int d, int *rank, xfer_err *err) {
    int m = n < d ? n : d;
    double *G = malloc((size_t)m * m * sizeof *G), *w = malloc((size_t)m * sizeof *w);
    if (!G || !w) {
        free(G);
        free(w);
        return XFER_OOM(err);
    }
    if (m == d)
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, n, 1.0 / n, Z, d, 0.0, G, d);
    else
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, n, d, 1.0 / n, Z, d, 0.0, G, n);
    for (int i = 0; i < m; i++) /* dsyrk filled the upper triangle */
        for (int j = 0; j < i; j++)
            G[(size_t)i * m + j] = G[(size_t)j * m + i];
    int rc = xfer_la_eigh(m, G, w, err);
    if (rc == XFER_OK) {
        double mx = 0;
        for (int j = 0; j < m; j++)
            mx = fabs(w[j]) > mx ? fabs(w[j]) : mx;
        *rank = 0;
        for (int j = 0; j < m; j++)
            *rank += fabs(w[j]) > mx * d * DBL_EPSILON;
    }
    free(G);
    free(w);
    return rc;
}

int xfer_metric_transrate(const xfer_metric_input *in, const xfer_metric_params *p,
                          xfer_metric_result *out, xfer_err *err) {
    double eps;
    if (xfer_metric_param_double(p, "transrate", "eps", TRANSRATE_EPS_DEFAULT, 1e-300, 1e300, &eps,
                                 err))
        return err->code;
    int variant; /* 0: authors, 1: tllib */
    if (xfer_metric_param_choice(p, "transrate", "variant", "authors|tllib", 0, &variant, err))
        return err->code;
    const int n = in->n, d = in->d, ct = in->ct;
    double *X = xfer_features_f64(in), *Zc = malloc((size_t)n * d * sizeof *Zc);
    int *cnt = malloc((size_t)ct * sizeof *cnt);
    int rc = XFER_OK;
    if (!X || !Zc || !cnt) {
        rc = XFER_OOM(err);
        goto done;
    }
    xfer_center_columns(X, n, d, NULL);
    if (variant == 0) /* rows to unit length */
        for (int i = 0; i < n; i++) {
            double *z = X + (size_t)i * d;
            double nrm = cblas_dnrm2(d, z, 1);
            if (!(nrm > 0)) {
                rc = xfer_fail(err, XFER_EINPUT,
                               "transrate: sample %d equals the feature mean (a zero row cannot be "
                               "scaled to unit length; variant tllib does not scale)",
                               i);
                goto done;
            }
            cblas_dscal(d, 1.0 / nrm, z, 1);
        }
    double r_all, r_cls = 0;
    if ((rc = coding_rate(X, n, d, eps, &r_all, err))) goto done;
    xfer_class_counts(in->labels, n, ct, cnt);
    for (int c = 0; c < ct; c++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (in->labels[i] == c) memcpy(Zc + (size_t)m++ * d, X + (size_t)i * d, d * 8);
        double r;
        if ((rc = coding_rate(Zc, m, d, eps, &r, err))) goto done;
        r_cls += variant == 0 ? r * m / n : r / ct;
    }
    out->value = r_all - r_cls;
    if (variant == 0) {
        int rank = 0;
        if ((rc = gram_rank(X, n, d, &rank, err))) goto done;
        out->value /= rank;
    }
done:
    free(X);
    free(Zc);
    free(cnt);
    return rc;
}
