/* nleep (Li et al. 2021, "Ranking neural checkpoints"): the features are reduced by PCA to the
 * fewest components that keep `var_frac` (default 0.8) of the variance, a Gaussian mixture with
 * `components_per_class` x Ct components (default 5, capped at N) is fitted, and LEEP is computed
 * with the mixture's posteriors in place of the source model's softmax.
 *
 * The mixture (documented choice): diagonal covariances, fitted by EM from a seeded start —
 * means = the rows perm[0..K-1] of a Fisher-Yates shuffle driven by splitmix64(seed) (for i =
 * N-1 down to 1: j = next() mod (i+1), swap), every variance = the per-dimension population
 * variance of the data, weights 1/K; the covariance regulariser NLEEP_REG (sklearn's reg_covar)
 * is added to every variance; at most max_iter (default 100) EM steps, stopping when the mean
 * log-likelihood changes by less than tol (default 1e-3) — sklearn's GaussianMixture defaults.
 * Posteriors come from a final E step; a posterior below e^-50 times the sample's largest is set
 * to 0 (skips most exp() calls; relative effect < 1e-19). Higher is better. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "scores_internal.h"
#include "xfer/log.h"

#define NLEEP_VAR_FRAC 0.8 /* the published PCA setting */
#define NLEEP_PER_CLASS 5  /* the published number of components per target class */
#define NLEEP_REG 1e-6     /* sklearn GaussianMixture reg_covar */
#define NLEEP_MAX_ITER 100 /* sklearn GaussianMixture max_iter */
#define NLEEP_TOL 1e-3     /* sklearn GaussianMixture tol */
#define NLEEP_LOG_2PI 1.8378770664093454836
#define NLEEP_CUT 50.0 /* posteriors below e^-50 of a sample's largest are taken as 0 */

typedef struct {
    int n, d, k;
    double *mu, *var, *w; /* [k,d], [k,d], [k] */
    double *prec, *mprec; /* 1/var, mu/var [k,d] */
    double *cst;          /* per component constant [k] */
    double *ll;           /* per-sample log-likelihood [n] */
} gmm;

/* E step: resp [n,k] = posteriors; returns the mean log-likelihood. */
static double e_step(const gmm *g, const double *Y, const double *Y2, double *resp) {
    const int n = g->n, d = g->d, k = g->k;
    for (int c = 0; c < k; c++) {
        double s = 0, ld = 0;
        for (int j = 0; j < d; j++) {
            double v = g->var[(size_t)c * d + j], m = g->mu[(size_t)c * d + j];
            g->prec[(size_t)c * d + j] = 1 / v;
            g->mprec[(size_t)c * d + j] = m / v;
            s += m * m / v;
            ld += log(v);
        }
        g->cst[c] = log(g->w[c]) - 0.5 * (d * NLEEP_LOG_2PI + ld + s);
    }
    /* resp = -1/2 Y2 prec^T + Y mprec^T + cst */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, k, d, -0.5, Y2, d, g->prec, d, 0.0,
                resp, k);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, k, d, 1.0, Y, d, g->mprec, d, 1.0, resp,
                k);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++) {
        double *r = resp + (size_t)i * k, mx = -INFINITY, s = 0;
        for (int c = 0; c < k; c++) {
            r[c] += g->cst[c];
            mx = r[c] > mx ? r[c] : mx;
        }
        for (int c = 0; c < k; c++) {
            double t = r[c] - mx; /* below e^-NLEEP_CUT the posterior is < 1e-21 of the largest */
            s += (r[c] = t > -NLEEP_CUT ? exp(t) : 0.0);
        }
        for (int c = 0; c < k; c++)
            r[c] /= s;
        g->ll[i] = mx + log(s);
    }
    return xfer_sum_ordered(g->ll, (size_t)n) / n;
}

static void m_step(gmm *g, const double *Y, const double *Y2, const double *resp, double *nk) {
    const int n = g->n, d = g->d, k = g->k;
    for (int c = 0; c < k; c++)
        nk[c] = 0;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < k; c++)
            nk[c] += resp[(size_t)i * k + c];
    for (int c = 0; c < k; c++)
        nk[c] += 10 * 2.220446049250313e-16; /* sklearn: 10 * eps */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, d, n, 1.0, resp, k, Y, d, 0.0, g->mu,
                d);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, d, n, 1.0, resp, k, Y2, d, 0.0, g->var,
                d);
    for (int c = 0; c < k; c++) {
        g->w[c] = nk[c] / n;
        for (int j = 0; j < d; j++) {
            double m = g->mu[(size_t)c * d + j] /= nk[c];
            g->var[(size_t)c * d + j] = g->var[(size_t)c * d + j] / nk[c] - m * m + NLEEP_REG;
        }
    }
}

