/* Statistics of the features taken in fixed blocks of XFER_FEATURE_ROWS rows, each block converted
 * to float64 (and centred, and scaled) as it is used: no float64 copy of the whole N x D matrix.
 * The blocks (and the chunks of whole blocks that the covariance adds up) depend on N and D only,
 * and their partial sums are added in block (chunk) order: the same bits whatever the thread
 * count. */
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "scores_internal.h"

void xfer_feature_rows(const xfer_metric_input *in, const double *mu, const double *sd, int i0,
                       int ni, double *out) {
    const int d = in->d;
    for (int i = 0; i < ni; i++) {
        double *o = out + (size_t)i * d;
        if (in->features) {
            const double *x = in->features + (size_t)(i0 + i) * d;
            for (int j = 0; j < d; j++)
                o[j] = x[j] - mu[j];
        } else {
            const float *x = in->features_f32 + (size_t)(i0 + i) * d;
            for (int j = 0; j < d; j++)
                o[j] = (double)x[j] - mu[j];
        }
        if (sd)
            for (int j = 0; j < d; j++)
                o[j] /= sd[j];
    }
}

static int block_count(int n) {
    return (n + XFER_FEATURE_ROWS - 1) / XFER_FEATURE_ROWS;
}

/* Each block's column sums of (x - shift)^p (p = 1, or 2 when shift is not NULL) into part
 * [nb, d], then out [d] = their sum in block order. */
static int block_sums(const xfer_metric_input *in, const double *shift, double *out,
                      xfer_err *err) {
    const int n = in->n, d = in->d, nb = block_count(n);
    double *part = calloc((size_t)nb * d, sizeof *part);
    if (!part) return XFER_OOM(err);
#pragma omp parallel for schedule(dynamic)
    for (int q = 0; q < nb; q++) {
        const int i1 = (q + 1) * XFER_FEATURE_ROWS < n ? (q + 1) * XFER_FEATURE_ROWS : n;
        double *s = part + (size_t)q * d;
        for (int i = q * XFER_FEATURE_ROWS; i < i1; i++) {
            const size_t r = (size_t)i * d;
            if (!shift && in->features)
                for (int j = 0; j < d; j++)
                    s[j] += in->features[r + j];
            else if (!shift)
                for (int j = 0; j < d; j++)
                    s[j] += in->features_f32[r + j];
            else if (in->features)
                for (int j = 0; j < d; j++)
                    s[j] += (in->features[r + j] - shift[j]) * (in->features[r + j] - shift[j]);
            else
                for (int j = 0; j < d; j++)
                    s[j] += ((double)in->features_f32[r + j] - shift[j]) *
                            ((double)in->features_f32[r + j] - shift[j]);
        }
    }
    memset(out, 0, (size_t)d * sizeof *out);
    for (int q = 0; q < nb; q++)
        for (int j = 0; j < d; j++)
            out[j] += part[(size_t)q * d + j];
    free(part);
    return XFER_OK;
}

int xfer_feature_moments(const xfer_metric_input *in, double *mu, double *sqdev, xfer_err *err) {
    int rc = block_sums(in, NULL, mu, err);
    if (rc) return rc;
    for (int j = 0; j < in->d; j++)
        mu[j] /= in->n;
    return sqdev ? block_sums(in, mu, sqdev, err) : XFER_OK;
}

int xfer_feature_gram(const xfer_metric_input *in, const double *mu, const double *sd, double scale,
                      double *G, double *sums, xfer_err *err) {
    const int n = in->n, d = in->d, ct = in->ct, nb = block_count(n);
    int nc = n / XFER_GRAM_CHUNK_ROWS;
    if (nc > XFER_GRAM_MAX_CHUNKS) nc = XFER_GRAM_MAX_CHUNKS;
    if (nc > nb) nc = nb;
    if (nc < 1 || (size_t)d * d < XFER_GRAM_MIN_ENTRIES) nc = 1;
    const size_t dd = (size_t)d * d, cd = sums ? (size_t)ct * d : 0;
    /* chunk c's covariance: G (c = 0) or part; its class sums: sums (c = 0) or spart */
    double *part = nc > 1 ? malloc((size_t)(nc - 1) * dd * sizeof *part) : NULL;
    double *spart = nc > 1 && sums ? calloc((size_t)(nc - 1) * cd, sizeof *spart) : NULL;
    if ((nc > 1 && !part) || (nc > 1 && sums && !spart)) {
        free(part);
        free(spart);
        return XFER_OOM(err);
    }
    if (sums) memset(sums, 0, cd * sizeof *sums);
    int failed = 0;
#pragma omp parallel reduction(| : failed)
    {
        double *X = malloc((size_t)XFER_FEATURE_ROWS * d * sizeof *X);
        failed |= !X;
#pragma omp for schedule(dynamic)
        for (int c = 0; c < nc; c++) {
            const int q0 = (int)((long)nb * c / nc), q1 = (int)((long)nb * (c + 1) / nc);
            double *C = c ? part + (size_t)(c - 1) * dd : G;
            double *S = c ? spart + (size_t)(c - 1) * cd : sums;
            for (int q = q0; q < q1 && X; q++) {
                const int i0 = q * XFER_FEATURE_ROWS;
                const int ni = n - i0 < XFER_FEATURE_ROWS ? n - i0 : XFER_FEATURE_ROWS;
                xfer_feature_rows(in, mu, sd, i0, ni, X);
                /* the chunk's first block sets C (beta 0: no read of untouched pages) */
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, ni, scale, X, d,
                            q > q0 ? 1.0 : 0.0, C, d);
                for (int i = 0; S && i < ni; i++) {
                    double *s = S + (size_t)in->labels[i0 + i] * d;
                    const double *x = X + (size_t)i * d;
                    for (int j = 0; j < d; j++)
                        s[j] += x[j];
                }
            }
        }
        free(X);
    }
    if (!failed) {
#pragma omp parallel for schedule(dynamic, 16)
        for (int i = 0; i < d; i++)
            for (int c = 1; c < nc; c++) {
                const double *p = part + (size_t)(c - 1) * dd + (size_t)i * d;
                for (int j = i; j < d; j++)
                    G[(size_t)i * d + j] += p[j];
            }
        for (int c = 1; c < nc && sums; c++)
            for (size_t q = 0; q < cd; q++)
                sums[q] += spart[(size_t)(c - 1) * cd + q];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < i; j++)
                G[(size_t)i * d + j] = G[(size_t)j * d + i];
    }
    free(part);
    free(spart);
    return failed ? XFER_OOM(err) : XFER_OK;
}
