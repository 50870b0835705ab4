/* The pinned staging ring of small host-to-device copies (src/backend/cuda/stage_cuda.c) on the
 * emulator's held stream (xemu_hold: copies from pinned memory and event records wait in a queue
 * until the test lets the "device" run them, and read their source only then):
 *  - many uploads of one reused host buffer while nothing has run: every destination gets its own
 *    bytes (a slot written again before its copy ran would give a later upload's bytes), no host
 *    wait (a pageable copy, a synchronisation) and one slot per copy in flight;
 *  - a slot whose copy has run is reused (no new slot), one still queued is not;
 *  - past XFER_CUDA_STAGE_SLOTS_MAX copies in flight the host waits once, explicitly, counted;
 *  - a larger copy than before reallocates a free slot; copies over XFER_CUDA_STAGE_LIMIT go
 *    direct (and, from pageable memory, wait: the behaviour the ring avoids for small copies);
 *  - the backend's paths that use it: upload (labels, the learning rate) and the augment batch's
 *    boxes and labels;
 *  - an event query that found a slot busy leaves no error behind for the next launch check (run
 *    also with XEMU_NOTREADY_SETS_ERROR=1, where the query sets the last error). */
#include "cuda_test.h"

#include <cuda_runtime_api.h>

#include "cuda_internal.h"

#define N 16 /* floats per upload */

static xfer_backend *b;

static xfer_cuda_stage_stats stats(void) {
    xfer_cuda_stage_stats s;
    xfer_cuda_stage_stats_get(b, &s);
    return s;
}

static void fill(float *h, int i) {
    for (int j = 0; j < N; j++)
        h[j] = (float)(i * 1000 + j);
}

/* destination i holds upload i's bytes */
static int check_all(float **d, int n, const char *what) {
    int bad = 0;
    for (int i = 0; i < n; i++) {
        float got[N], want[N];
        xfer_err e;
        xfer_err_clear(&e);
        CHECK(b->download(b, got, d[i], sizeof got, &e) == XFER_OK);
        fill(want, i);
        if (memcmp(got, want, sizeof got) != 0 && bad++ < 3)
            fprintf(stderr, "%s: upload %d arrived as %g.. (want %g..)\n", what, i, got[0],
                    want[0]);
    }
    CHECK_MSG(bad == 0, "%s: %d of %d uploads arrived with other bytes", what, bad, n);
    return bad;
}

/* uploads 0..m-1 of one reused host buffer into d[i] while the stream is held; the host waits
 * they caused */
static unsigned long upload_held(float **d, int m) {
    float h[N];
    unsigned long w0 = xemu_host_waits();
    xemu_hold(1);
    for (int i = 0; i < m; i++) {
        fill(h, i);
        b->upload(b, d[i], h, sizeof h); /* h is rewritten at once */
    }
    return xemu_host_waits() - w0;
}

static void test_in_flight(void) {
    enum { M = 40 };
    float *d[M];
    for (int i = 0; i < M; i++)
        d[i] = put(b, NULL, sizeof(float) * N);
    xfer_cuda_stage_stats s0 = stats();
    unsigned long waits = upload_held(d, M);
    size_t queued = xemu_queued();
    xfer_cuda_stage_stats s = stats();
    xemu_hold(0);
    CHECK_MSG(waits == 0, "%lu host waits while %d uploads were in flight", waits, M);
    CHECK_MSG(queued == 2 * M, "%zu stream operations queued, want %d copies + %d records", queued,
              M, M);
    CHECK_MSG(s.staged - s0.staged == M && s.direct == s0.direct, "staged %lu, direct %lu",
              s.staged - s0.staged, s.direct - s0.direct);
    CHECK_MSG(s.slots == M, "%d slots for %d copies in flight", s.slots, M);
    CHECK_MSG(s.waits == 0, "ring waits %lu", s.waits);
    check_all(d, M, "in flight");
    for (int i = 0; i < M; i++)
        b->free(b, d[i]);
}

