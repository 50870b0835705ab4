/* pactran (Ding, Chen, Liu, Cheng, Chen, Yuille 2022, "PACTran: PAC-Bayesian metrics for
 * estimating the transferability of pretrained models to classification tasks"), the Dirichlet
 * variant as google-research/pactran_metrics computes it (compute_metrics.py calculate_pac_dir,
 * alpha = 1 as its main() uses). With Y the one-hot labels over v = max(label) + 1 classes,
 * s = theta + 1e-10 (the source's probabilities), a0_y = alpha n_y / N + 1e-10, q = theta, ten
 * mean-field updates
 *   aw = a0 + Y^T q   [v, Cs];   log q_i = softmax-normalised(log s_i + psi(aw[y_i]) - psi(sum_y
 * aw)), then with log C(a) = log Gamma(sum a) - sum log Gamma(a) (per source class z over the v
 * rows) PACTran = -[Cs log C(a0) - sum_z log C(aw_z) - sum_iz q_iz (log q_iz - log s_iz)] / (N v).
 * A PAC-Bayes bound on the loss: lower is better. Needs theta and the labels. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scores_internal.h"

#define PACTRAN_ITERS 10   /* the published number of updates */
#define PACTRAN_TINY 1e-10 /* the published offsets */

/* psi(x) for x > 0: recurrence up to 6, then the asymptotic series (relative error ~1e-16). */
static double digamma(double x) {
    double r = 0;
    while (x < 6) {
        r -= 1 / x;
        x += 1;
    }
    double f = 1 / (x * x);
    return r + log(x) - 0.5 / x -
           f * (1.0 / 12 -
                f * (1.0 / 120 -
                     f * (1.0 / 252 -
                          f * (1.0 / 240 - f * (1.0 / 132 - f * (691.0 / 32760 - f / 12))))));
}

int xfer_metric_pactran(const xfer_metric_input *in, const xfer_metric_params *p,
                        xfer_metric_result *out, xfer_err *err) {
    double alpha;
    if (xfer_metric_param_double(p, "pactran", "alpha", 1.0, 1e-300, 1e300, &alpha, err))
        return err->code;
    const int n = in->n, cs = in->cs;
    int v = 0;
    for (int i = 0; i < n; i++)
        v = in->labels[i] + 1 > v ? in->labels[i] + 1 : v;
    double *q = malloc((size_t)n * cs * sizeof *q), *logs = malloc((size_t)n * cs * sizeof *logs);
    double *aw = malloc((size_t)v * cs * sizeof *aw), *psi = malloc((size_t)v * cs * sizeof *psi);
    double *a0 = malloc((size_t)v * sizeof *a0), *colsum = malloc((size_t)cs * sizeof *colsum);
    int *cnt = calloc((size_t)v, sizeof *cnt);
    int rc = XFER_OK;
    if (!q || !logs || !aw || !psi || !a0 || !colsum || !cnt) {
        rc = XFER_OOM(err);
        goto done;
    }
    for (int i = 0; i < n; i++)
        cnt[in->labels[i]]++;
    for (int y = 0; y < v; y++)
        a0[y] = alpha * cnt[y] / n + PACTRAN_TINY;
    for (size_t i = 0; i < (size_t)n * cs; i++) {
        q[i] = in->probs[i];
        logs[i] = log(in->probs[i] + PACTRAN_TINY);
    }
    double kl = 0;
    for (int it = 0; it < PACTRAN_ITERS; it++) {
        for (int y = 0; y < v; y++)
            for (int z = 0; z < cs; z++)
                aw[(size_t)y * cs + z] = a0[y];
        for (int i = 0; i < n; i++) {
            double *a = aw + (size_t)in->labels[i] * cs;
            const double *qi = q + (size_t)i * cs;
            for (int z = 0; z < cs; z++)
                a[z] += qi[z];
        }
        memset(colsum, 0, (size_t)cs * sizeof *colsum);
        for (int y = 0; y < v; y++)
            for (int z = 0; z < cs; z++)
                colsum[z] += aw[(size_t)y * cs + z];
#pragma omp parallel for schedule(static)
        for (int y = 0; y < v; y++)
            for (int z = 0; z < cs; z++)
                psi[(size_t)y * cs + z] = digamma(aw[(size_t)y * cs + z]);
        for (int z = 0; z < cs; z++)
            colsum[z] = digamma(colsum[z]);
        kl = 0;
#pragma omp parallel for schedule(static) reduction(+ : kl)
        for (int i = 0; i < n; i++) {
            double *qi = q + (size_t)i * cs;
            const double *ls = logs + (size_t)i * cs, *ps = psi + (size_t)in->labels[i] * cs;
            double mx = -INFINITY, z0 = 0;
            for (int z = 0; z < cs; z++) {
                qi[z] = ls[z] + ps[z] - colsum[z]; /* logits */
                mx = qi[z] > mx ? qi[z] : mx;
            }
            for (int z = 0; z < cs; z++)
                z0 += exp(qi[z] - mx);
            double lse = mx + log(z0), k = 0;
            for (int z = 0; z < cs; z++) {
                double lq = qi[z] - lse;
                qi[z] = exp(lq);
                k += qi[z] * (lq - ls[z]);
            }
            kl += k;
        }
    }
    /* log C(a0) over the v classes; log C(aw_z) per source class with the last aw */
    double s0 = 0, lg0 = 0;
    for (int y = 0; y < v; y++) {
        s0 += a0[y];
        lg0 += lgamma(a0[y]);
    }
    double logc0 = lgamma(s0) - lg0, sum_logc = 0;
    for (int z = 0; z < cs; z++) {
        double s = 0, lg = 0;
        for (int y = 0; y < v; y++) {
            s += aw[(size_t)y * cs + z];
            lg += lgamma(aw[(size_t)y * cs + z]);
        }
        sum_logc += lgamma(s) - lg;
    }
    out->value = -(cs * logc0 - sum_logc - kl) / ((double)n * v);
done:
    free(q);
    free(logs);
    free(aw);
    free(psi);
    free(a0);
    free(colsum);
    free(cnt);
    return rc;
}
