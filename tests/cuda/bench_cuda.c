/* bench_cuda ARCH BATCH PRECISION [STEPS]: training-step and inference throughput of a model on
 * the CUDA backend (224x224 inputs, 102 classes, SGD with momentum), median of 5 repeats of STEPS
 * steps after 3 warm-up steps, timed on the host around backend syncs. Prints one line:
 *   bench <card> <arch> b<batch> <precision> train <img/s> infer <img/s>
 * Not a test: scripts/gpu-check.sh runs it until `xfer bench` exists. Exit 77 without a device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xfer/backend.h"
#include "xfer/cuda_backend.h"
#include "xfer/cuda_info.h"
#include "xfer/nn.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: bench_cuda ARCH BATCH fp32|tf32|bf16 [STEPS]\n");
        return 2;
    }
    if (!xfer_cuda_available()) {
        printf("skipped: no CUDA device\n");
        return 77;
    }
    xfer_err e;
    xfer_err_clear(&e);
    xfer_arch arch;
    if (xfer_arch_parse(argv[1], &arch, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 2;
    }
    int n = atoi(argv[2]), steps = argc > 4 ? atoi(argv[4]) : 10;
    xfer_precision prec = !strcmp(argv[3], "bf16")   ? XFER_PREC_BF16
                          : !strcmp(argv[3], "tf32") ? XFER_PREC_TF32
                                                     : XFER_PREC_FP32;
    xfer_backend *b = xfer_backend_get(XFER_DEVICE_CUDA, &e);
    if (!b) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    xfer_cuda_set_batch_hint(b, n);
    xfer_model_config cfg = {
        .arch = arch, .num_classes = 102, .width = 1.0, .seed = 1, .dropout = 0.5f};
    xfer_model *m = NULL;
    int rc = xfer_cuda_set_precision(b, prec, &e) || xfer_model_create(&cfg, b, &m, &e);
    size_t nx = (size_t)n * 224 * 224 * 3;
    float *hx = malloc(nx * sizeof(float));
    int32_t *hl = malloc(n * sizeof(int32_t));
    for (size_t i = 0; i < nx; i++)
        hx[i] = (float)((xfer_splitmix64(i) >> 40) * (1.0 / 16777216.0) - 0.5);
    for (int i = 0; i < n; i++)
        hl[i] = i % 102;
    float *x = rc ? NULL : b->alloc(b, nx * sizeof(float), "bench input", &e);
    int32_t *lab = x ? b->alloc(b, n * sizeof(int32_t), "bench labels", &e) : NULL;
    if (!lab) rc = 1;
    xfer_sgd_config opt = {.lr = 0.01f, .momentum = 0.9f, .weight_decay = 1e-4f};
    double train[5], infer[5];
    float loss;
    int correct;
    if (!rc) {
        b->upload(b, x, hx, nx * sizeof(float));
        b->upload(b, lab, hl, n * sizeof(int32_t));
        for (int i = 0; i < 3 && !rc; i++)
            rc = xfer_model_train_step(m, &opt, x, lab, n, 224, 224, &loss, &correct, &e);
        for (int r = 0; r < 5 && !rc; r++) {
            double t0 = now();
            for (int i = 0; i < steps && !rc; i++)
                rc = xfer_model_train_step(m, &opt, x, lab, n, 224, 224, &loss, &correct, &e);
            rc = rc || b->sync(b, &e);
            train[r] = (double)n * steps / (now() - t0);
        }
        for (int r = 0; r < 5 && !rc; r++) {
            double t0 = now();
            for (int i = 0; i < steps && !rc; i++)
                rc = xfer_model_forward(m, x, n, 224, 224, 0, &e);
            rc = rc || b->sync(b, &e);
            infer[r] = (double)n * steps / (now() - t0);
        }
    }
    if (rc) {
        fprintf(stderr, "bench %s b%d %s: %s\n", argv[1], n, argv[3], e.msg);
    } else {
        qsort(train, 5, sizeof(double), cmp);
        qsort(infer, 5, sizeof(double), cmp);
        printf("bench %s %s b%d %s train %.0f infer %.0f img/s (loss %.4f)\n",
               xfer_cuda_device_name(b), argv[1], n, argv[3], train[2], infer[2], loss);
    }
    if (x) b->free(b, x);
    if (lab) b->free(b, lab);
    free(hx);
    free(hl);
    xfer_model_free(m);
    xfer_backend_release(b);
    return rc ? 1 : 0;
}
