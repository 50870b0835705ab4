/* The GPU score kernels against double-precision host references written here from the formulas
 * in include/xfer/cuda_backend.h (relative error <= 1e-6): softmax + row max, the one-hot EMD
 * closed form, the batched log-domain Sinkhorn (same iteration, and its transport plan's
 * marginals), feature mean / covariance / class sums. Inputs are passed both as host and as
 * device pointers. */
#include "cuda_test.h"

/* the larger error, NaN winning (fmax would drop a NaN and let a broken result pass) */
static double worse(double worst, double e) {
    return e > worst || e != e ? e : worst;
}

static xfer_backend *gpu;

static double rel1(double a, double r) {
    return fabs(a - r) / (fabs(r) > 1e-300 ? fabs(r) : 1.0);
}

static double max_rel_d(const double *a, const double *r, size_t n) {
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double x = fabs(a[i] - r[i]);
        if (!(x <= d)) d = x;
        if (fabs(r[i]) > m) m = fabs(r[i]);
    }
    return m > 0 ? d / m : d;
}

static void test_softmax_max(int n, int k) {
    float *l = rand_vec((size_t)n * k, 6);
    double *ref = malloc(sizeof(double) * n), *got = malloc(sizeof(double) * n);
    float *probs = malloc(sizeof(float) * n * k);
    double worst_p = 0;
    xfer_err e;
    xfer_err_clear(&e);
    CHECK(xfer_cuda_softmax_max(gpu, n, k, l, probs, got, &e) == XFER_OK);
    for (int i = 0; i < n; i++) {
        double mx = -INFINITY, s = 0;
        for (int j = 0; j < k; j++)
            mx = fmax(mx, l[(size_t)i * k + j]);
        for (int j = 0; j < k; j++)
            s += exp(l[(size_t)i * k + j] - mx);
        ref[i] = 1.0 / s;
        for (int j = 0; j < k; j++) {
            double p = exp(l[(size_t)i * k + j] - mx) / s;
            worst_p =
                worse(worst_p, fabs(probs[(size_t)i * k + j] - p) / fmax(p, 1e-30) * (p > 1e-30));
        }
    }
    CHECK_MSG(max_rel_d(got, ref, n) <= 1e-6, "softmax_max rel %.3g", max_rel_d(got, ref, n));
    CHECK_MSG(worst_p <= 1e-6, "softmax probabilities rel %.3g", worst_p);
    /* device input, no probabilities */
    float *dl = put(gpu, l, sizeof(float) * n * k);
    CHECK(xfer_cuda_softmax_max(gpu, n, k, dl, NULL, got, &e) == XFER_OK);
    CHECK_MSG(max_rel_d(got, ref, n) <= 1e-6, "softmax_max (device input) rel %.3g",
              max_rel_d(got, ref, n));
    gpu->free(gpu, dl);
    free(l), free(ref), free(got), free(probs);
}

static void test_emd(int n, int S, int T) {
    float *theta = malloc(sizeof(float) * n * S);
    for (int i = 0; i < n; i++) { /* rows of probabilities */
        double s = 0;
        for (int j = 0; j < S; j++)
            s += theta[(size_t)i * S + j] = (float)(urand() + 1.0);
        for (int j = 0; j < S; j++)
            theta[(size_t)i * S + j] /= (float)s;
    }
    double *D = malloc(sizeof(double) * S * T);
    for (int i = 0; i < S * T; i++)
        D[i] = urand() + 1.0;
    int32_t *lab = malloc(sizeof(int32_t) * n);
    for (int i = 0; i < n; i++)
        lab[i] = (int32_t)((xfer_splitmix64((uint64_t)i + 99) >> 16) % (uint64_t)T);
    double *ref = malloc(sizeof(double) * n), *got = malloc(sizeof(double) * n);
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < S; j++)
            s += (double)theta[(size_t)i * S + j] * D[(size_t)j * T + lab[i]];
        ref[i] = s;
    }
    xfer_err e;
    xfer_err_clear(&e);
    CHECK(xfer_cuda_emd_onehot(gpu, n, S, T, theta, D, lab, got, &e) == XFER_OK);
    double worst = 0;
    for (int i = 0; i < n; i++)
        worst = worse(worst, rel1(got[i], ref[i]));
    CHECK_MSG(worst <= 1e-6, "one-hot EMD rel %.3g", worst);
    free(theta), free(D), free(lab), free(ref), free(got);
}

