/* xfer_model_train_step_dev against xfer_model_train_step (the torch-checked path): two models
 * from the same seed, one trained with each, over full and partial batches and a learning-rate
 * change. On the CPU (this file's default) the parameters, gradients, momentum buffers, BN
 * statistics and dropout counter must be bitwise equal, and the device sums must equal the host's
 * float sums of n * loss and correct. Built with XFER_TEST_GRAPHS=1 it runs on CUDA instead (label
 * gpu; skipped without a device): the same model trained with graph replays (the default) against
 * plain launches (graphs switched off by clearing the backend's capture hook on a second
 * backend), which must agree bitwise as well, and replays must actually have happened. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_compare.h"
#include "test_util.h"
#include "xfer/nn.h"

#ifndef XFER_TEST_GRAPHS
#define XFER_TEST_GRAPHS 0
#endif

enum { K = 3, BMAX = 4 };

typedef struct {
    float *x;
    int32_t *y;
} batch;

static void make_batch(xfer_backend *b, int n, int hw, uint64_t seed, batch *out) {
    size_t cnt = (size_t)n * hw * hw * 3;
    float *host = malloc(cnt * sizeof(float));
    int32_t lab[BMAX];
    uint64_t s = seed;
    for (size_t i = 0; i < cnt; i++) {
        s = xfer_splitmix64(s);
        host[i] = (float)((double)(s >> 11) / 9007199254740992.0 - 0.5);
    }
    for (int i = 0; i < n; i++)
        lab[i] = (int32_t)((seed + (uint64_t)i) % K);
    xfer_err e;
    out->x = b->alloc(b, cnt * sizeof(float), "x", &e);
    out->y = b->alloc(b, sizeof lab, "y", &e);
    b->upload(b, out->x, host, cnt * sizeof(float));
    b->upload(b, out->y, lab, (size_t)n * sizeof(int32_t));
    free(host);
}

/* The schedule: steps of (batch index, lr); batch 2 is the partial one. */
static const struct {
    int batch;
    float lr;
} STEPS[] = {{0, 0.05f}, {1, 0.05f}, {0, 0.05f}, {1, 0.05f}, {2, 0.05f},
             {0, 0.01f}, {1, 0.01f}, {0, 0.01f}, {2, 0.01f}, {1, 0.002f}};
#define N_STEPS ((int)(sizeof STEPS / sizeof STEPS[0]))

