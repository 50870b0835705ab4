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
#include <omp.h>

#include "scores_internal.h"
#include "xfer/log.h"

#define NLEEP_VAR_FRAC 0.8 /* the published PCA setting */
#define NLEEP_PER_CLASS 5  /* the published number of components per target class */
#define NLEEP_REG 1e-6     /* sklearn GaussianMixture reg_covar */
#define NLEEP_MAX_ITER 100 /* sklearn GaussianMixture max_iter */
#define NLEEP_TOL 1e-3     /* sklearn GaussianMixture tol */
#define NLEEP_LOG_2PI 1.8378770664093454836
#define NLEEP_CUT 50.0  /* posteriors below e^-50 of a sample's largest are taken as 0 */
#define NLEEP_BLOCK 512 /* rows per block of the E step */

typedef struct {
    int n, d, k, m;       /* m = 2d + 1: the width of the rows of Z and W */
    double *mu, *var, *w; /* [k,d], [k,d], [k] */
    double *W;   /* [k,m]: -1/(2 var) | mu/var | log w - (d log 2pi + log det + mu'mu/var)/2 */
    double *S;   /* [k,m]: the M step's sums resp^T Z */
    double *Sb;  /* [blocks,k,m]: each block's part of S */
    double *ll;  /* per-sample log-likelihood [n] */
    double *buf; /* [threads,NLEEP_BLOCK,k]: each thread's block of posteriors */
    int *idx;    /* [threads,NLEEP_BLOCK,k]: per row of the block, its non-zero posteriors */
    int threads; /* the buffers' thread count */
} gmm;

/* One EM step over Z [n,m] = [Y*Y | Y | 1] (one row per sample), in blocks of NLEEP_BLOCK rows
 * shared out over the threads (BLAS itself runs single-threaded in the metrics): a block's
 * log-densities plus log weights are one GEMM, Z_b W^T; each row is normalised (log-sum-exp);
 * then, while the block's posteriors are in cache, its part of the M step's sums,
 * S_b = resp_b^T Z_b (per component: sum r y^2, sum r y, n_c). S is the sum of the S_b in block
 * order, so it does not depend on the thread count. With resp != NULL (the final E step) the
 * posteriors [n,k] are written there and S is not formed. Returns the mean log-likelihood of the
 * parameters the step started from. */
static double em_step(gmm *g, const double *Z, double *resp) {
    const int n = g->n, d = g->d, k = g->k, m = g->m;
    const int nblk = (n + NLEEP_BLOCK - 1) / NLEEP_BLOCK;
    for (int c = 0; c < k; c++) {
        double s = 0, ld = 0, *wr = g->W + (size_t)c * m;
        for (int j = 0; j < d; j++) {
            double v = g->var[(size_t)c * d + j], mu = g->mu[(size_t)c * d + j];
            wr[j] = -0.5 / v;
            wr[d + j] = mu / v;
            s += mu * mu / v;
            ld += log(v);
        }
        wr[2 * d] = log(g->w[c]) - 0.5 * (d * NLEEP_LOG_2PI + ld + s);
    }
#pragma omp parallel num_threads(g->threads)
    {
        const int t = omp_get_thread_num();
        double *tbuf = g->buf + (size_t)t * NLEEP_BLOCK * k;
        int *tidx = g->idx + (size_t)t * NLEEP_BLOCK * k;
#pragma omp for schedule(dynamic)
        for (int bl = 0; bl < nblk; bl++) {
            const int i0 = bl * NLEEP_BLOCK, nb = n - i0 < NLEEP_BLOCK ? n - i0 : NLEEP_BLOCK;
            double *R = resp ? resp + (size_t)i0 * k : tbuf;
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, k, m, 1.0, Z + (size_t)i0 * m,
                        m, g->W, m, 0.0, R, k);
            for (int b = 0; b < nb; b++) {
                double *r = R + (size_t)b * k, mx = -INFINITY, s = 0;
                int *ix = tidx + (size_t)b * k, q = 0;
#pragma omp simd reduction(max : mx)
                for (int c = 0; c < k; c++)
                    mx = r[c] > mx ? r[c] : mx;
                /* below e^-NLEEP_CUT the posterior is < 1e-21 of the largest: 0, no exp() */
                for (int c = 0; c < k; c++) {
                    double e = r[c] - mx;
                    if (e > -NLEEP_CUT) {
                        s += (r[c] = exp(e));
                        ix[q++] = c;
                    } else {
                        r[c] = 0.0;
                    }
                }
                for (int u = 0; u < q; u++) /* the non-zeros only */
                    r[ix[u]] /= s;
                g->ll[i0 + b] = mx + log(s);
            }
            if (!resp)
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, m, nb, 1.0, R, k,
                            Z + (size_t)i0 * m, m, 0.0, g->Sb + (size_t)bl * k * m, m);
        }
    }
    if (!resp) {
        memcpy(g->S, g->Sb, (size_t)k * m * sizeof(double));
        for (int bl = 1; bl < nblk; bl++) {
            const double *sb = g->Sb + (size_t)bl * k * m;
            for (size_t q = 0; q < (size_t)k * m; q++)
                g->S[q] += sb[q];
        }
    }
    return xfer_sum_ordered(g->ll, (size_t)n) / n;
}

