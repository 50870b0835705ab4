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
 * sums of x (T has one row per class), so no N x E product is needed. */
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

int xfer_metric_emms(const xfer_metric_input *in, const xfer_metric_params *p,
                     xfer_metric_result *out, xfer_err *err) {
    (void)p;
    const int n = in->n, d = in->d, ct = in->ct, e = in->e;
    if (n < 2) return xfer_fail(err, XFER_EINPUT, "emms: needs two samples, %d given", n);
    const int g = n < d ? n : d; /* the smaller Gram matrix */
    double *X = xfer_features_f64(in);
    double *sd = malloc((size_t)d * sizeof *sd);
    double *Et = malloc((size_t)ct * e * sizeof *Et), *S = calloc((size_t)ct * d, sizeof *S);
    double *G = malloc((size_t)g * g * sizeof *G), *w = malloc((size_t)g * sizeof *w);
    double *B = malloc((size_t)g * e * sizeof *B), *VB = malloc((size_t)g * e * sizeof *VB);
    int *cnt = malloc((size_t)ct * sizeof *cnt), rc = XFER_OK;
    if (!X || !sd || !Et || !S || !G || !w || !B || !VB || !cnt) {
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
    standardise(X, n, d, sd);
    if (n >= d) {
        /* G = x^T x [d,d]; B = x^T T = S^T Et with S the class sums of x */
        xfer_gram(X, n, d, 1.0, G);
        xfer_class_sums(X, in->labels, n, d, ct, S);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, e, ct, 1.0, S, d, Et, e, 0.0, B, e);
    } else {
        /* G = x x^T [n,n]: P_x T = U U^T T with U its eigenvectors of non-zero eigenvalue, so
         * B = T (the rows of Et by label) */
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, n, d, 1.0, X, d, 0.0, G, n);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < i; j++)
                G[(size_t)i * n + j] = G[(size_t)j * n + i];
        for (int i = 0; i < n; i++)
            memcpy(B + (size_t)i * e, Et + (size_t)in->labels[i] * e, (size_t)e * sizeof *B);
    }
    if ((rc = xfer_la_eigh(g, G, w, err))) goto done;
    /* VB = V^T B: row j = eigenvector j . B */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g, e, g, 1.0, G, g, B, e, 0.0, VB, e);
    const double cut = w[g - 1] * g * DBL_EPSILON;
    double proj = 0;
    for (int j = 0; j < g; j++) {
        if (!(w[j] > cut)) continue;
        double q = cblas_ddot(e, VB + (size_t)j * e, 1, VB + (size_t)j * e, 1);
        proj += n >= d ? q / w[j] : q; /* |V^T x^T T|^2 / lambda, or |U^T T|^2 */
    }
    double res = tt - proj;
    if (res < 0) res = 0; /* rounding when T lies in the span of x */
    out->value = -(res / n) * e;
done:
    free(X);
    free(sd);
    free(Et);
    free(S);
    free(G);
    free(w);
    free(B);
    free(VB);
    free(cnt);
    return rc;
}
