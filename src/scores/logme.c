/* logme (You et al. 2021, "LogME: practical assessment of pre-trained models for transfer
 * learning"). For each target class c, y = 1[label = c] is regressed on the (uncentred) features
 * F [N,D] with prior w ~ N(0, 1/alpha) and noise 1/beta. With F^T F = V diag(s) V^T (all D
 * eigenvalues, so N < D is handled exactly: the D - N zero eigenvalues each contribute log(alpha);
 * the public code's thin SVD drops them, a known bug), t = V^T F^T y:
 *   gamma = sum_j s_j/(s_j + alpha/beta); m-coefficients u_j = beta t_j/(alpha + beta s_j);
 *   alpha <- gamma / (|m|^2 + eps);  beta <- (N - gamma) / (|y - F m|^2 + eps),
 * at most LOGME_MAX_ITER updates, stopping when alpha/beta changes by <= LOGME_TOL relatively;
 * evidence_c = [D/2 log alpha + N/2 log beta - 1/2 sum_j log(alpha + beta s_j)
 *               - beta/2 |y - F m|^2 - alpha/2 |m|^2 - N/2 log 2 pi] / N
 * with the last alpha, beta and the |m|^2, |y - F m|^2 they were computed from (the paper and the
 * authors' default _fit_fixed_point in thuml/LogME's LogME.py: no eps in the evidence; only the
 * older _fit_icml adds it there),
 * |m|^2 = sum u_j^2 and |y - F m|^2 = y.y - 2 u.t + sum s_j u_j^2 in the eigenbasis (O(D) per
 * iteration). LogME = the mean of evidence_c over the Ct classes. float64 throughout. Higher is
 * better. */
#include <math.h>
#include <stdlib.h>

#include <cblas.h>

#include "scores_internal.h"

#define LOGME_MAX_ITER 11 /* the published code: "should converge after at most 10 steps" */
/* relative change of alpha/beta: the authors' default _fit_fixed_point stops at <= 1e-3 (the
 * older _fit_icml at < 1e-2) */
#define LOGME_TOL 1e-3
#define LOGME_EPS 1e-5 /* the published code's epsilon in the alpha and beta updates only */
#define LOGME_LOG_2PI 1.8378770664093454836 /* log(2 pi) */

static double class_evidence(const double *s, const double *t, int d, int n, double yy,
                             int max_iter, double tol) {
    double alpha = 1, beta = 1, lam = 1, alpha_de = 0, beta_de = 0;
    for (int it = 0; it < max_iter; it++) {
        double gamma = 0, ut = 0, sus = 0;
        alpha_de = 0;
        for (int j = 0; j < d; j++) {
            gamma += s[j] / (s[j] + lam);
            double u = t[j] * beta / (alpha + beta * s[j]);
            alpha_de += u * u;
            ut += u * t[j];
            sus += s[j] * u * u;
        }
        beta_de = yy - 2 * ut + sus;
        if (beta_de < 0) beta_de = 0; /* rounding when F m fits y almost exactly */
        alpha = gamma / (alpha_de + LOGME_EPS);
        beta = (n - gamma) / (beta_de + LOGME_EPS);
        double new_lam = alpha / beta;
        if (fabs(new_lam - lam) / lam <= tol) break;
        lam = new_lam;
    }
    double ev = d / 2.0 * log(alpha) + n / 2.0 * log(beta);
    for (int j = 0; j < d; j++)
        ev -= 0.5 * log(alpha + beta * s[j]);
    ev -= beta / 2.0 * beta_de + alpha / 2.0 * alpha_de + n / 2.0 * LOGME_LOG_2PI;
    return ev / n;
}

int xfer_metric_logme(const xfer_metric_input *in, const xfer_metric_params *p,
                      xfer_metric_result *out, xfer_err *err) {
    long max_iter;
    double tol;
    if (xfer_metric_param_int(p, "logme", "max_iter", LOGME_MAX_ITER, 1, 1000, &max_iter, err) ||
        xfer_metric_param_double(p, "logme", "tol", LOGME_TOL, 0, 1, &tol, err))
        return err->code;
    const int n = in->n, d = in->d, ct = in->ct;
    double *X = xfer_features_f64(in), *A = malloc((size_t)d * d * sizeof *A);
    double *s = malloc((size_t)d * sizeof *s), *Sm = malloc((size_t)ct * d * sizeof *Sm);
    double *T = malloc((size_t)ct * d * sizeof *T), *ev = malloc((size_t)ct * sizeof *ev);
    int *cnt = malloc((size_t)ct * sizeof *cnt);
    int rc = XFER_OK;
    if (!X || !A || !s || !Sm || !T || !ev || !cnt) {
        rc = XFER_OOM(err);
        goto done;
    }
    xfer_gram(X, n, d, 1.0, A);
    xfer_class_sums(X, in->labels, n, d, ct, Sm);
    xfer_class_counts(in->labels, n, ct, cnt);
    if ((rc = xfer_la_eigh(d, A, s, err))) goto done;
    for (int j = 0; j < d; j++)
        s[j] = fabs(s[j]); /* singular values of F^T F */
    /* T[c,j] = v_j . (F^T y_c) */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ct, d, d, 1.0, Sm, d, A, d, 0.0, T, d);
#pragma omp parallel for schedule(dynamic)
    for (int c = 0; c < ct; c++)
        ev[c] = class_evidence(s, T + (size_t)c * d, d, n, cnt[c], (int)max_iter, tol);
    double sum = 0;
    for (int c = 0; c < ct; c++)
        sum += ev[c];
    out->value = sum / ct;
done:
    free(X);
    free(A);
    free(s);
    free(Sm);
    free(T);
    free(ev);
    free(cnt);
    return rc;
}