static double lse(const double *v, int len) {
    double m = -INFINITY, s = 0;
    for (int i = 0; i < len; i++)
        m = fmax(m, v[i]);
    if (m == -INFINITY) return m;
    for (int i = 0; i < len; i++)
        s += exp(v[i] - m);
    return m + log(s);
}

static void test_sinkhorn(int B, int S, int T, double eps, int iters) {
    double *a = malloc(sizeof(double) * B * S), *bh = malloc(sizeof(double) * B * T);
    double *D = malloc(sizeof(double) * S * T), *got = malloc(sizeof(double) * B);
    for (int p = 0; p < B; p++) {
        double sa = 0, sb = 0;
        for (int s = 0; s < S; s++)
            sa += a[p * S + s] = (s == 1 && p == 0) ? 0.0 : urand() + 1.0; /* a zero mass */
        for (int t = 0; t < T; t++)
            sb += bh[p * T + t] = urand() + 1.0;
        for (int s = 0; s < S; s++)
            a[p * S + s] /= sa;
        for (int t = 0; t < T; t++)
            bh[p * T + t] /= sb;
    }
    for (int i = 0; i < S * T; i++)
        D[i] = urand() + 1.0;
    xfer_err e;
    xfer_err_clear(&e);
    CHECK(xfer_cuda_sinkhorn(gpu, B, S, T, a, bh, D, eps, iters, got, &e) == XFER_OK);
    double *f = malloc(sizeof(double) * S), *g = malloc(sizeof(double) * T);
    double *tmp = malloc(sizeof(double) * (S > T ? S : T));
    double worst = 0, worst_marg = 0;
    for (int p = 0; p < B; p++) {
        for (int s = 0; s < S; s++)
            f[s] = 0;
        for (int t = 0; t < T; t++)
            g[t] = 0;
        for (int it = 0; it < iters; it++) {
            for (int s = 0; s < S; s++) {
                for (int t = 0; t < T; t++)
                    tmp[t] = (g[t] - D[s * T + t]) / eps;
                f[s] = a[p * S + s] > 0 ? eps * log(a[p * S + s]) - eps * lse(tmp, T) : -INFINITY;
            }
            for (int t = 0; t < T; t++) {
                for (int s = 0; s < S; s++)
                    tmp[s] = (f[s] - D[s * T + t]) / eps;
                g[t] = bh[p * T + t] > 0 ? eps * log(bh[p * T + t]) - eps * lse(tmp, S) : -INFINITY;
            }
        }
        double cost = 0;
        for (int t = 0; t < T; t++) { /* after a g update the column marginals are exact */
            double col = 0;
            for (int s = 0; s < S; s++) {
                if (f[s] == -INFINITY) continue;
                double pst = exp((f[s] + g[t] - D[s * T + t]) / eps);
                cost += pst * D[s * T + t];
                col += pst;
            }
            worst_marg = worse(worst_marg, fabs(col - bh[p * T + t]));
        }
        worst = worse(worst, rel1(got[p], cost));
    }
    CHECK_MSG(worst <= 1e-6, "sinkhorn cost rel %.3g", worst);
    CHECK_MSG(worst_marg <= 1e-9, "sinkhorn reference marginals off by %.3g", worst_marg);
    free(a), free(bh), free(D), free(got), free(f), free(g), free(tmp);
}