#if !XFER_TEST_GRAPHS
/* CPU: the new step against the old one, bitwise. */
static void test_cpu(xfer_arch arch, float dropout, int hw, int nesterov) {
    xfer_err e;
    xfer_err_clear(&e);
    xfer_backend *b = xfer_backend_get(XFER_DEVICE_CPU, &e);
    CHECK(b != NULL);
    if (!b) return;
    b->set_threads(b, 2);
    xfer_model_config cfg = {arch, K, 0.125, 5, dropout};
    xfer_model *old = NULL, *dev = NULL;
    CHECK(xfer_model_create(&cfg, b, &old, &e) == XFER_OK);
    CHECK(xfer_model_create(&cfg, b, &dev, &e) == XFER_OK);
    batch bt[3];
    const int ns[3] = {BMAX, BMAX, 2};
    for (int i = 0; i < 3; i++)
        make_batch(b, ns[i], hw, 17 + (uint64_t)i, &bt[i]);
    float *acc = b->alloc(b, 2 * sizeof(float), "acc", &e);
    b->memset0(b, acc, 2 * sizeof(float));
    float want_loss = 0, want_corr = 0;
    for (int s = 0; s < N_STEPS && old && dev; s++) {
        const batch *p = &bt[STEPS[s].batch];
        int n = ns[STEPS[s].batch];
        xfer_sgd_config opt = {STEPS[s].lr, 0.9f, 1e-3f, nesterov};
        float loss = 0, l2 = 0;
        int corr = 0, c2 = -1;
        CHECK(xfer_model_train_step(old, &opt, p->x, p->y, n, hw, hw, &loss, &corr, &e) == XFER_OK);
        CHECK_MSG(xfer_model_train_step_dev(dev, &opt, p->x, p->y, n, hw, hw, acc, &e) == XFER_OK,
                  "%s", e.msg);
        CHECK(xfer_model_last_loss(dev, &l2, &c2, &e) == XFER_OK);
        CHECK_MSG(memcmp(&loss, &l2, sizeof loss) == 0 && corr == c2,
                  "step %d: loss %.9g vs %.9g, correct %d vs %d", s, loss, l2, corr, c2);
        want_loss += (float)n * loss;
        want_corr += (float)corr;
    }
    float got[2];
    CHECK(b->download(b, got, acc, sizeof got, &e) == XFER_OK);
    CHECK_MSG(memcmp(&got[0], &want_loss, sizeof got[0]) == 0, "loss sum %.9g vs %.9g", got[0],
              want_loss);
    CHECK_MSG(got[1] == want_corr, "correct sum %g vs %g", got[1], want_corr);
    if (old && dev) {
        CHECK(model_tensors_equal(old, dev, 0)); /* parameters and BN statistics */
        CHECK(model_tensors_equal(old, dev, 1)); /* gradients of the last step */
        CHECK(model_tensors_equal(old, dev, 2)); /* momentum */
        CHECK(xfer_model_rng_counter(old) == xfer_model_rng_counter(dev));
        CHECK(xfer_model_graph_replays(dev) == 0); /* the CPU records nothing */
    }
    /* a bad shape is an input error, not a crash */
    xfer_sgd_config opt = {0.1f, 0.9f, 0, 0};
    if (dev)
        CHECK(xfer_model_train_step_dev(dev, &opt, bt[0].x, bt[0].y, 0, hw, hw, acc, &e) ==
              XFER_EINPUT);
    for (int i = 0; i < 3; i++) {
        b->free(b, bt[i].x);
        b->free(b, bt[i].y);
    }
    b->free(b, acc);
    xfer_model_free(old);
    xfer_model_free(dev);
    xfer_backend_release(b);
}
#else
/* CUDA: graph replays against plain launches of the same step, bitwise. */
static void run_cuda(xfer_backend *b, xfer_arch arch, int hw, xfer_model **out, float sums[2]) {
    xfer_err e;
    xfer_err_clear(&e);
    xfer_model_config cfg = {arch, K, 0.25, 5, 0.0f};
    xfer_model *m = NULL;
    CHECK(xfer_model_create(&cfg, b, &m, &e) == XFER_OK);
    batch bt[3];
    const int ns[3] = {BMAX, BMAX, 2};
    for (int i = 0; i < 3; i++)
        make_batch(b, ns[i], hw, 17 + (uint64_t)i, &bt[i]);
    /* one input buffer, as the runner: each batch is copied into it before the step */
    batch in;
    make_batch(b, BMAX, hw, 1, &in);
    float *acc = b->alloc(b, 2 * sizeof(float), "acc", &e);
    b->memset0(b, acc, 2 * sizeof(float));
    for (int s = 0; s < N_STEPS && m; s++) {
        int k = STEPS[s].batch, n = ns[k];
        b->copy(b, in.x, bt[k].x, (size_t)n * hw * hw * 3 * sizeof(float));
        b->copy(b, in.y, bt[k].y, (size_t)n * sizeof(int32_t));
        xfer_sgd_config opt = {STEPS[s].lr, 0.9f, 1e-3f, 0};
        CHECK_MSG(xfer_model_train_step_dev(m, &opt, in.x, in.y, n, hw, hw, acc, &e) == XFER_OK,
                  "%s", e.msg);
    }
    CHECK(b->download(b, sums, acc, 2 * sizeof(float), &e) == XFER_OK);
    for (int i = 0; i < 3; i++) {
        b->free(b, bt[i].x);
        b->free(b, bt[i].y);
    }
    b->free(b, in.x);
    b->free(b, in.y);
    b->free(b, acc);
    *out = m;
}

static void test_cuda(xfer_arch arch, int hw) {
    xfer_err e;
    xfer_err_clear(&e);
    xfer_backend *g = xfer_backend_get(XFER_DEVICE_CUDA, &e);
    xfer_backend *p = g ? xfer_backend_get(XFER_DEVICE_CUDA, &e) : NULL;
    if (!g || !p) XFER_SKIP("no CUDA device");
    CHECK_MSG(g->capture_begin != NULL, "graphs are on by default (XFER_CUDA_GRAPHS unset?)");
    p->capture_begin = NULL; /* plain launches */
    xfer_model *mg = NULL, *mp = NULL;
    float sg[2] = {0}, sp[2] = {0};
    run_cuda(g, arch, hw, &mg, sg);
    run_cuda(p, arch, hw, &mp, sp);
    if (mg && mp) {
        uint64_t r = xfer_model_graph_replays(mg);
        /* recorded on step 2 (batch 1 after batch 0: same shape), replayed on every full batch
         * after it; the partial batch and the first step run plain */
        printf("%s: %llu of %d steps replayed\n", xfer_arch_name(arch), (unsigned long long)r,
               N_STEPS);
        CHECK(r >= 5);
        CHECK(xfer_model_graph_replays(mp) == 0);
        CHECK(model_tensors_equal(mg, mp, 0));
        CHECK(model_tensors_equal(mg, mp, 2));
        CHECK_MSG(memcmp(sg, sp, sizeof sg) == 0, "sums %.9g %g vs %.9g %g", sg[0], sg[1], sp[0],
                  sp[1]);
    }
    xfer_model_free(mg);
    xfer_model_free(mp);
    xfer_backend_release(g);
    xfer_backend_release(p);
}
#endif

int main(void) {
#if !XFER_TEST_GRAPHS
    test_cpu(XFER_ARCH_RESNET18, 0.0f, 32, 0);
    test_cpu(XFER_ARCH_RESNET18, 0.0f, 32, 1);
    test_cpu(XFER_ARCH_ALEXNET, 0.5f, 64, 0);
#else
    test_cuda(XFER_ARCH_RESNET18, 64);
    test_cuda(XFER_ARCH_ALEXNET, 64); /* no dropout: recorded too */
#endif
    return test_summary();
}
