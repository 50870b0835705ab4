/* Helpers shared by the CUDA tests: both backends, random data, backend-agnostic buffers, and the
 * relative error used against the CPU backend (max |a - ref| / max |ref|). Every test skips with
 * "skipped: no CUDA device" (exit 77) where xfer_cuda_available() is 0. */
#ifndef XFER_CUDA_TEST_H
#define XFER_CUDA_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "xfer/backend.h"
#include "xfer/cuda_backend.h"
#include "xfer/cuda_info.h"

static uint64_t g_rng = 20261127;

static inline double urand(void) { /* uniform in [-1, 1) */
    g_rng = xfer_splitmix64(g_rng);
    return (double)(g_rng >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

static inline float *rand_vec(size_t n, double scale) {
    float *v = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(urand() * scale);
    return v;
}

/* XFER_TEST_FAKE_CUDA (the cuda_ops_harness test): the CPU backend stands in for CUDA, so the
 * harness itself (buffers, comparisons, cleanup) is exercised on machines without a GPU. */
#ifdef XFER_TEST_FAKE_CUDA
static inline int fake_set_precision(xfer_backend *b, xfer_precision p, xfer_err *e) {
    (void)b, (void)p, (void)e;
    return XFER_OK;
}
#define xfer_cuda_set_precision fake_set_precision
#define xfer_cuda_device_name(b) "cpu standing in for cuda (harness self-check)"
#define XFER_TEST_GPU_KIND XFER_DEVICE_CPU
#else
#define XFER_TEST_GPU_KIND XFER_DEVICE_CUDA
#endif

static inline void need_cuda_device(void) {
#ifndef XFER_TEST_FAKE_CUDA
    if (!xfer_cuda_available()) XFER_SKIP("no CUDA device");
#endif
}

/* Both backends for a CUDA-vs-CPU test (skips without a device; exits 1 when one cannot be
 * made), the device's name printed. */
static inline void open_backends(xfer_backend **cpu, xfer_backend **gpu) {
    need_cuda_device();
    xfer_err e;
    xfer_err_clear(&e);
    *cpu = xfer_backend_get(XFER_DEVICE_CPU, &e);
    *gpu = *cpu ? xfer_backend_get(XFER_TEST_GPU_KIND, &e) : NULL;
    if (!*cpu || !*gpu) {
        fprintf(stderr, "backend: %s\n", e.msg);
        exit(1);
    }
    printf("device: %s\n", xfer_cuda_device_name(*gpu));
}

/* A backend buffer holding a copy of host data (host may be NULL: zeroed). */
static inline void *put(xfer_backend *b, const void *host, size_t bytes) {
    xfer_err e;
    xfer_err_clear(&e);
    void *d = b->alloc(b, bytes ? bytes : 4, "test buffer", &e);
    if (!d) {
        fprintf(stderr, "alloc failed: %s\n", e.msg);
        exit(1);
    }
    if (host)
        b->upload(b, d, host, bytes);
    else
        b->memset0(b, d, bytes);
    return d;
}

static inline void get(xfer_backend *b, void *host, const void *dev, size_t bytes) {
    xfer_err e;
    xfer_err_clear(&e);
    if (b->download(b, host, dev, bytes, &e) != XFER_OK) {
        fprintf(stderr, "%s backend failed: %s\n", b->name, e.msg);
        g_test_failures++;
    }
}

static inline double max_rel(const float *a, const float *ref, size_t n) {
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double x = fabs((double)a[i] - ref[i]);
        if (!(x <= d)) d = x; /* NaN propagates */
        if (fabs(ref[i]) > m) m = fabs(ref[i]);
    }
    return m > 0 ? d / m : d;
}

#define CHECK_REL(what, a, ref, n, tol)                                                            \
    do {                                                                                           \
        double r_ = max_rel((a), (ref), (n));                                                      \
        CHECK_MSG(r_ <= (tol), "%s: relative error %.3g > %.3g", (what), r_, (double)(tol));       \
        if (getenv("XFER_TEST_VERBOSE"))                                                           \
            printf("%-40s rel %.3g (tol %.1g)\n", (what), r_, (double)(tol));                      \
    } while (0)

#endif