static void test_reuse(void) {
    float *d[3], h[N];
    for (int i = 0; i < 3; i++)
        d[i] = put(b, NULL, sizeof h);
    int slots0 = stats().slots; /* all free now (test_in_flight's copies ran) */
    xemu_hold(1);
    for (int i = 0; i < slots0; i++) { /* occupy every slot */
        fill(h, 7);
        b->upload(b, d[2], h, sizeof h);
    }
    CHECK_MSG(stats().slots == slots0, "a free slot was not reused: %d slots, had %d",
              stats().slots, slots0);
    xemu_progress(2); /* the first copy and its event have run */
    fill(h, 0);
    b->upload(b, d[0], h, sizeof h);
    CHECK_MSG(stats().slots == slots0, "the slot whose copy ran was not taken: %d slots, had %d",
              stats().slots, slots0);
    fill(h, 1);
    b->upload(b, d[1], h, sizeof h); /* every other slot still queued: a new one */
    CHECK_MSG(stats().slots == slots0 + 1, "%d slots, want %d", stats().slots, slots0 + 1);
    xemu_hold(0);
    check_all(d, 2, "reuse");
    for (int i = 0; i < 3; i++)
        b->free(b, d[i]);
}

static void test_limit(void) {
    enum { M = XFER_CUDA_STAGE_SLOTS_MAX + 3 };
    float *d[M];
    for (int i = 0; i < M; i++)
        d[i] = put(b, NULL, sizeof(float) * N);
    xfer_cuda_stage_stats s0 = stats();
    unsigned long waits = upload_held(d, M);
    xfer_cuda_stage_stats s = stats();
    xemu_hold(0);
    CHECK_MSG(s.slots == XFER_CUDA_STAGE_SLOTS_MAX, "%d slots, the most is %d", s.slots,
              XFER_CUDA_STAGE_SLOTS_MAX);
    /* the first wait lets the device run everything queued: the later copies find free slots */
    CHECK_MSG(s.waits - s0.waits == 1 && waits == 1, "ring waits %lu, host waits %lu (want 1, 1)",
              s.waits - s0.waits, waits);
    check_all(d, M, "past the most slots");
    for (int i = 0; i < M; i++)
        b->free(b, d[i]);
}

static void test_sizes(void) {
    size_t big = (size_t)200 << 10, huge = XFER_CUDA_STAGE_LIMIT + 4;
    unsigned char *h = malloc(huge), *got = malloc(huge);
    for (size_t i = 0; i < huge; i++)
        h[i] = (unsigned char)(i * 7 + 3);
    void *d = put(b, NULL, huge);
    xfer_cuda_stage_stats s0 = stats();
    b->upload(b, d, h, big); /* larger than every slot: a free one is reallocated */
    xfer_cuda_stage_stats s1 = stats();
    CHECK_MSG(s1.reallocs == s0.reallocs + 1 && s1.staged == s0.staged + 1,
              "reallocs %lu -> %lu, staged %lu -> %lu", s0.reallocs, s1.reallocs, s0.staged,
              s1.staged);
    unsigned long w0 = xemu_host_waits();
    xemu_hold(1);
    b->upload(b, d, h, huge); /* over the limit: from h itself */
    unsigned long waits = xemu_host_waits() - w0;
    xemu_hold(0);
    xfer_cuda_stage_stats s2 = stats();
    CHECK_MSG(s2.direct == s1.direct + 1 && s2.staged == s1.staged, "direct %lu -> %lu", s1.direct,
              s2.direct);
    CHECK_MSG(waits == 1, "a pageable copy: %lu host waits, want 1", waits);
    xfer_err e;
    xfer_err_clear(&e);
    CHECK(b->download(b, got, d, huge, &e) == XFER_OK);
    CHECK_MSG(memcmp(got, h, huge) == 0, "the direct copy differs");
    b->free(b, d);
    free(h), free(got);
}