/* The M step's parameters from the sums S (sklearn's diagonal-covariance M step). */
static void m_step(gmm *g) {
    const int n = g->n, d = g->d, k = g->k, m = g->m;
    for (int c = 0; c < k; c++) {
        const double *sc = g->S + (size_t)c * m;
        double nk = sc[2 * d] + 10 * 2.220446049250313e-16; /* sklearn: 10 * eps */
        g->w[c] = nk / n;
        for (int j = 0; j < d; j++) {
            double mu = g->mu[(size_t)c * d + j] = sc[d + j] / nk;
            g->var[(size_t)c * d + j] = sc[j] / nk - mu * mu + NLEEP_REG;
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
    double *Y = NULL;
    int d = 0;
    int rc = xfer_features_pca(in, in->d, var_frac, &Y, &d, err);
    if (rc) return rc;
    const int m = 2 * d + 1;
    const int nblk = (n + NLEEP_BLOCK - 1) / NLEEP_BLOCK, nth = omp_get_max_threads();
    gmm g = {n, d, k, m, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, nth};
    g.mu = malloc((size_t)k * d * sizeof(double));
    g.var = malloc((size_t)k * d * sizeof(double));
    g.w = malloc((size_t)k * sizeof(double));
    g.W = malloc((size_t)k * m * sizeof(double));
    g.S = malloc((size_t)k * m * sizeof(double));
    g.ll = malloc((size_t)n * sizeof(double));
    g.Sb = malloc((size_t)nblk * k * m * sizeof(double));
    g.buf = malloc((size_t)nth * NLEEP_BLOCK * k * sizeof(double));
    g.idx = malloc((size_t)nth * NLEEP_BLOCK * k * sizeof(int));
    double *Z = malloc((size_t)n * m * sizeof(double));
    double *resp = malloc((size_t)n * k * sizeof(double)), *gv = calloc((size_t)d, sizeof(double));
    int *perm = malloc((size_t)n * sizeof(int));
    if (!g.mu || !g.var || !g.w || !g.W || !g.S || !g.Sb || !g.ll || !g.buf || !g.idx || !Z ||
        !resp || !gv || !perm) {
        rc = XFER_OOM(err);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        double *zi = Z + (size_t)i * m;
        for (int j = 0; j < d; j++) {
            double y = Y[(size_t)i * d + j];
            zi[j] = y * y;
            zi[d + j] = y;
        }
        zi[2 * d] = 1.0;
    }
    /* Y is centred by the PCA, so the population variance is the mean of squares. */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            gv[j] += Z[(size_t)i * m + j] / n;
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
        double ll = em_step(&g, Z, NULL);
        m_step(&g);
        if (fabs(ll - prev) < tol) break;
        prev = ll;
    }
    xfer_debug("nleep: PCA to %d components, %d-component diagonal GMM, %ld EM steps", d, k,
               it < max_iter ? it + 1 : max_iter);
    em_step(&g, Z, resp);
    rc = xfer_leep_from_probs(resp, n, k, in->labels, in->ct, &out->value, err);
    if (rc) xfer_err_prefix(err, "nleep: ");
done:
    free(Y);
    free(g.mu);
    free(g.var);
    free(g.w);
    free(g.W);
    free(g.S);
    free(g.Sb);
    free(g.ll);
    free(g.buf);
    free(g.idx);
    free(Z);
    free(resp);
    free(gv);
    free(perm);
    return rc;
}
