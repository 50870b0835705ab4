/* emms (Meng, Li, Li, Zhu, Chen, Luo, Mao, Ouyang, Yang, Wang, ICCV/NeurIPS 2023, "Foundation
 * model is efficient multimodal multitask model selector"), as OpenGVLab/Multitask-Model-Selector
 * computes it (metrics.py EMMS), with one label embedding: each target image's label becomes its
 * class's word vector (the configured word vectors, the class-name vectors of the EMD score)
 * instead of the published CLIP/BERT/GPT-2 embeddings.
 *   x = the features standardised per column, (f - mean) / (std + 1e-8) (population std);
 *   T = the label embeddings standardised the same way (over the N images);
 *   w = the least-squares solution of x w = T (the published lstsq); with a single embedding the
 *       published weight step (lstsq over the embeddings, then sparsemax) gives the weight 1, so
 *       the target stays T;
 *   EMMS = -(|x w - T|^2 / N) * E (the published expression `sum / N * D2`).
 * Higher (a smaller residual) is better. The residual is |T|^2 - |P_x T|^2, P_x the projection on
 * the column space of x, computed in the eigenbasis of x^T x (or of x x^T when N < D): eigenvalues
 * above D * eps * the largest (numpy's matrix_rank rule) span it. x^T T is formed from the class
 * sums of x (T has one row per class), so no N x E product is needed; with N >= D, x is never
 * held whole (its moments, x^T x and the class sums come from blocks of rows, feature_blocks.c). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "scores_internal.h"

#define EMMS_STD_EPS 1e-8 /* the published smoothing of the standardisation */

/* Column-wise (X - mean) / (std + 1e-8) of X [n,d] in place, std with 1/n; sd [d] is scratch. */
static void standardise(double *X, int n, int d, double *sd) {
    xfer_center_columns(X, n, d, NULL);
    memset(sd, 0, (size_t)d * sizeof *sd);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < d; k++)
            sd[k] += X[(size_t)i * d + k] * X[(size_t)i * d + k];
    for (int k = 0; k < d; k++)
        sd[k] = sqrt(sd[k] / n) + EMMS_STD_EPS;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < d; k++)
            X[(size_t)i * d + k] /= sd[k];
}

/* |P_x T|^2 = trace(B^T G^-1 B) (B = x^T T [g,e], G = x^T x [g,g]) by Cholesky when G is so well
 * conditioned that every eigenvalue lies far above the rank cut of the eigenbasis route (LAPACK's
 * estimate of 1/cond_1(G) at least EMMS_CHOL_RCOND g eps; cond_2 <= g cond_1, and the estimate is
 * seldom off by more than a factor 10): then both compute the same quantity, the eigenbasis at 20
 * times the cost. 1 with *proj set; 0 (G and B untouched) when the eigenbasis is needed. X [g,e]
 * is scratch. */
#define EMMS_CHOL_RCOND 1e6
static int chol_projection(int g, int e, const double *G, const double *B, double *X,
                           double *proj) {
    double anorm = 0, *L = malloc((size_t)g * g * sizeof *L);
    xfer_err e2;
    if (!L) return 0;
    for (int j = 0; j < g; j++) { /* |G|_1: the largest column sum (rows, G symmetric) */
        double t = 0;
        for (int i = 0; i < g; i++)
            t += fabs(G[(size_t)j * g + i]);
        anorm = t > anorm ? t : anorm;
    }
    memcpy(L, G, (size_t)g * g * sizeof *L);
    memcpy(X, B, (size_t)g * e * sizeof *X);
    int ok = xfer_la_cholesky(g, L, "emms", &e2) == XFER_OK &&
             xfer_la_chol_rcond(g, L, anorm) >= EMMS_CHOL_RCOND * g * DBL_EPSILON &&
             xfer_la_chol_solve(g, L, e, X, &e2) == XFER_OK;
    free(L);
    if (!ok) return 0;
    double t = 0; /* trace(B^T X) */
    for (size_t q = 0; q < (size_t)g * e; q++)
        t += B[q] * X[q];
    *proj = t;
    return 1;
}

