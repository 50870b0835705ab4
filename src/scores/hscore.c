/* hscore (Bao et al. 2019, "An information-theoretic approach to transferability in task
 * transfer learning"): H = tr(cov(f)^+ cov(g)), g_i = E[f | y = y_i] (the class mean), both
 * covariances with 1/(N-1). The trace of the MATRIX product is computed in the eigenbasis of
 * cov(f) = V diag(l) V^T: H = sum_c n_c/(N-1) sum_j (v_j . (mu_c - mu))^2 / l_j over the l_j kept
 * by the pseudo-inverse (|l_j| > rcond * max|l|, numpy.linalg.pinv's rule; default rcond 1e-15 as
 * in the published code).
 *
 * hscore_reg (Ibrahim et al. 2022, "Newer is not always better: rethinking transferability metrics,
 * their peculiarities, stability and performance"): cov(f) replaced by the Ledoit-Wolf estimate
 * S_a = (1-a) S + a (tr S / D) I (S = X^T X / N of the centred features, a = the Ledoit-Wolf
 * shrinkage as in sklearn.covariance.ledoit_wolf_shrinkage) and cov(g) by (1-a) cov(g).
 * S_a shares S's eigenvectors, so one eigendecomposition serves. Higher is better for both. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "scores_internal.h"

#define HSCORE_RCOND_DEFAULT 1e-15 /* numpy.linalg.pinv(rcond=1e-15) in the published code */

/* Ledoit-Wolf shrinkage of centred X [n,d] given S = X^T X / n (sklearn's formula, one block). */
static double ledoit_wolf_shrinkage(const double *X, int n, int d, const double *S) {
    double tr = 0, beta_ = 0, delta_ = 0;
    for (int k = 0; k < d; k++)
        tr += S[(size_t)k * d + k];
    double mu = tr / d;
    for (int i = 0; i < n; i++) {
        double r = 0;
        for (int k = 0; k < d; k++)
            r += X[(size_t)i * d + k] * X[(size_t)i * d + k];
        beta_ += r * r; /* sum_{j,k} (X2^T X2)_{jk} = sum_i (sum_j x_ij^2)^2 */
    }
    for (size_t k = 0; k < (size_t)d * d; k++)
        delta_ += S[k] * S[k]; /* ||X^T X||^2 / n^2 */
    double beta = (beta_ / n - delta_) / ((double)d * n);
    double delta = (delta_ - 2.0 * mu * tr + d * mu * mu) / d;
    if (beta > delta) beta = delta;
    return beta == 0 ? 0 : beta / delta;
}

static int hscore_common(const xfer_metric_input *in, const xfer_metric_params *p, int reg,
                         xfer_metric_result *out, xfer_err *err) {
    const char *name = reg ? "hscore_reg" : "hscore";
    double rcond;
    if (xfer_metric_param_double(p, name, "rcond", HSCORE_RCOND_DEFAULT, 0, 1, &rcond, err))
        return err->code;
    const int n = in->n, d = in->d, ct = in->ct;
    if (n < 2) return xfer_fail(err, XFER_EINPUT, "%s needs at least 2 samples", name);
    double *X = xfer_features_f64(in);
    double *S = malloc((size_t)d * d * sizeof *S), *w = malloc((size_t)d * sizeof *w);
    double *M = malloc((size_t)ct * d * sizeof *M), *P = malloc((size_t)ct * d * sizeof *P);
    int *cnt = malloc((size_t)ct * sizeof *cnt);
    int rc = XFER_OK;
    if (!X || !S || !w || !M || !P || !cnt) {
        rc = XFER_OOM(err);
        goto done;
    }
    xfer_center_columns(X, n, d, NULL);
    xfer_gram(X, n, d, reg ? n : n - 1, S);
    double alpha = 0, mu = 0;
    if (reg) {
        alpha = ledoit_wolf_shrinkage(X, n, d, S);
        for (int k = 0; k < d; k++)
            mu += S[(size_t)k * d + k];
        mu /= d;
    }
    xfer_class_counts(in->labels, n, ct, cnt);
    xfer_class_sums(X, in->labels, n, d, ct, M);
    for (int c = 0; c < ct; c++)
        for (int k = 0; k < d; k++)
            M[(size_t)c * d + k] /= cnt[c] > 0 ? cnt[c] : 1;
    if ((rc = xfer_la_eigh(d, S, w, err))) goto done;
    if (reg)
        for (int j = 0; j < d; j++)
            w[j] = (1 - alpha) * w[j] + alpha * mu;
    /* P[c,j] = v_j . mu_c */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ct, d, d, 1.0, M, d, S, d, 0.0, P, d);
    double wmax = 0;
    for (int j = 0; j < d; j++)
        wmax = fabs(w[j]) > wmax ? fabs(w[j]) : wmax;
    double h = 0;
    for (int c = 0; c < ct; c++) {
        double s = 0;
        for (int j = 0; j < d; j++)
            if (fabs(w[j]) > rcond * wmax) s += P[(size_t)c * d + j] * P[(size_t)c * d + j] / w[j];
        h += cnt[c] * s;
    }
    out->value = h / (n - 1) * (1 - alpha);
done:
    free(X);
    free(S);
    free(w);
    free(M);
    free(P);
    free(cnt);
    return rc;
}

int xfer_metric_hscore(const xfer_metric_input *in, const xfer_metric_params *p,
                       xfer_metric_result *out, xfer_err *err) {
    return hscore_common(in, p, 0, out, err);
}

int xfer_metric_hscore_reg(const xfer_metric_input *in, const xfer_metric_params *p,
                           xfer_metric_result *out, xfer_err *err) {
    return hscore_common(in, p, 1, out, err);
}
