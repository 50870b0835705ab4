/* tmi (Xu & Kang, ICCV 2023, "Fast and accurate transferability measurement by evaluating
 * intra-class feature variance"), as snudatalab/TMI computes it (src/trf_measurement.py, TMI and
 * get_h): for each class c = 0..max(label) with n_c samples, the Kozachenko-Leonenko entropy
 * estimate of its features
 *   h_c = -psi(k) + psi(n_c) + log c_D + (D / n_c) sum_i log(2 r_i),
 * r_i = the distance from sample i to its k-th nearest other sample of the class (`norm` max:
 * Chebyshev, log c_D = 0; euclidean: log c_D = D/2 log pi - log Gamma(D/2 + 1)), raised to
 * `min_dist` (1.0) where smaller; a class with 0 or 1 samples has h_c = 0, a class with at most k
 * samples (no k-th neighbour: infinite in the published code) is left out. TMI = the mean over
 * the classes kept of (n_c / N) h_c. The class entropies of the features: higher (more
 * intra-class variance) is better. Brute-force neighbour search in float64. */
#include <math.h>
#include <stdlib.h>

#include "scores_internal.h"

#define TMI_K_DEFAULT 3          /* TMI()'s default */
#define TMI_MIN_DIST_DEFAULT 1.0 /* TMI()'s default */
#define TMI_EULER 0.57721566490153286061

static double digamma_int(int n) { /* psi(n) for n >= 1 */
    double s = -TMI_EULER;
    for (int j = 1; j < n; j++)
        s += 1.0 / j;
    return s;
}

/* The k-th smallest of the n - 1 distances from row i to the other rows of Z [n,d]. */
static double kth_distance(const double *Z, int n, int d, int i, int k, int euclid, double *buf) {
    const double *a = Z + (size_t)i * d;
    int m = 0;
    for (int j = 0; j < n; j++) {
        if (j == i) continue;
        const double *b = Z + (size_t)j * d;
        double r = 0;
        if (euclid) {
            for (int q = 0; q < d; q++)
                r += (a[q] - b[q]) * (a[q] - b[q]);
            r = sqrt(r);
        } else { /* in chunks, stopping once it cannot be among the k smallest */
            double bound = m == k ? buf[k - 1] : INFINITY;
            for (int q0 = 0; q0 < d && r < bound; q0 += 32) {
                int q1 = q0 + 32 < d ? q0 + 32 : d;
                for (int q = q0; q < q1; q++) {
                    double t = a[q] > b[q] ? a[q] - b[q] : b[q] - a[q];
                    r = t > r ? t : r;
                }
            }
        }
        /* keep the k smallest, ascending */
        if (m == k && !(r < buf[k - 1])) continue;
        int p = m < k ? m++ : k - 1;
        while (p > 0 && buf[p - 1] > r) {
            buf[p] = buf[p - 1];
            p--;
        }
        buf[p] = r;
    }
    return buf[k - 1];
}

int xfer_metric_tmi(const xfer_metric_input *in, const xfer_metric_params *p,
                    xfer_metric_result *out, xfer_err *err) {
    long k;
    int euclid;
    double min_dist;
    if (xfer_metric_param_int(p, "tmi", "k", TMI_K_DEFAULT, 1, 100000, &k, err) ||
        xfer_metric_param_choice(p, "tmi", "norm", "max|euclidean", 0, &euclid, err) ||
        xfer_metric_param_double(p, "tmi", "min_dist", TMI_MIN_DIST_DEFAULT, 1e-300, 1e300,
                                 &min_dist, err))
        return err->code;
    const int n = in->n, d = in->d;
    int ymax = 0;
    for (int i = 0; i < n; i++)
        ymax = in->labels[i] > ymax ? in->labels[i] : ymax;
    const int nc = ymax + 1;
    double *X = xfer_features_f64(in), *Z = malloc((size_t)n * d * sizeof *Z);
    double *h = calloc((size_t)nc, sizeof *h);
    int *cnt = calloc((size_t)nc, sizeof *cnt), *start = calloc((size_t)nc + 1, sizeof *start);
    int rc = XFER_OK;
    if (!X || !Z || !h || !cnt || !start) {
        rc = XFER_OOM(err);
        goto done;
    }
    /* rows grouped by class (the published code centres the features first: distances do not
     * change) */
    for (int i = 0; i < n; i++)
        cnt[in->labels[i]]++;
    for (int c = 0; c < nc; c++)
        start[c + 1] = start[c] + cnt[c];
    {
        int *pos = calloc((size_t)nc, sizeof *pos);
        if (!pos) {
            rc = XFER_OOM(err);
            goto done;
        }
        for (int i = 0; i < n; i++) {
            int c = in->labels[i];
            double *z = Z + (size_t)(start[c] + pos[c]++) * d;
            for (int q = 0; q < d; q++)
                z[q] = X[(size_t)i * d + q];
        }
        free(pos);
    }
    const double log_cd =
        euclid ? d / 2.0 * log(3.14159265358979323846) - lgamma(d / 2.0 + 1) : 0.0;
    int oom = 0;
#pragma omp parallel reduction(| : oom)
    {
        double *buf = malloc((size_t)k * sizeof *buf);
        if (!buf) oom = 1;
#pragma omp for schedule(dynamic)
        for (int c = 0; c < nc; c++) {
            if (oom || cnt[c] <= 1) continue; /* h = 0 */
            if (cnt[c] <= k) {
                h[c] = INFINITY; /* no k-th neighbour: left out */
                continue;
            }
            const double *zc = Z + (size_t)start[c] * d;
            double s = 0;
            for (int i = 0; i < cnt[c]; i++) {
                double r = kth_distance(zc, cnt[c], d, i, (int)k, euclid, buf);
                s += log(2 * (r < min_dist ? min_dist : r));
            }
            h[c] = -digamma_int((int)k) + digamma_int(cnt[c]) + log_cd + (double)d / cnt[c] * s;
        }
        free(buf);
    }
    if (oom) {
        rc = XFER_OOM(err);
        goto done;
    }
    double sum = 0;
    int kept = 0;
    for (int c = 0; c < nc; c++)
        if (isfinite(h[c])) {
            sum += h[c] * cnt[c] / n;
            kept++;
        }
    if (!kept) {
        rc = xfer_fail(err, XFER_EINPUT,
                       "tmi: no class has more than k = %ld samples (each needs a k-th neighbour)",
                       k);
        goto done;
    }
    out->value = sum / kept;
done:
    free(X);
    free(Z);
    free(h);
    free(cnt);
    free(start);
    return rc;
}