/* a query that found slots busy, then a kernel and check(): no false failure */
static void test_no_stale_error(void) {
    float h[N], *d = put(b, NULL, sizeof h);
    int slots0 = stats().slots;
    xemu_hold(1);
    for (int i = 0; i <= slots0; i++) { /* every slot busy, queried, then one more */
        fill(h, 0);
        b->upload(b, d, h, sizeof h);
    }
    b->relu_forward(b, N, d, d); /* runs the queue first, then the kernel */
    xemu_hold(0);
    xfer_err e;
    xfer_err_clear(&e);
    int rc = b->check(b, &e);
    CHECK_MSG(rc == XFER_OK, "after busy slots were queried: %s", e.msg);
    check_all(&d, 1, "before a kernel"); /* relu of non-negative values: unchanged */
    b->free(b, d);
}

static void test_backend_paths(void) {
    /* augment batch: boxes and labels through the ring, the caller's arrays reused at once */
    enum { NB = 3, S = 8, T = 4 };
    uint8_t img[2 * S * S * 3];
    for (size_t i = 0; i < sizeof img; i++)
        img[i] = (uint8_t)(i * 5);
    xfer_err e;
    xfer_err_clear(&e);
    xfer_cuda_image_cache *cache = NULL;
    CHECK(xfer_cuda_cache_upload(b, img, 2, S, S, &cache, &e) == XFER_OK);
    xfer_aug_box boxes[NB];
    memset(boxes, 0, sizeof boxes);
    int32_t lab[NB] = {5, 6, 7}, got[NB];
    for (int i = 0; i < NB; i++)
        boxes[i].index = i % 2, boxes[i].copy = 1, boxes[i].x0 = i, boxes[i].y0 = 1;
    float mean[3] = {0.5f, 0.5f, 0.5f}, sd[3] = {0.25f, 0.25f, 0.25f};
    float *out = put(b, NULL, sizeof(float) * NB * T * T * 3);
    int32_t *dl = put(b, NULL, sizeof lab);
    /* the first call sizes the box buffer (a synchronisation when it grows) */
    CHECK(xfer_cuda_augment_batch(b, cache, boxes, lab, NB, T, mean, sd, out, dl, &e) == XFER_OK);
    xfer_cuda_stage_stats s0 = stats();
    unsigned long w0 = xemu_host_waits();
    xemu_hold(1);
    CHECK(xfer_cuda_augment_batch(b, cache, boxes, lab, NB, T, mean, sd, out, dl, &e) == XFER_OK);
    unsigned long waits = xemu_host_waits() - w0;
    memset(lab, 0, sizeof lab); /* reused at once */
    xemu_hold(0);
    xfer_cuda_stage_stats s = stats();
    CHECK_MSG(s.staged - s0.staged == 2 && waits == 0,
              "augment batch: %lu copies staged (want 2), %lu host waits (want 0)",
              s.staged - s0.staged, waits);
    CHECK(b->download(b, got, dl, sizeof got, &e) == XFER_OK);
    CHECK_MSG(got[0] == 5 && got[1] == 6 && got[2] == 7, "labels %d %d %d", got[0], got[1], got[2]);
    b->free(b, out), b->free(b, dl);
    xfer_cuda_cache_free(b, cache);
}

int main(void) {
    xfer_err e;
    xfer_err_clear(&e);
    b = xfer_backend_get(XFER_DEVICE_CUDA, &e);
    if (!b) {
        fprintf(stderr, "backend: %s\n", e.msg);
        return 1;
    }
    printf("XEMU_NOTREADY_SETS_ERROR=%s\n", getenv("XEMU_NOTREADY_SETS_ERROR") ? "1" : "unset");
    test_in_flight();
    test_reuse();
    test_limit();
    test_sizes();
    test_no_stale_error();
    test_backend_paths();
    xfer_cuda_stage_stats s = stats();
    printf("ring: %d slots, %lu staged, %lu direct, %lu waits, %lu reallocs\n", s.slots, s.staged,
           s.direct, s.waits, s.reallocs);
    CHECK(b->check(b, &e) == XFER_OK);
    xfer_backend_release(b);
    return test_summary();
}
