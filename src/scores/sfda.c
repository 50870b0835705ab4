/* sfda (Shao et al. 2022, "Not all models are equal: predicting model transferability in a
 * self-challenging Fisher space"), following the published algorithm:
 *  1. FDA fit: priors pi_c = n_c/N, class means mu_c, within scatter Sw = sum_c pi_c cov_c
 *     (population covariances); shrinkage a = max(exp(-5 l), 1e-10) with l the largest
 *     eigenvalue of Sw estimated by the published three double power steps from x = Sw 1;
 *     Sw_a = (1-a) Sw + a (tr Sw / D) I. The published classifier's coefficients are
 *     mu_c V V^T with V the generalised eigenvectors of (Sb, Sw_a), and V V^T = Sw_a^{-1}, so
 *     p(y|x) = softmax_c(x^T Sw_a^{-1} mu_c - 1/2 mu_c^T Sw_a^{-1} mu_c + log pi_c).
 *  2. ConfMix: q = softmax(p) row-wise (the published "soften" step) and each x_i is replaced by
 *     q_{i,y_i} x_i + (1 - q_{i,y_i}) mbar_{y_i}, mbar_c the mean of the other classes' means.
 *  3. A second FDA fit on the mixed features with the same a; SFDA = mean_i p2(y_i | x_i).
 * Classes are those present in the labels (at least 2). Features are centred first (the
 * classifier is shift-equivariant, the centring only helps rounding). Higher is better. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "scores_internal.h"

#define SFDA_POWER_STEPS 3 /* iterative_A(max_iterations=3) in the published code */
#define SFDA_MIN_SHRINK 1e-10

typedef struct {
    int n, d, k;    /* samples, dims, classes present */
    const int *y;   /* [n] labels mapped to 0..k-1 */
    const int *cnt; /* [k] */
} sfda_shape;

static double power_largest(const double *A, int d, double *x, double *y, double *t) {
    for (int i = 0; i < d; i++) {
        x[i] = 0;
        for (int j = 0; j < d; j++)
            x[i] += A[(size_t)i * d + j];
    }
    for (int it = 0; it < SFDA_POWER_STEPS; it++) {
        cblas_dgemv(CblasRowMajor, CblasNoTrans, d, d, 1.0, A, d, x, 1, 0.0, t, 1);
        double nt = cblas_dnrm2(d, t, 1);
        for (int i = 0; i < d; i++)
            y[i] = t[i] / nt;
        cblas_dgemv(CblasRowMajor, CblasNoTrans, d, d, 1.0, A, d, y, 1, 0.0, t, 1);
        nt = cblas_dnrm2(d, t, 1);
        for (int i = 0; i < d; i++)
            x[i] = t[i] / nt;
    }
    cblas_dgemv(CblasRowMajor, CblasNoTrans, d, d, 1.0, A, d, y, 1, 0.0, t, 1);
    return cblas_ddot(d, x, 1, t, 1);
}

