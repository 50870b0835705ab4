/* The metric registry's C API: float32 features give the same scores as their float64 copy, bit
 * for bit (every metric converts them exactly and computes in float64), every metric
 * is found with a direction, parameters and inputs are checked with named errors. Values are
 * checked against numpy in test_metrics.py; here only self-consistency and the error paths. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "xfer/metrics.h"

#define N 90
#define D 6
#define CS 5
#define CT 3

static double lcg(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (*s >> 8) / 16777216.0;
}

/* g64 = the float32 values g32 as float64, in a loop of its own, and the count of entries that
 * differ from (double)g32 read back afterwards (0 unless miscompiled). Filling both in one loop
 * (g32[j] = (float)x; g64[j] = g32[j]; or through a float local) is miscompiled by gcc 12.2 at -O3
 * (Debian 12.2.0-14): its basic-block SLP vectorizer converts a pair of lanes double -> float for
 * the float32 store and stores the double lanes themselves, unrounded, as the float64 copy (seen
 * in -fdump-tree-optimized: `MEM <vector(2) double> [...] = _92` beside
 * `MEM <vector(2) float> [...] = (vector(2) float) _92`); -O2, -fno-tree-slp-vectorize and clang
 * are correct, and sanitizers report nothing (the source has no undefined behaviour). The float32
 * and float64 inputs then differ by up to 2^-24 relative, which the values' comparison below
 * (exact) catches, and so does the count returned here. */
static int f64_from_f32(const float *g32, double *g64, size_t n) {
    for (size_t q = 0; q < n; q++)
        g64[q] = g32[q];
    int bad = 0;
    for (size_t q = 0; q < n; q++)
        bad += g64[q] != (double)g32[q];
    return bad;
}

