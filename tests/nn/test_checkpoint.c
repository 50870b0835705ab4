/* Checkpoint round trip: a model trained two steps, saved and loaded into a model with a different
 * seed, then one more step on both must agree bitwise (parameters, momentum, BN buffers, dropout
 * RNG). Also StepLR against its closed form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model_compare.h"
#include "test_util.h"
#include "xfer/nn.h"
#include "xfer/safetensors.h"
#include "xfer/train.h"

enum { N = 2, H = 64, W = 64, K = 3 };

static void random_batch(xfer_backend *b, float **x, int32_t **y) {
    float host[N * H * W * 3];
    int32_t lab[N] = {0, 2};
    uint64_t s = 99;
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++) {
        s = xfer_splitmix64(s);
        host[i] = (float)((double)(s >> 11) / 9007199254740992.0 - 0.5);
    }
    xfer_err e;
    *x = b->alloc(b, sizeof host, "x", &e);
    *y = b->alloc(b, sizeof lab, "y", &e);
    b->upload(b, *x, host, sizeof host);
    b->upload(b, *y, lab, sizeof lab);
}

static void test_round_trip(xfer_backend *b, xfer_arch arch, float dropout) {
    xfer_err e;
    xfer_err_clear(&e);
    xfer_model_config cfg = {arch, K, 0.25, 1, dropout};
    xfer_model *m = NULL, *m2 = NULL;
    CHECK(xfer_model_create(&cfg, b, &m, &e) == XFER_OK);
    cfg.seed = 2;
    CHECK(xfer_model_create(&cfg, b, &m2, &e) == XFER_OK);
    if (!m || !m2) return;
    float *x;
    int32_t *y;
    random_batch(b, &x, &y);
    xfer_sgd_config opt = {0.01f, 0.9f, 5e-4f, 0};
    float loss;
    int correct;
    for (int s = 0; s < 2; s++)
        CHECK(xfer_model_train_step(m, &opt, x, y, N, H, W, &loss, &correct, &e) == XFER_OK);
    char path[64];
    snprintf(path, sizeof path, "ckpt_%d.safetensors", (int)arch);
    const char *names[K] = {"cat", "dog", "emu"};
    CHECK(xfer_model_save_checkpoint(m, path, names, 5, &e) == XFER_OK);
    CHECK(!model_tensors_equal(m, m2, 0)); /* different seeds differ before loading */
    int epoch = 0;
    CHECK(xfer_model_load_checkpoint(m2, path, &epoch, &e) == XFER_OK);
    CHECK(epoch == 5);
    CHECK(xfer_model_sgd_started(m2));
    CHECK(xfer_model_rng_counter(m2) == xfer_model_rng_counter(m));
    CHECK(model_tensors_equal(m, m2, 0));
    CHECK(model_tensors_equal(m, m2, 2));
    CHECK(xfer_model_train_step(m, &opt, x, y, N, H, W, &loss, &correct, &e) == XFER_OK);
    CHECK(xfer_model_train_step(m2, &opt, x, y, N, H, W, &loss, &correct, &e) == XFER_OK);
    CHECK(model_tensors_equal(m, m2, 0));
    /* metadata */
    xfer_safetensors st;
    CHECK(xfer_st_open(path, &st, &e) == XFER_OK);
    const char *a = xfer_st_meta(&st, XFER_CKPT_ARCH),
               *cn = xfer_st_meta(&st, XFER_CKPT_CLASS_NAMES);
    CHECK(a && strcmp(a, xfer_arch_name(arch)) == 0);
    CHECK(cn && strcmp(cn, "[\"cat\",\"dog\",\"emu\"]") == 0);
    xfer_st_close(&st);
    /* plain weight loading accepts a checkpoint (momentum.* ignored) */
    CHECK(xfer_model_load_weights(m2, path, &e) == XFER_OK);
    /* a checkpoint of another architecture is refused with a named error */
    xfer_model_config other = {arch == XFER_ARCH_ALEXNET ? XFER_ARCH_RESNET18 : XFER_ARCH_ALEXNET,
                               K, 0.25, 1, 0};
    xfer_model *m3 = NULL;
    CHECK(xfer_model_create(&other, b, &m3, &e) == XFER_OK);
    xfer_err_clear(&e);
    CHECK(xfer_model_load_checkpoint(m3, path, NULL, &e) == XFER_EINPUT);
    CHECK(strstr(e.msg, path) != NULL);
    xfer_model_free(m3);
    unlink(path);
    b->free(b, x);
    b->free(b, y);
    xfer_model_free(m);
    xfer_model_free(m2);
}

static void test_features(xfer_backend *b) {
    /* logits = features * W_head^T + b_head */
    xfer_err e;
    xfer_model_config cfg = {XFER_ARCH_RESNET18, K, 0.25, 3, 0};
    xfer_model *m = NULL;
    CHECK(xfer_model_create(&cfg, b, &m, &e) == XFER_OK);
    if (!m) return;
    float *x;
    int32_t *y;
    random_batch(b, &x, &y);
    CHECK(xfer_model_forward(m, x, N, H, W, 0, &e) == XFER_OK);
    int F = xfer_model_feature_dim(m), hw, hb;
    xfer_model_head(m, &hw, &hb);
    CHECK(F == 128);
    float *feat = malloc(sizeof(float) * N * F), logits[N * K], wt[K * 128], bias[K];
    b->download(b, feat, xfer_model_features(m), sizeof(float) * N * F, &e);
    b->download(b, logits, xfer_model_logits(m), sizeof logits, &e);
    xfer_model_get_tensor(m, hw, 0, wt, (size_t)K * F, &e);
    xfer_model_get_tensor(m, hb, 0, bias, K, &e);
    for (int i = 0; i < N; i++)
        for (int k = 0; k < K; k++) {
            double s = bias[k];
            for (int f = 0; f < F; f++)
                s += (double)feat[i * F + f] * wt[k * F + f];
            CHECK_CLOSE(logits[i * K + k], s, 1e-4, 1e-5);
        }
    free(feat);
    b->free(b, x);
    b->free(b, y);
    xfer_model_free(m);
}

static void test_steplr(void) {
    xfer_steplr s = {0.1f, 10, 0.1f};
    CHECK(xfer_steplr_lr(&s, 0) == 0.1f);
    CHECK(xfer_steplr_lr(&s, 9) == 0.1f);
    CHECK_CLOSE(xfer_steplr_lr(&s, 10), 0.01, 1e-6, 0);
    CHECK_CLOSE(xfer_steplr_lr(&s, 25), 0.001, 1e-6, 0);
    xfer_steplr c = {0.5f, 0, 0.1f};
    CHECK(xfer_steplr_lr(&c, 100) == 0.5f);
}

int main(void) {
    xfer_err e;
    xfer_backend *b = xfer_backend_get(XFER_DEVICE_CPU, &e);
    CHECK(b != NULL);
    if (!b) return test_summary();
    test_round_trip(b, XFER_ARCH_RESNET18, 0.0f);
    test_round_trip(b, XFER_ARCH_ALEXNET, 0.5f);
    test_features(b);
    test_steplr();
    xfer_backend_release(b);
    return test_summary();
}
