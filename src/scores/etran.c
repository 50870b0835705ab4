/* etran (Gholami et al., ICCV 2023, "ETran: energy-based transferability estimation"), as
 * mgholamikn/ETran releases it (metrics.py LDA_Score / LDA and Energy_Score; tw.py combines them).
 * A pool-level score: each source gives two raw terms,
 *   lda    = mean_i p(y_i | x_i) of the released LDA classifier: its coefficients are
 *            means V V^T with V the full orthonormal eigenbasis of S_w^-1 S_b, so V V^T = I and
 *            p(c | x) = softmax_c(x . mu_c - |mu_c|^2 / 2 + log pi_c) (class means mu_c, priors
 *            pi_c = n_c / N, over the classes present);
 *   energy = the mean of the lowest floor(5 N / 1000) values of logsumexp_k x_ik over the
 *            features (Energy_Score(X, 0.5, 'bot')); when N < 200 that count is 0 (the published
 *            mean is NaN) and xfer takes the single lowest value instead;
 * and over the candidate sources ETran = 0.85 minmax(lda) + 0.15 minmax(energy) (tw.py). The
 * paper's regression term is not part of the released combination and is not computed. Higher is
 * better. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "scores_internal.h"

#define ETRAN_W_LDA 0.85
#define ETRAN_W_ENERGY 0.15
#define ETRAN_BLOCK 512 /* rows converted to float64 at a time */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void xfer_metric_etran_pool(const double *terms, int n, double *values) {
    double *a = malloc((size_t)n * 2 * sizeof *a);
    if (!a) {
        for (int i = 0; i < n; i++)
            values[i] = NAN;
        return;
    }
    xfer_metric_minmax(terms, n, 2, 0, a);
    xfer_metric_minmax(terms, n, 2, 1, a + n);
    for (int i = 0; i < n; i++)
        values[i] = ETRAN_W_LDA * a[i] + ETRAN_W_ENERGY * a[n + i];
    free(a);
}

/* Rows [i0, i0+nb) of the features as float64: the input's own rows when it holds float64, else
 * converted into buf [ETRAN_BLOCK,d]. */
static const double *rows_f64(const xfer_metric_input *in, int i0, int nb, double *buf) {
    const size_t d = (size_t)in->d;
    if (in->features) return in->features + (size_t)i0 * d;
    const float *f = in->features_f32 + (size_t)i0 * d;
    for (size_t q = 0; q < (size_t)nb * d; q++)
        buf[q] = f[q];
    return buf;
}

int xfer_metric_etran(const xfer_metric_input *in, const xfer_metric_params *p,
                      xfer_metric_result *out, xfer_err *err) {
    (void)p;
    const int n = in->n, d = in->d, ct = in->ct;
    /* No float64 copy of the whole feature matrix: a block of rows at a time. */
    double *mu = calloc((size_t)ct * d, sizeof *mu), *bias = malloc((size_t)ct * sizeof *bias);
    double *en = malloc((size_t)n * sizeof *en), *pl = malloc((size_t)n * sizeof *pl);
    int *start = calloc((size_t)ct + 1, sizeof *start), *order = malloc((size_t)n * sizeof *order);
    int rc = XFER_OK, failed = 0;
    if (!mu || !bias || !en || !pl || !start || !order) {
        rc = XFER_OOM(err);
        goto done;
    }
    xfer_class_rows(in->labels, n, ct, start, order);
    /* class means: each class's rows in row order (classes shared out over the threads) */
#pragma omp parallel for schedule(dynamic)
    for (int c = 0; c < ct; c++) {
        double *m = mu + (size_t)c * d;
        const int nc = start[c + 1] - start[c];
        for (int r = start[c]; r < start[c + 1]; r++) {
            const size_t i = (size_t)order[r] * d;
            if (in->features)
                for (int q = 0; q < d; q++)
                    m[q] += in->features[i + q];
            else
                for (int q = 0; q < d; q++)
                    m[q] += in->features_f32[i + q];
        }
        if (nc == 0) continue;
        for (int q = 0; q < d; q++)
            m[q] /= nc;
        bias[c] = -0.5 * cblas_ddot(d, m, 1, m, 1) + log((double)nc / n);
    }
    const int nblk = (n + ETRAN_BLOCK - 1) / ETRAN_BLOCK;
#pragma omp parallel reduction(| : failed)
    {
        double *xb = malloc((size_t)ETRAN_BLOCK * d * sizeof *xb);
        double *S = malloc((size_t)ETRAN_BLOCK * ct * sizeof *S);
        failed |= !xb || !S;
#pragma omp for schedule(dynamic)
        for (int blk = 0; blk < nblk; blk++) {
            const int i0 = blk * ETRAN_BLOCK, nb = n - i0 < ETRAN_BLOCK ? n - i0 : ETRAN_BLOCK;
            if (!xb || !S) continue;
            const double *X = rows_f64(in, i0, nb, xb);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, ct, d, 1.0, X, d, mu, d, 0.0,
                        S, ct);
            for (int b = 0; b < nb; b++) {
                const int i = i0 + b, y = in->labels[i];
                const double *s = S + (size_t)b * ct, *x = X + (size_t)b * d;
                double mx = -INFINITY, z = 0;
                for (int c = 0; c < ct; c++)
                    if (start[c + 1] > start[c] && s[c] + bias[c] > mx) mx = s[c] + bias[c];
                for (int c = 0; c < ct; c++)
                    if (start[c + 1] > start[c]) z += exp(s[c] + bias[c] - mx);
                pl[i] = exp(s[y] + bias[y] - mx) / z; /* p(y_i | x_i), added in order below */
                double xm = -INFINITY, e = 0;
                for (int q = 0; q < d; q++)
                    xm = x[q] > xm ? x[q] : xm;
                for (int q = 0; q < d; q++)
                    e += exp(x[q] - xm);
                en[i] = xm + log(e);
            }
        }
        free(xb);
        free(S);
    }
    if (failed) {
        rc = XFER_OOM(err);
        goto done;
    }
    double lda = xfer_sum_ordered(pl, (size_t)n);
    qsort(en, (size_t)n, sizeof *en, cmp_double);
    int m = (int)((5L * n) / 1000);
    if (m < 1) m = 1;
    double energy = 0;
    for (int i = 0; i < m; i++)
        energy += en[i];
    out->value = NAN; /* pooled over the sources: xfer_metric_pool */
    out->n_terms = 2;
    out->terms[0] = lda / n;
    out->terms[1] = energy / m;
done:
    free(mu);
    free(bias);
    free(en);
    free(pl);
    free(start);
    free(order);
    return rc;
}