/* FDA posteriors prob [n,k] of X [n,d]; *shrink < 0: choose it (and return it). means [k,d]. */
static int fda_proba(const double *X, const sfda_shape *s, double *shrink, double *means,
                     double *prob, xfer_err *err) {
    const int n = s->n, d = s->d, k = s->k;
    double *Xw = malloc((size_t)n * d * sizeof *Xw), *Sw = malloc((size_t)d * d * sizeof *Sw);
    double *W = malloc((size_t)d * k * sizeof *W), *b = malloc((size_t)k * sizeof *b);
    double *v = malloc((size_t)3 * d * sizeof *v);
    int rc = XFER_OK;
    if (!Xw || !Sw || !W || !b || !v) {
        rc = XFER_OOM(err);
        goto done;
    }
    xfer_class_sums(X, s->y, n, d, k, means);
    for (int c = 0; c < k; c++)
        for (int j = 0; j < d; j++)
            means[(size_t)c * d + j] /= s->cnt[c];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            Xw[(size_t)i * d + j] = X[(size_t)i * d + j] - means[(size_t)s->y[i] * d + j];
    xfer_gram(Xw, n, d, n, Sw); /* sum_c pi_c cov_c = (1/N) sum_i (x_i - mu_yi)(x_i - mu_yi)^T */
    if (*shrink < 0) {
        double l = power_largest(Sw, d, v, v + d, v + 2 * d);
        *shrink = exp(-5 * l);
        if (!(*shrink > SFDA_MIN_SHRINK)) *shrink = SFDA_MIN_SHRINK;
    }
    double a = *shrink, mu = 0;
    for (int j = 0; j < d; j++)
        mu += Sw[(size_t)j * d + j];
    mu /= d;
    for (size_t q = 0; q < (size_t)d * d; q++)
        Sw[q] *= 1 - a;
    for (int j = 0; j < d; j++)
        Sw[(size_t)j * d + j] += a * mu;
    if ((rc = xfer_la_cholesky(d, Sw, "sfda: shrunk within-class scatter", err))) goto done;
    for (int j = 0; j < d; j++)
        for (int c = 0; c < k; c++)
            W[(size_t)j * k + c] = means[(size_t)c * d + j];
    if ((rc = xfer_la_chol_solve(d, Sw, k, W, err))) goto done; /* W = Sw_a^{-1} M^T */
    for (int c = 0; c < k; c++) {
        double q = 0;
        for (int j = 0; j < d; j++)
            q += means[(size_t)c * d + j] * W[(size_t)j * k + c];
        b[c] = -0.5 * q + log((double)s->cnt[c] / n);
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, k, d, 1.0, X, d, W, k, 0.0, prob, k);
    for (int i = 0; i < n; i++)
        for (int c = 0; c < k; c++)
            prob[(size_t)i * k + c] += b[c];
    xfer_softmax_rows(prob, n, k, prob);
done:
    free(Xw);
    free(Sw);
    free(W);
    free(b);
    free(v);
    return rc;
}

int xfer_metric_sfda(const xfer_metric_input *in, const xfer_metric_params *p,
                     xfer_metric_result *out, xfer_err *err) {
    (void)p;
    const int n = in->n, d = in->d, ct = in->ct;
    int *cnt_all = malloc((size_t)ct * sizeof *cnt_all), *map = malloc((size_t)ct * sizeof *map);
    int *y = malloc((size_t)n * sizeof *y), *cnt = malloc((size_t)ct * sizeof *cnt);
    double *X = xfer_features_f64(in), *means = malloc((size_t)ct * d * sizeof *means);
    double *prob = malloc((size_t)n * ct * sizeof *prob), *sum = calloc((size_t)d, sizeof *sum);
    int rc = XFER_OK;
    if (!cnt_all || !map || !y || !cnt || !X || !means || !prob || !sum) {
        rc = XFER_OOM(err);
        goto done;
    }
    xfer_class_counts(in->labels, n, ct, cnt_all);
    int k = 0;
    for (int c = 0; c < ct; c++) {
        map[c] = cnt_all[c] > 0 ? k : -1;
        if (cnt_all[c] > 0) cnt[k++] = cnt_all[c];
    }
    if (k < 2) {
        rc = xfer_fail(err, XFER_EINPUT, "sfda needs at least 2 target classes with samples");
        goto done;
    }
    for (int i = 0; i < n; i++)
        y[i] = map[in->labels[i]];
    xfer_center_columns(X, n, d, NULL);
    sfda_shape s = {n, d, k, y, cnt};
    double shrink = -1;
    if ((rc = fda_proba(X, &s, &shrink, means, prob, err))) goto done;
    xfer_softmax_rows(prob, n, k, prob); /* the published second softmax */
    for (int c = 0; c < k; c++)
        for (int j = 0; j < d; j++)
            sum[j] += means[(size_t)c * d + j];
    for (int i = 0; i < n; i++) {
        double q = prob[(size_t)i * k + y[i]];
        const double *mc = means + (size_t)y[i] * d;
        double *x = X + (size_t)i * d;
        for (int j = 0; j < d; j++)
            x[j] = q * x[j] + (1 - q) * (sum[j] - mc[j]) / (k - 1);
    }
    if ((rc = fda_proba(X, &s, &shrink, means, prob, err))) goto done;
    double acc = 0;
    for (int i = 0; i < n; i++)
        acc += prob[(size_t)i * k + y[i]];
    out->value = acc / n;
done:
    free(cnt_all);
    free(map);
    free(y);
    free(cnt);
    free(X);
    free(means);
    free(prob);
    free(sum);
    return rc;
}
