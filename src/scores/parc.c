/* parc (Bolya et al. 2021, "Scalable diverse model selection for accessible transfer learning"):
 * features -> PCA to `pca_dim` (default 32, published) -> standardised columns (population std;
 * a constant column is left unscaled, as sklearn's StandardScaler does) -> feature RDM
 * 1 - corr(f_i, f_j) over samples (row correlation); label RDM 1 - corr(onehot_i, onehot_j);
 * PARC = 100 x Spearman correlation of the two RDMs' upper triangles (i < j).
 *
 * The label RDM takes two values (0 for same-class pairs, 1 + 1/(C-1) otherwise), so its ranks
 * are affine in the indicator of same-class pairs and Spearman reduces to a rank-sum statistic:
 * with M pairs, S the same-class ones (fraction q), R_S the sum of the (average) ranks of their
 * feature-RDM values among all M values,
 *   PARC = -100 q (R_S/|S| - (M+1)/2) / (sqrt((M^2-1)/12) sqrt(q(1-q))).
 * R_S = |S|(|S|+1)/2 + #{(a,b): a in S, b not in S, x_b < x_a} + 1/2 #{x_b = x_a}, counted by
 * binary search of each different-class value among the sorted same-class values, so the
 * N(N-1)/2 values are never sorted or stored. The rank variance (M^2-1)/12 assumes no tied
 * feature-RDM values (exact unless two pairs have bit-identical correlations, e.g. duplicated
 * samples). Higher is better. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "scores_internal.h"

#define PARC_PCA_DIM_DEFAULT 32 /* the published setting */
#define PARC_BLOCK 512          /* rows of the pair matrix computed per GEMM */
#define PARC_BUCKETS (1L << 18) /* bucket index over the sorted same-class values */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int xfer_metric_parc(const xfer_metric_input *in, const xfer_metric_params *p,
                     xfer_metric_result *out, xfer_err *err) {
    long pca_dim;
    if (xfer_metric_param_int(p, "parc", "pca_dim", PARC_PCA_DIM_DEFAULT, 1, 1 << 20, &pca_dim,
                              err))
        return err->code;
    const int n = in->n, ct = in->ct;
    const int *lab = in->labels;
    if (n < 3) return xfer_fail(err, XFER_EINPUT, "parc needs at least 3 samples");
    int *cnt = malloc((size_t)ct * sizeof *cnt);
    if (!cnt) return XFER_OOM(err);
    xfer_class_counts(lab, n, ct, cnt);
    int present = 0;
    double nsame = 0;
    for (int c = 0; c < ct; c++) {
        present += cnt[c] > 0;
        nsame += 0.5 * (double)cnt[c] * (cnt[c] - 1);
    }
    double M = 0.5 * (double)n * (n - 1);
    if (present < 2 || nsame == 0) {
        free(cnt);
        return xfer_fail(err, XFER_EINPUT,
                         "parc needs at least 2 target classes and a class with 2 samples");
    }
    double *Z = NULL;
    int k = 0;
    int rc = xfer_features_pca(in, (int)(pca_dim < in->d ? pca_dim : in->d), 0, &Z, &k, err);
    double *S = NULL, *G = NULL;
    size_t *bstart = NULL;
    if (rc) goto done;
    /* Standardise columns (already centred by the PCA), then centre and normalise rows. */
    for (int j = 0; j < k; j++) {
        double v = 0;
        for (int i = 0; i < n; i++)
            v += Z[(size_t)i * k + j] * Z[(size_t)i * k + j];
        double sd = sqrt(v / n);
        if (sd > 0)
            for (int i = 0; i < n; i++)
                Z[(size_t)i * k + j] /= sd;
    }
    for (int i = 0; i < n; i++) {
        double *z = Z + (size_t)i * k, m = 0, s = 0;
        for (int j = 0; j < k; j++)
            m += z[j];
        m /= k;
        for (int j = 0; j < k; j++) {
            z[j] -= m;
            s += z[j] * z[j];
        }
        if (!(s > 0)) {
            rc = xfer_fail(
                err, XFER_EINPUT,
                "parc: sample %d has constant features after PCA (correlation undefined)", i);
            goto done;
        }
        s = 1 / sqrt(s);
        for (int j = 0; j < k; j++)
            z[j] *= s;
    }
    size_t ns = (size_t)nsame, fill = 0;
    S = malloc(ns * sizeof *S);
    G = malloc((size_t)PARC_BLOCK * n * sizeof *G);
    if (!S || !G) {
        rc = XFER_OOM(err);
        goto done;
    }
    double cross_less = 0, cross_eq = 0, smin = 0, smax = 0, scale = 0;
    long nbk = 1;
    /* Pass 1: same-class values, through the same GEMM blocks as pass 2 (identical rounding). */
    for (int pass = 0; pass < 2; pass++) {
        for (int r0 = 0; r0 < n; r0 += PARC_BLOCK) {
            int rb = n - r0 < PARC_BLOCK ? n - r0 : PARC_BLOCK;
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rb, n, k, 1.0, Z + (size_t)r0 * k,
                        k, Z, k, 0.0, G, n);
            if (pass == 0) {
                for (int a = 0; a < rb; a++) {
                    int i = r0 + a;
                    for (int j = i + 1; j < n; j++)
                        if (lab[j] == lab[i]) S[fill++] = 1 - G[(size_t)a * n + j];
                }
                continue;
            }
            double cl = 0, ce = 0;
#pragma omp parallel for reduction(+ : cl, ce) schedule(dynamic, 8)
            for (int a = 0; a < rb; a++) {
                int i = r0 + a;
                for (int j = i + 1; j < n; j++) {
                    if (lab[j] == lab[i]) continue;
                    double x = 1 - G[(size_t)a * n + j];
                    size_t lo, hi;
                    if (x < smin) {
                        cl += (double)ns;
                        continue;
                    }
                    if (x > smax) continue;
                    long bk = (long)((x - smin) * scale);
                    if (bk >= nbk) bk = nbk - 1;
                    lo = bstart[bk], hi = bstart[bk + 1]; /* lower bound: first S >= x */
                    size_t top = hi;
                    while (lo < hi) {
                        size_t mid = (lo + hi) / 2;
                        if (S[mid] < x)
                            lo = mid + 1;
                        else
                            hi = mid;
                    }
                    size_t lb = lo;
                    hi = top;
                    while (lo < hi) { /* upper bound: first S > x */
                        size_t mid = (lo + hi) / 2;
                        if (S[mid] <= x)
                            lo = mid + 1;
                        else
                            hi = mid;
                    }
                    cl += (double)(ns - lo); /* same-class values above x */
                    ce += (double)(lo - lb);
                }
            }
            cross_less += cl;
            cross_eq += ce;
        }
        if (pass == 0) {
            qsort(S, ns, sizeof *S, cmp_double);
            /* Bucket index over [smin, smax]: bucket(v) is monotone in v, so the bounds of x lie
             * within bucket(x)'s slice of S and each search spans a few values. */
            smin = S[0], smax = S[ns - 1];
            nbk = (long)(ns < PARC_BUCKETS ? ns : PARC_BUCKETS);
            scale = smax > smin ? nbk / (smax - smin) : 0;
            bstart = calloc((size_t)nbk + 1, sizeof *bstart);
            if (!bstart) {
                rc = XFER_OOM(err);
                goto done;
            }
            for (size_t q = 0; q < ns; q++) {
                long bk = (long)((S[q] - smin) * scale);
                bstart[(bk >= nbk ? nbk - 1 : bk) + 1]++;
            }
            for (long bk = 0; bk < nbk; bk++)
                bstart[bk + 1] += bstart[bk];
        }
    }
    double rs = nsame * (nsame + 1) / 2 + cross_less + 0.5 * cross_eq;
    double q = nsame / M;
    double sd_r = sqrt((M * M - 1) / 12);
    out->value = -100 * q * (rs / nsame - (M + 1) / 2) / (sd_r * sqrt(q * (1 - q)));
done:
    free(cnt);
    free(Z);
    free(S);
    free(G);
    free(bstart);
    return rc;
}
