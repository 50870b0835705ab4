/* gbc (Pandy et al. 2022, "Transferability estimation using Bhattacharyya class separability"):
 * the features are projected on their top `pca_dim` principal components (default 64, as
 * published; at most D); each target class c gets a Gaussian N(mu_c, diag(var_c)) with var_c the
 * per-dimension population variance (ddof 0) floored at GBC_VAR_FLOOR, or with `covariance =
 * spherical` the mean of the per-dimension variances (then floored) on every dimension. With
 * var = (var_i + var_j)/2 the Bhattacharyya distance is
 *   DB(i,j) = 1/8 sum_k (mu_ik - mu_jk)^2 / var_k + 1/2 (sum_k log var_k
 *             - 1/2 sum_k log var_ik - 1/2 sum_k log var_jk),
 * and GBC = -sum_{i != j} exp(-DB(i,j)) over the classes present. Higher (closer to 0) is better.
 * `covariance = spherical_google` is Google's stable_transfer default (transferability/gbc.py):
 * each dimension's variance floored first, then averaged into one scalar s_c per class, and the
 * log-det term counted once: DB = 1/8 sum_k dmu_k^2 / s + 1/2 (log s - 1/2 log s_i - 1/2 log s_j)
 * (the Bhattacharyya distance of N(mu, s I_k) has k times that term, as `spherical` computes).
 * Each class needs at least two samples. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scores_internal.h"

#define GBC_PCA_DIM_DEFAULT 64 /* the published setting */
#define GBC_VAR_FLOOR 1e-4     /* keeps constant dimensions finite, as the public code does */

int xfer_metric_gbc(const xfer_metric_input *in, const xfer_metric_params *p,
                    xfer_metric_result *out, xfer_err *err) {
    int spherical; /* 0 diagonal, 1 spherical, 2 spherical_google */
    long pca_dim;
    if (xfer_metric_param_choice(p, "gbc", "covariance", "diagonal|spherical|spherical_google", 0,
                                 &spherical, err) ||
        xfer_metric_param_int(p, "gbc", "pca_dim", GBC_PCA_DIM_DEFAULT, 1, 1 << 20, &pca_dim, err))
        return err->code;
    const int n = in->n, d = in->d, ct = in->ct;
    int *cnt = malloc((size_t)ct * sizeof *cnt);
    if (!cnt) return XFER_OOM(err);
    xfer_class_counts(in->labels, n, ct, cnt);
    if (xfer_require_class_size(cnt, ct, 2, "gbc", err)) {
        free(cnt);
        return err->code;
    }
    double *Y = NULL;
    int k = 0;
    int rc = xfer_features_pca(in, (int)(pca_dim < d ? pca_dim : d), 0, &Y, &k, err);
    double *mu = calloc((size_t)ct * k, sizeof *mu), *var = calloc((size_t)ct * k, sizeof *var);
    double *logv = calloc((size_t)ct, sizeof *logv);
    if (rc == XFER_OK && (!mu || !var || !logv)) rc = XFER_OOM(err);
    if (rc) goto done;
    xfer_class_sums(Y, in->labels, n, k, ct, mu);
    for (int c = 0; c < ct; c++)
        for (int j = 0; j < k; j++)
            mu[(size_t)c * k + j] /= cnt[c] > 0 ? cnt[c] : 1;
    for (int i = 0; i < n; i++) {
        const double *y = Y + (size_t)i * k, *m = mu + (size_t)in->labels[i] * k;
        double *v = var + (size_t)in->labels[i] * k;
        for (int j = 0; j < k; j++)
            v[j] += (y[j] - m[j]) * (y[j] - m[j]);
    }
    for (int c = 0; c < ct; c++) {
        double *v = var + (size_t)c * k, mean = 0;
        if (cnt[c] == 0) continue;
        for (int j = 0; j < k; j++) {
            v[j] /= cnt[c];
            if (spherical == 2 && v[j] < GBC_VAR_FLOOR) v[j] = GBC_VAR_FLOOR; /* floor first */
            mean += v[j];
        }
        mean /= k;
        if (spherical == 2) { /* one scalar variance, its log counted once */
            for (int j = 0; j < k; j++)
                v[j] = mean;
            logv[c] = log(mean);
            continue;
        }
        for (int j = 0; j < k; j++) {
            if (spherical) v[j] = mean;
            if (v[j] < GBC_VAR_FLOOR) v[j] = GBC_VAR_FLOOR;
            logv[c] += log(v[j]);
        }
    }
    /* one term per class pair (a < b), added in (a, b) order: a reduction over a dynamic schedule
     * summed in a different order from run to run (gbc's last digit varied between runs) */
    double *pair = calloc((size_t)ct * ct, sizeof *pair);
    if (!pair) {
        rc = XFER_OOM(err);
        goto done;
    }
#pragma omp parallel for schedule(dynamic)
    for (int a = 0; a < ct; a++) {
        if (cnt[a] == 0) continue;
        for (int b = a + 1; b < ct; b++) {
            if (cnt[b] == 0) continue;
            const double *ma = mu + (size_t)a * k, *mb = mu + (size_t)b * k;
            const double *va = var + (size_t)a * k, *vb = var + (size_t)b * k;
            double maha = 0, logavg = 0;
            for (int j = 0; j < k; j++) {
                double v = 0.5 * (va[j] + vb[j]), dm = ma[j] - mb[j];
                maha += dm * dm / v;
                logavg += log(v);
            }
            if (spherical == 2) logavg = log(0.5 * (va[0] + vb[0]));
            double db = maha / 8 + 0.5 * (logavg - 0.5 * (logv[a] + logv[b]));
            pair[(size_t)a * ct + b] = 2 * exp(-db);
        }
    }
    out->value = -xfer_sum_ordered(pair, (size_t)ct * ct);
    free(pair);
done:
    free(Y);
    free(mu);
    free(var);
    free(logv);
    free(cnt);
    return rc;
}
