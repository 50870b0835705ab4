/* A bootstrap interval for each metric's Kendall tau, over the sources and their fine-tune seeds
 * (docs/results.md, "Bootstrap intervals"): resample the sources with replacement, and within
 * each drawn source its fine-tunes with replacement; the resample's y is the mean of the drawn
 * fine-tunes' best accuracies, its x the source's oriented score (scores do not depend on the
 * fine-tune seed); tau-b of every resample; the interval is the 5th and 95th percentiles (linear
 * interpolation, numpy's default) of the defined taus. The random stream is fixed, so the
 * interval is a function of the results alone. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "results_internal.h"
#include "xfer/backend.h"
#include "xfer/rankcorr.h"

/* One uniform index in [0, n) from the stream (Lemire's multiply-shift on a SplitMix64 draw). */
static size_t draw(uint64_t *state, size_t n) {
    uint64_t z = xfer_splitmix64(*state);
    *state += 0x9E3779B97F4A7C15ull;
    return (size_t)(((unsigned __int128)z * (unsigned __int128)n) >> 64);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double quantile(const double *v, size_t n, double q) {
    double h = (double)(n - 1) * q;
    size_t i = (size_t)floor(h);
    if (i + 1 >= n) return v[n - 1];
    return v[i] + (h - (double)i) * (v[i + 1] - v[i]);
}

int res_boot_kendall(const double *x, const double *const *acc, const size_t *n_acc, size_t n,
                     double *lo, double *hi, int64_t *used) {
    *lo = *hi = NAN;
    *used = 0;
    if (n < 2) return 0;
    double *xb = malloc(n * sizeof *xb), *yb = malloc(n * sizeof *yb);
    double *taus = malloc(RES_BOOT_RESAMPLES * sizeof *taus);
    if (!xb || !yb || !taus) {
        free(xb);
        free(yb);
        free(taus);
        return -1;
    }
    uint64_t state = RES_BOOT_SEED;
    size_t k = 0;
    for (int b = 0; b < RES_BOOT_RESAMPLES; b++) {
        for (size_t j = 0; j < n; j++) {
            size_t i = draw(&state, n);
            double s = 0;
            for (size_t t = 0; t < n_acc[i]; t++)
                s += acc[i][draw(&state, n_acc[i])];
            xb[j] = x[i];
            yb[j] = s / (double)n_acc[i];
        }
        double tau = xfer_kendall_tau_b(xb, yb, n);
        if (isfinite(tau)) taus[k++] = tau;
    }
    if (k) {
        qsort(taus, k, sizeof *taus, cmp_double);
        *lo = quantile(taus, k, 0.5 - RES_BOOT_LEVEL / 2);
        *hi = quantile(taus, k, 0.5 + RES_BOOT_LEVEL / 2);
    }
    *used = (int64_t)k;
    free(xb);
    free(yb);
    free(taus);
    return 0;
}