static void test_feature_stats(int n, int F, int K) {
    float *x = rand_vec((size_t)n * F, 3);
    int32_t *lab = malloc(sizeof(int32_t) * n);
    for (int i = 0; i < n; i++)
        lab[i] = i % K;
    double *mean = malloc(sizeof(double) * F), *cov = malloc(sizeof(double) * F * F);
    double *sums = malloc(sizeof(double) * K * F);
    int *counts = malloc(sizeof(int) * K);
    double *rmean = calloc(F, sizeof(double)), *rcov = calloc((size_t)F * F, sizeof(double));
    double *rsums = calloc((size_t)K * F, sizeof(double));
    for (int i = 0; i < n; i++)
        for (int f = 0; f < F; f++) {
            rmean[f] += x[(size_t)i * F + f];
            rsums[(size_t)lab[i] * F + f] += x[(size_t)i * F + f];
        }
    for (int f = 0; f < F; f++)
        rmean[f] /= n;
    for (int i = 0; i < n; i++)
        for (int p = 0; p < F; p++)
            for (int q = 0; q < F; q++)
                rcov[(size_t)p * F + q] +=
                    (x[(size_t)i * F + p] - rmean[p]) * (x[(size_t)i * F + q] - rmean[q]);
    for (size_t i = 0; i < (size_t)F * F; i++)
        rcov[i] /= n - 1;
    xfer_err e;
    xfer_err_clear(&e);
    for (int dev = 0; dev < 2; dev++) {
        float *xin = dev ? put(gpu, x, sizeof(float) * n * F) : x;
        int32_t *lin = dev ? put(gpu, lab, sizeof(int32_t) * n) : lab;
        CHECK(xfer_cuda_feature_stats(gpu, n, F, xin, K, lin, mean, cov, sums, counts, &e) ==
              XFER_OK);
        CHECK_MSG(max_rel_d(mean, rmean, F) <= 1e-6, "mean rel %.3g", max_rel_d(mean, rmean, F));
        CHECK_MSG(max_rel_d(cov, rcov, (size_t)F * F) <= 1e-6, "cov rel %.3g",
                  max_rel_d(cov, rcov, (size_t)F * F));
        CHECK_MSG(max_rel_d(sums, rsums, (size_t)K * F) <= 1e-6, "class sums rel %.3g",
                  max_rel_d(sums, rsums, (size_t)K * F));
        int ok = 1;
        for (int k = 0; k < K; k++)
            ok &= counts[k] == n / K + (k < n % K);
        CHECK_MSG(ok, "class counts wrong");
        if (dev) gpu->free(gpu, xin), gpu->free(gpu, lin);
    }
    free(x), free(lab), free(mean), free(cov), free(sums), free(counts), free(rmean), free(rcov),
        free(rsums);
}

int main(void) {
    need_cuda_device();
    int small = getenv("XFER_TEST_SMALL") != NULL;
    xfer_err e;
    xfer_err_clear(&e);
    gpu = xfer_backend_get(XFER_DEVICE_CUDA, &e);
    if (!gpu) {
        fprintf(stderr, "backend: %s\n", e.msg);
        return 1;
    }
    test_softmax_max(small ? 7 : 513, small ? 9 : 365);
    test_emd(small ? 9 : 1000, small ? 6 : 365, small ? 4 : 102);
    test_sinkhorn(small ? 2 : 6, small ? 5 : 40, small ? 4 : 30, 0.1, small ? 5 : 50);
    test_feature_stats(small ? 20 : 300, small ? 6 : 64, small ? 3 : 10);
    /* errors are values */
    CHECK(xfer_cuda_sinkhorn(gpu, 1, 2, 2, NULL, NULL, NULL, 0.0, 1, NULL, &e) == XFER_EINPUT);
    xfer_backend *cpu = xfer_backend_get(XFER_DEVICE_CPU, &e);
    double dummy;
    CHECK(xfer_cuda_softmax_max(cpu, 1, 1, NULL, NULL, &dummy, &e) == XFER_EINPUT);
    xfer_backend_release(cpu);
    xfer_backend_release(gpu);
    return test_summary();
}