int xfer_metric_emms(const xfer_metric_input *in, const xfer_metric_params *p,
                     xfer_metric_result *out, xfer_err *err) {
    (void)p;
    const int n = in->n, d = in->d, ct = in->ct, e = in->e;
    if (n < 2) return xfer_fail(err, XFER_EINPUT, "emms: needs two samples, %d given", n);
    const int g = n < d ? n : d;                      /* the smaller Gram matrix */
    double *X = n < d ? xfer_features_f64(in) : NULL; /* n >= d: blocks of rows instead */
    double *sd = malloc((size_t)d * sizeof *sd), *mu = malloc((size_t)d * sizeof *mu);
    double *Et = malloc((size_t)ct * e * sizeof *Et), *S = calloc((size_t)ct * d, sizeof *S);
    double *G = malloc((size_t)g * g * sizeof *G), *w = malloc((size_t)g * sizeof *w);
    double *B = malloc((size_t)g * e * sizeof *B), *VB = malloc((size_t)g * e * sizeof *VB);
    int *cnt = malloc((size_t)ct * sizeof *cnt), rc = XFER_OK;
    if ((n < d && !X) || !sd || !mu || !Et || !S || !G || !w || !B || !VB || !cnt) {
        rc = XFER_OOM(err);
        goto done;
    }
    xfer_class_counts(in->labels, n, ct, cnt);
    /* T = E[labels] standardised over the N rows: mean and variance weighted by the counts */
    double tt = 0; /* |T|^2 */
    for (int k = 0; k < e; k++) {
        double m = 0, v = 0;
        for (int c = 0; c < ct; c++)
            m += (double)cnt[c] * in->label_embedding[(size_t)c * e + k];
        m /= n;
        for (int c = 0; c < ct; c++) {
            double t = in->label_embedding[(size_t)c * e + k] - m;
            v += (double)cnt[c] * t * t;
        }
        double s = sqrt(v / n) + EMMS_STD_EPS;
        for (int c = 0; c < ct; c++) {
            double t = (in->label_embedding[(size_t)c * e + k] - m) / s;
            Et[(size_t)c * e + k] = t;
            tt += cnt[c] * t * t;
        }
    }
    if (!(tt > 0)) {
        rc = xfer_fail(err, XFER_EINPUT,
                       "emms: every target image has the same label vector (one class present, "
                       "or equal word vectors)");
        goto done;
    }
    if (n >= d) {
        /* G = x^T x [d,d]; B = x^T T = S^T Et with S the class sums of x; x in blocks of rows */
        if ((rc = xfer_feature_moments(in, mu, sd, err))) goto done;
        for (int k = 0; k < d; k++)
            sd[k] = sqrt(sd[k] / n) + EMMS_STD_EPS;
        if ((rc = xfer_feature_gram(in, mu, sd, 1.0, G, S, err))) goto done;
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, e, ct, 1.0, S, d, Et, e, 0.0, B, e);
    } else {
        /* G = x x^T [n,n]: P_x T = U U^T T with U its eigenvectors of non-zero eigenvalue, so
         * B = T (the rows of Et by label) */
        standardise(X, n, d, sd);
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, n, d, 1.0, X, d, 0.0, G, n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < i; j++)
                G[(size_t)i * n + j] = G[(size_t)j * n + i];
        for (int i = 0; i < n; i++)
            memcpy(B + (size_t)i * e, Et + (size_t)in->labels[i] * e, (size_t)e * sizeof *B);
    }
    double proj = 0;
    if (n >= d && chol_projection(g, e, G, B, VB, &proj)) goto residual;
    if ((rc = xfer_la_eigh(g, G, w, err))) goto done;
    /* VB = V^T B: row j = eigenvector j . B */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g, e, g, 1.0, G, g, B, e, 0.0, VB, e);
    const double cut = w[g - 1] * g * DBL_EPSILON;
    for (int j = 0; j < g; j++) {
        if (!(w[j] > cut)) continue;
        double q = cblas_ddot(e, VB + (size_t)j * e, 1, VB + (size_t)j * e, 1);
        proj += n >= d ? q / w[j] : q; /* |V^T x^T T|^2 / lambda, or |U^T T|^2 */
    }
residual:;
    double res = tt - proj;
    if (res < 0) res = 0; /* rounding when T lies in the span of x */
    out->value = -(res / n) * e;
done:
    free(X);
    free(sd);
    free(mu);
    free(Et);
    free(S);
    free(G);
    free(w);
    free(B);
    free(VB);
    free(cnt);
    return rc;
}
