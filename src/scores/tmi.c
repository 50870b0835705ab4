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
 * intra-class variance) is better. Brute-force neighbour search in float64, vectorised over the
 * rows of a class. */
#include <math.h>
#include <stdlib.h>

#include "scores_internal.h"

#define TMI_K_DEFAULT 3          /* TMI()'s default */
#define TMI_MIN_DIST_DEFAULT 1.0 /* TMI()'s default */
#define TMI_EULER 0.57721566490153286061
#define TMI_JB 16 /* rows whose distances one pass over the features accumulates */

static double digamma_int(int n) { /* psi(n) for n >= 1 */
    double s = -TMI_EULER;
    for (int j = 1; j < n; j++)
        s += 1.0 / j;
    return s;
}

/* The distances from row a (row i of a class's features) to the class's rows j0..n-1, into
 * dist[j0..n-1], given the class transposed (ZT [d, n]: feature q of row j at ZT[q * n + j]): the
 * distances of TMI_JB rows at a time accumulate in registers over the features (vectorised over
 * the rows; each distance still accumulates its features in order 0..d-1, as a pairwise loop
 * would, and |a - b| = |b - a| bit for bit). Squared for euclidean. */
static void distances_from(const double *ZT, const double *a, int n, int d, int j0, int euclid,
                           double *dist) {
    for (; j0 + TMI_JB <= n; j0 += TMI_JB) {
        double acc[TMI_JB] = {0};
        for (int q = 0; q < d; q++) {
            const double aq = a[q], *col = ZT + (size_t)q * n + j0;
            if (euclid) {
#pragma omp simd
                for (int jj = 0; jj < TMI_JB; jj++)
                    acc[jj] += (aq - col[jj]) * (aq - col[jj]);
            } else {
#pragma omp simd
                for (int jj = 0; jj < TMI_JB; jj++) {
                    double t = fabs(aq - col[jj]);
                    acc[jj] = t > acc[jj] ? t : acc[jj];
                }
            }
        }
        for (int jj = 0; jj < TMI_JB; jj++)
            dist[j0 + jj] = acc[jj];
    }
    for (int j = j0; j < n; j++) { /* the last rows, fewer than TMI_JB */
        double r = 0;
        for (int q = 0; q < d; q++) {
            double t = a[q] - ZT[(size_t)q * n + j];
            if (euclid)
                r += t * t;
            else
                r = fabs(t) > r ? fabs(t) : r;
        }
        dist[j] = r;
    }
}

/* Offers distance r to a row's k smallest (ascending in b, *m filled). */
static void keep_smallest(double *b, int *m, int k, double r) {
    if (*m == k && !(r < b[k - 1])) return;
    int p = *m < k ? (*m)++ : k - 1;
    while (p > 0 && b[p - 1] > r) {
        b[p] = b[p - 1];
        p--;
    }
    b[p] = r;
}

/* The k-th smallest distance of every row of a class [n, d] to its other rows, into kth[n]: each
 * pair's distance computed once (row i against rows i+1..) and offered to both rows. ZT: the class
 * transposed; dist: [n]; near: [n * k]; fill: [n]. */
static void class_kth(const double *ZT, const double *Z, int n, int d, int k, int euclid,
                      double *dist, double *near, int *fill, double *kth) {
    for (int i = 0; i < n; i++)
        fill[i] = 0;
    for (int i = 0; i < n; i++) {
        distances_from(ZT, Z + (size_t)i * d, n, d, i + 1, euclid, dist);
        for (int j = i + 1; j < n; j++) {
            double r = euclid ? sqrt(dist[j]) : dist[j];
            keep_smallest(near + (size_t)i * k, fill + i, k, r);
            keep_smallest(near + (size_t)j * k, fill + j, k, r);
        }
        kth[i] = near[(size_t)i * k + k - 1]; /* row i has met all its candidates */
    }
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
    double *h = calloc((size_t)nc, sizeof *h);
    int *cnt = calloc((size_t)nc, sizeof *cnt), *start = calloc((size_t)nc + 1, sizeof *start);
    int *order = malloc((size_t)n * sizeof *order), rc = XFER_OK;
    if (!h || !cnt || !start || !order) {
        rc = XFER_OOM(err);
        goto done;
    }
    /* row indices grouped by class (the published code centres the features first: distances do
     * not change) */
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
            order[start[c] + pos[c]++] = i;
        }
        free(pos);
    }
    const double log_cd =
        euclid ? d / 2.0 * log(3.14159265358979323846) - lgamma(d / 2.0 + 1) : 0.0;
    int oom = 0, most = 0;
    for (int c = 0; c < nc; c++)
        most = cnt[c] > most ? cnt[c] : most;
#pragma omp parallel reduction(| : oom)
    {
        double *dist = malloc((size_t)most * sizeof *dist),
               *kth = malloc((size_t)most * sizeof *kth);
        double *near = malloc((size_t)most * k * sizeof *near);
        double *ZT = malloc((size_t)most * d * sizeof *ZT),
               *Z = malloc((size_t)most * d * sizeof *Z);
        int *fill = malloc((size_t)most * sizeof *fill);
        if (!dist || !kth || !near || !ZT || !Z || !fill) oom = 1;
#pragma omp for schedule(dynamic)
        for (int c = 0; c < nc; c++) {
            if (oom || cnt[c] <= 1) continue; /* h = 0 */
            if (cnt[c] <= k) {
                h[c] = INFINITY; /* no k-th neighbour: left out */
                continue;
            }
            const int m = cnt[c], *rows = order + start[c];
            for (int j = 0; j < m; j++) { /* the class's rows in float64, and transposed */
                const size_t at = (size_t)rows[j] * d;
                for (int q = 0; q < d; q++)
                    Z[(size_t)j * d + q] =
                        in->features ? in->features[at + q] : (double)in->features_f32[at + q];
            }
            for (int j = 0; j < m; j++)
                for (int q = 0; q < d; q++)
                    ZT[(size_t)q * m + j] = Z[(size_t)j * d + q];
            class_kth(ZT, Z, m, d, (int)k, euclid, dist, near, fill, kth);
            double s = 0;
            for (int i = 0; i < m; i++) {
                double r = kth[i];
                s += log(2 * (r < min_dist ? min_dist : r));
            }
            h[c] = -digamma_int((int)k) + digamma_int(cnt[c]) + log_cd + (double)d / cnt[c] * s;
        }
        free(dist);
        free(kth);
        free(near);
        free(ZT);
        free(Z);
        free(fill);
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
    free(order);
    free(h);
    free(cnt);
    free(start);
    return rc;
}