int xfer_metric_nleep(const xfer_metric_input *in, const xfer_metric_params *p,
                      xfer_metric_result *out, xfer_err *err) {
    double var_frac, tol;
    long per_class, seed, max_iter;
    if (xfer_metric_param_double(p, "nleep", "var_frac", NLEEP_VAR_FRAC, 1e-9, 1, &var_frac, err) ||
        xfer_metric_param_int(p, "nleep", "components_per_class", NLEEP_PER_CLASS, 1, 1000,
                              &per_class, err) ||
        xfer_metric_param_int(p, "nleep", "seed", 0, 0, 0x7fffffffL, &seed, err) ||
        xfer_metric_param_int(p, "nleep", "max_iter", NLEEP_MAX_ITER, 1, 100000, &max_iter, err) ||
        xfer_metric_param_double(p, "nleep", "tol", NLEEP_TOL, 0, 1e300, &tol, err))
        return err->code;
    const int n = in->n;
    long kk = per_class * in->ct;
    const int k = (int)(kk < n ? kk : n);
    double *X = xfer_features_f64(in), *Y = NULL;
    int d = 0, rc = XFER_OK;
    if (!X) return XFER_OOM(err);
    rc = xfer_pca(X, n, in->d, in->d, var_frac, &Y, &d, err);
    free(X);
    if (rc) return rc;
    gmm g = {n, d, k, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    g.mu = malloc((size_t)k * d * sizeof(double));
    g.var = malloc((size_t)k * d * sizeof(double));
    g.prec = malloc((size_t)k * d * sizeof(double));
    g.mprec = malloc((size_t)k * d * sizeof(double));
    g.w = malloc((size_t)k * sizeof(double));
    g.cst = malloc((size_t)k * sizeof(double));
    g.ll = malloc((size_t)n * sizeof(double));
    double *nk = malloc((size_t)k * sizeof(double)), *Y2 = malloc((size_t)n * d * sizeof(double));
    double *resp = malloc((size_t)n * k * sizeof(double)), *gv = calloc((size_t)d, sizeof(double));
    int *perm = malloc((size_t)n * sizeof(int));
    if (!g.mu || !g.var || !g.prec || !g.mprec || !g.w || !g.cst || !g.ll || !nk || !Y2 || !resp ||
        !gv || !perm) {
        rc = XFER_OOM(err);
        goto done;
    }
    for (size_t q = 0; q < (size_t)n * d; q++)
        Y2[q] = Y[q] * Y[q];
    /* Y is centred by the PCA, so the population variance is the mean of squares. */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            gv[j] += Y2[(size_t)i * d + j] / n;
    unsigned long long st = (unsigned long long)seed;
    for (int i = 0; i < n; i++)
        perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(xfer_scores_splitmix_next(&st) % (unsigned long long)(i + 1)), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int c = 0; c < k; c++) {
        memcpy(g.mu + (size_t)c * d, Y + (size_t)perm[c] * d, (size_t)d * sizeof(double));
        for (int j = 0; j < d; j++)
            g.var[(size_t)c * d + j] = gv[j] + NLEEP_REG;
        g.w[c] = 1.0 / k;
    }
    double prev = -INFINITY;
    long it;
    for (it = 0; it < max_iter; it++) {
        double ll = e_step(&g, Y, Y2, resp);
        m_step(&g, Y, Y2, resp, nk);
        if (fabs(ll - prev) < tol) break;
        prev = ll;
    }
    xfer_debug("nleep: PCA to %d components, %d-component diagonal GMM, %ld EM steps", d, k,
               it < max_iter ? it + 1 : max_iter);
    e_step(&g, Y, Y2, resp);
    rc = xfer_leep_from_probs(resp, n, k, in->labels, in->ct, &out->value, err);
    if (rc) xfer_err_prefix(err, "nleep: ");
done:
    free(Y);
    free(g.mu);
    free(g.var);
    free(g.prec);
    free(g.mprec);
    free(g.w);
    free(g.cst);
    free(g.ll);
    free(nk);
    free(Y2);
    free(resp);
    free(gv);
    free(perm);
    return rc;
}
