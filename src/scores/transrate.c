/* transrate (Huang et al. 2022, "Frustratingly easy transferability estimation"): with the
 * features centred (Z = F - mean F) and the coding rate R(Z) = 1/2 logdet(I + Z^T Z / (n eps)) for
 * Z with n rows, TransRate = R(Z) - (1/Ct) sum_c R(Z_c), Z_c the rows of class c (not re-centred;
 * an empty class contributes 0), as in the published code. eps (distortion) defaults to 1e-4, the
 * published value. The smaller of the d x d and n x n Gram matrices is used (Sylvester's
 * determinant identity); logdet by Cholesky. Higher is better. */
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

int xfer_metric_transrate(const xfer_metric_input *in, const xfer_metric_params *p,
                          xfer_metric_result *out, xfer_err *err) {
    double eps;
    if (xfer_metric_param_double(p, "transrate", "eps", TRANSRATE_EPS_DEFAULT, 1e-300, 1e300, &eps,
                                 err))
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
    double r_all, r_cls = 0;
    if ((rc = coding_rate(X, n, d, eps, &r_all, err))) goto done;
    xfer_class_counts(in->labels, n, ct, cnt);
    for (int c = 0; c < ct; c++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (in->labels[i] == c) memcpy(Zc + (size_t)m++ * d, X + (size_t)i * d, d * 8);
        double r;
        if ((rc = coding_rate(Zc, m, d, eps, &r, err))) goto done;
        r_cls += r;
    }
    out->value = r_all - r_cls / ct;
done:
    free(X);
    free(Zc);
    free(cnt);
    return rc;
}
