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
    /* Per update, q_iz = s_iz E_yz / Z_i (y = y_i, E below) is needed only through the next
     * update's class sums aw_yz = a0_y + E_yz T_yz with T_yz = sum_{i: y_i = y} s_iz / Z_i, and
     * through sum_z q_iz (log q_iz - log s_iz) = (s_i . (E_y L_y)) / Z_i - log Z_i (sum_z q_iz =
     * 1): q is never stored. The rows of each class are taken in row order by one thread (classes
     * shared out over the threads): the same sums whatever the thread count. */
    const size_t vc = (size_t)v * cs;
    double *aw = malloc(vc * sizeof *aw), *lg = malloc(vc * sizeof *lg);
    double *ex = malloc(vc * sizeof *ex), *el = malloc(vc * sizeof *el),
           *T = malloc(vc * sizeof *T);
    double *kr = malloc((size_t)n * sizeof *kr), *a0 = malloc((size_t)v * sizeof *a0);
    double *colsum = malloc((size_t)cs * sizeof *colsum);
    int *start = calloc((size_t)v + 1, sizeof *start), *order = malloc((size_t)n * sizeof *order);
    int rc = XFER_OK;
    if (!aw || !lg || !ex || !el || !T || !kr || !a0 || !colsum || !start || !order) {
        rc = XFER_OOM(err);
        goto done;
    }
    xfer_class_rows(in->labels, n, v, start, order);
    for (int y = 0; y < v; y++)
        a0[y] = alpha * (start[y + 1] - start[y]) / n + PACTRAN_TINY;
        /* the first update's q is theta itself */
#pragma omp parallel for schedule(dynamic)
    for (int y = 0; y < v; y++) {
        double *a = aw + (size_t)y * cs;
        for (int z = 0; z < cs; z++)
            a[z] = a0[y];
        for (int r = start[y]; r < start[y + 1]; r++) {
            const double *pi = in->probs + (size_t)order[r] * cs;
            for (int z = 0; z < cs; z++)
                a[z] += pi[z];
        }
    }
    double kl = 0;
    for (int it = 0; it < PACTRAN_ITERS; it++) {
        memset(colsum, 0, (size_t)cs * sizeof *colsum);
        for (int y = 0; y < v; y++)
            for (int z = 0; z < cs; z++)
                colsum[z] += aw[(size_t)y * cs + z];
        for (int z = 0; z < cs; z++)
            colsum[z] = digamma(colsum[z]);
            /* The update's logits log s_iz + psi(aw[y_i,z]) - psi(sum_y aw_yz) depend on i only
             * through log s_iz and y_i: with L_yz = psi(aw_yz) - psi(colsum_z) - max_z(...) and
             * E_yz = exp(L_yz), q_iz = s_iz E_yz / Z_i and log q_iz - log s_iz = L_yz - log Z_i, so
             * v x Cs exponentials per update instead of N x Cs. */
#pragma omp parallel for schedule(dynamic)
        for (int y = 0; y < v; y++) {
            double *l = lg + (size_t)y * cs, *e = ex + (size_t)y * cs, mx = -INFINITY;
            double *t = T + (size_t)y * cs, *w = el + (size_t)y * cs;
            for (int z = 0; z < cs; z++) {
                l[z] = digamma(aw[(size_t)y * cs + z]) - colsum[z];
                mx = l[z] > mx ? l[z] : mx;
            }
            for (int z = 0; z < cs; z++) {
                l[z] -= mx;
                e[z] = exp(l[z]);
                w[z] = e[z] * l[z];
                t[z] = 0;
            }
            for (int r = start[y]; r < start[y + 1]; r++) {
                const int i = order[r];
                const double *pi = in->probs + (size_t)i * cs;
                double z0 = 0, k = 0;
                for (int z = 0; z < cs; z++) {
                    const double si = pi[z] + PACTRAN_TINY; /* s = exp(log s) */
                    z0 += si * e[z];
                    k += si * w[z];
                }
                const double inv = 1 / z0;
                for (int z = 0; z < cs; z++)
                    t[z] += (pi[z] + PACTRAN_TINY) * inv;
                kr[i] = k * inv - log(z0);
            }
        }
        kl = xfer_sum_ordered(kr, (size_t)n); /* the same sum whatever the thread count */
        /* the next update's class sums (the last update's aw stays for the bound) */
        if (it + 1 < PACTRAN_ITERS)
            for (size_t q = 0; q < vc; q++)
                aw[q] = a0[q / cs] + ex[q] * T[q];
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
    free(aw);
    free(lg);
    free(ex);
    free(el);
    free(T);
    free(kr);
    free(a0);
    free(colsum);
    free(start);
    free(order);
    return rc;
}