int main(void) {
    static float f32[N * D];
    static double f64[N * D], probs[N * CS], dist[CS * CT], emb[CT * 4];
    static int labels[N];
    unsigned s = 1;
    for (int i = 0; i < N; i++) {
        labels[i] = i % CT;
        for (int k = 0; k < D; k++)
            f32[i * D + k] = (float)(lcg(&s) + (k == labels[i]));
        double z = 0;
        for (int c = 0; c < CS; c++)
            z += (probs[i * CS + c] = lcg(&s) + 0.01);
        for (int c = 0; c < CS; c++)
            probs[i * CS + c] /= z;
    }
    CHECK_MSG(f64_from_f32(f32, f64, N * D) == 0, "float64 copy of the float32 features differs");
    for (int q = 0; q < CS * CT; q++)
        dist[q] = lcg(&s);
    for (int q = 0; q < CT * 4; q++)
        emb[q] = lcg(&s);
    xfer_metric_input a = {N, D, f32, NULL, CS, probs, CT, labels, dist, 0, 4, emb, NULL};
    xfer_metric_input b = {N, D, NULL, f64, CS, probs, CT, labels, dist, 0, 4, emb, NULL};
    /* with the per-input cache: the metrics sharing the features' PCA (gbc first, then nleep,
     * parc, ncti from the cache) give the same values as without it, bit for bit */
    xfer_metric_input ac = a;
    ac.cache = xfer_metric_cache_new();
    CHECK(ac.cache != NULL);
    int nm = 0;
    const xfer_metric_def *t = xfer_metric_table(&nm);
    CHECK(nm == 18);
    xfer_err err;
    for (int i = 0; i < nm; i++) {
        CHECK(xfer_metric_find(t[i].name) == &t[i]);
        CHECK(t[i].direction == 1 || t[i].direction == -1);
        xfer_metric_result ra, rb;
        xfer_err_clear(&err);
        int rc1 = xfer_metric_compute(&t[i], &a, NULL, &ra, &err);
        CHECK_MSG(rc1 == XFER_OK, "%s: %s", t[i].name, err.msg);
        int rc2 = xfer_metric_compute(&t[i], &b, NULL, &rb, &err);
        CHECK_MSG(rc2 == XFER_OK, "%s: %s", t[i].name, err.msg);
        xfer_metric_result rcache;
        int rc3 = xfer_metric_compute(&t[i], &ac, NULL, &rcache, &err);
        CHECK_MSG(rc3 == XFER_OK, "%s with the cache: %s", t[i].name, err.msg);
        CHECK_MSG(memcmp(&ra.value, &rcache.value, sizeof ra.value) == 0 &&
                      ra.n_terms == rcache.n_terms &&
                      memcmp(ra.terms, rcache.terms, sizeof ra.terms[0] * (size_t)ra.n_terms) == 0,
                  "%s: %.17g with the cache, %.17g without", t[i].name, rcache.value, ra.value);
        if (t[i].pool) { /* pool-level: terms, value NaN until pooled */
            CHECK(isnan(ra.value) && ra.n_terms == t[i].n_terms && rb.n_terms == t[i].n_terms);
            for (int q = 0; q < ra.n_terms; q++)
                CHECK_MSG(ra.terms[q] == rb.terms[q], "%s term %d: float32 %.17g, float64 %.17g",
                          t[i].name, q, ra.terms[q], rb.terms[q]);
            double pooled[2], terms2[2 * XFER_METRIC_MAX_TERMS];
            for (int q = 0; q < t[i].n_terms; q++) {
                terms2[q] = ra.terms[q];
                terms2[t[i].n_terms + q] = ra.terms[q] + 1.0; /* a second, better source */
            }
            CHECK(xfer_metric_pool(&t[i], terms2, 2, pooled, &err) == XFER_OK);
            CHECK_CLOSE(pooled[0], 0.0, 0, 1e-15);
            CHECK_CLOSE(pooled[1], 1.0, 1e-15, 1e-15);
            terms2[0] = NAN;
            CHECK(xfer_metric_pool(&t[i], terms2, 2, pooled, &err) == XFER_EINPUT);
        } else {
            CHECK(t[i].n_terms == 0);
            CHECK_MSG(ra.value == rb.value, "%s: float32 %.17g, float64 %.17g", t[i].name, ra.value,
                      rb.value);
        }
        CHECK(ra.has_mean == (!strcmp(t[i].name, "softmax_max") || !strcmp(t[i].name, "emd")));
    }
    xfer_metric_cache_free(ac.cache);

    /* etran converts float32 features a block of 512 rows at a time: over several blocks (N not
     * a multiple) the terms equal those of the same values given as float64, bit for bit */
    {
        enum { NB = 1100, DB = 5 };
        float *g32 = malloc(sizeof(float) * NB * DB);
        double *g64 = malloc(sizeof(double) * NB * DB);
        int *gl = malloc(sizeof(int) * NB);
        CHECK(g32 && g64 && gl);
        for (int i = 0; g32 && g64 && gl && i < NB; i++) {
            gl[i] = i % CT;
            for (int k = 0; k < DB; k++)
                g32[i * DB + k] = (float)(lcg(&s) + 0.3 * gl[i] * (k == gl[i]));
        }
        if (g32 && g64)
            CHECK_MSG(f64_from_f32(g32, g64, NB * DB) == 0,
                      "float64 copy of the float32 features differs");
        xfer_metric_input e32 = {.n = NB, .d = DB, .features_f32 = g32, .ct = CT, .labels = gl};
        xfer_metric_input e64 = {.n = NB, .d = DB, .features = g64, .ct = CT, .labels = gl};
        xfer_metric_result r32, r64;
        const xfer_metric_def *et = xfer_metric_find("etran");
        CHECK(et && xfer_metric_compute(et, &e32, NULL, &r32, &err) == XFER_OK &&
              xfer_metric_compute(et, &e64, NULL, &r64, &err) == XFER_OK);
        CHECK_MSG(r32.terms[0] == r64.terms[0] && r32.terms[1] == r64.terms[1],
                  "etran float32 %.17g %.17g, float64 %.17g %.17g", r32.terms[0], r32.terms[1],
                  r64.terms[0], r64.terms[1]);
        free(g32);
        free(g64);
        free(gl);
    }
    CHECK(xfer_metric_find("emd")->direction == -1);
    CHECK(xfer_metric_find("nope") == NULL);

    /* Parameter errors. */
    const char *keys[] = {"covariance"}, *bad[] = {"full"};
    xfer_metric_params p = {1, keys, bad};
    xfer_metric_result r;
    CHECK(xfer_metric_compute(xfer_metric_find("gbc"), &b, &p, &r, &err) == XFER_EINPUT);
    CHECK(strstr(err.msg, "covariance = 'full'") != NULL);
    CHECK(xfer_metric_compute(xfer_metric_find("leep"), &b, &p, &r, &err) == XFER_EINPUT);
    CHECK(strstr(err.msg, "unknown parameter 'covariance'") != NULL);
    const char *k2[] = {"eps"}, *v2[] = {"abc"};
    xfer_metric_params p2 = {1, k2, v2};
    CHECK(xfer_metric_compute(xfer_metric_find("transrate"), &b, &p2, &r, &err) == XFER_EINPUT);

    /* Input errors. */
    labels[5] = CT;
    CHECK(xfer_metric_compute(xfer_metric_find("leep"), &b, NULL, &r, &err) == XFER_EINPUT);
    CHECK(strstr(err.msg, "labels[5] = 3 is out of range") != NULL);
    labels[5] = 5 % CT;
    f64[7] = NAN;
    CHECK(xfer_metric_compute(xfer_metric_find("hscore"), &b, NULL, &r, &err) == XFER_EINPUT);
    CHECK(strstr(err.msg, "features[1,1] is NaN") != NULL);
    f64[7] = 0;
    xfer_metric_input c = b;
    c.distance = NULL;
    CHECK(xfer_metric_compute(xfer_metric_find("emd"), &c, NULL, &r, &err) == XFER_EINPUT);

    /* Softmax rows. */
    double z[4] = {1000, 1001, -5, -5}, q[4];
    xfer_softmax_rows(z, 2, 2, q);
    CHECK_CLOSE(q[1], 1 / (1 + exp(-1.0)), 1e-15, 0);
    CHECK_CLOSE(q[2], 0.5, 0, 1e-15);
    return test_summary();
}
