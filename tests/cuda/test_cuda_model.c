/* Training steps of whole models on CUDA against the CPU backend: AlexNet (with dropout, whose
 * masks must agree) and ResNet-18, torchvision structure, 64x64 inputs, batch 8, 10 classes. The
 * CUDA model gets the CPU model's exact initial tensors; then step 1 (forward, backward) compares
 * logits, loss and every gradient, steps 2 and 3 run forward + backward + SGD (momentum, weight
 * decay, nesterov), and every parameter and BN buffer is compared after the three steps.
 * fp32: logits, loss <= 1e-4 relative, gradients and parameters <= 1e-3 (max-abs relative per
 * tensor); tf32 and bf16: the losses agree within 5e-3 and 3e-2. */
#include "cuda_test.h"
#include "xfer/nn.h"

#define N 8
#define HW 64
#define K 10

static void fail_on(int rc, const xfer_err *e, const char *what) {
    if (rc != XFER_OK) {
        fprintf(stderr, "%s: %s\n", what, e->msg);
        g_test_failures++;
    }
}

static float *tensor(xfer_model *m, int i, int which) {
    const xfer_tensor_info *t = xfer_model_tensor(m, i);
    float *h = malloc(sizeof(float) * t->numel);
    xfer_err e;
    xfer_err_clear(&e);
    fail_on(xfer_model_get_tensor(m, i, which, h, t->numel, &e), &e, t->name);
    return h;
}

static void compare_tensors(xfer_model *c, xfer_model *g, int which, double tol, const char *tag) {
    for (int i = 0; i < xfer_model_n_tensors(c); i++) {
        const xfer_tensor_info *t = xfer_model_tensor(c, i);
        if (which >= 1 && t->kind != XFER_TENSOR_PARAM) continue;
        float *a = tensor(c, i, which), *b = tensor(g, i, which);
        char what[160];
        snprintf(what, sizeof what, "%s %s", tag, t->name);
        CHECK_REL(what, b, a, t->numel, tol);
        free(a), free(b);
    }
}

static void run_arch(xfer_arch arch, xfer_backend *cpu, xfer_backend *gpu, xfer_precision prec) {
    xfer_err e;
    xfer_err_clear(&e);
    xfer_model_config cfg = {
        .arch = arch, .num_classes = K, .width = 1.0, .seed = 7, .dropout = 0.5f};
    xfer_model *mc = NULL, *mg = NULL;
    fail_on(xfer_model_create(&cfg, cpu, &mc, &e), &e, "cpu model");
    fail_on(xfer_model_create(&cfg, gpu, &mg, &e), &e, "cuda model");
    fail_on(xfer_cuda_set_precision(gpu, prec, &e), &e, "precision");
    if (!mc || !mg) return;
    for (int i = 0; i < xfer_model_n_tensors(mc); i++) { /* the same starting point */
        float *v = tensor(mc, i, 0);
        fail_on(xfer_model_set_tensor(mg, i, 0, v, xfer_model_tensor(mc, i)->numel, &e), &e,
                "set tensor");
        free(v);
    }
    size_t nx = (size_t)N * HW * HW * 3;
    float *x = rand_vec(nx, 1.5);
    int32_t lab[N];
    for (int i = 0; i < N; i++)
        lab[i] = (i * 7) % K;
    xfer_backend *bs[2] = {cpu, gpu};
    xfer_model *ms[2] = {mc, mg};
    float *X[2], *logits[2], loss[2][3];
    int32_t *L[2];
    int correct[2];
    xfer_sgd_config opt = {.lr = 0.01f, .momentum = 0.9f, .weight_decay = 5e-4f, .nesterov = 1};
    for (int k = 0; k < 2; k++) {
        X[k] = put(bs[k], x, nx * 4);
        L[k] = put(bs[k], lab, sizeof lab);
        logits[k] = malloc(sizeof(float) * N * K);
        fail_on(xfer_model_forward(ms[k], X[k], N, HW, HW, 1, &e), &e, "forward");
        get(bs[k], logits[k], xfer_model_logits(ms[k]), sizeof(float) * N * K);
        fail_on(xfer_model_backward(ms[k], L[k], &loss[k][0], &correct[k], &e), &e, "backward");
    }
    const char *pn = prec == XFER_PREC_FP32 ? "fp32" : prec == XFER_PREC_TF32 ? "tf32" : "bf16";
    char tag[64];
    snprintf(tag, sizeof tag, "%s %s", xfer_arch_name(arch), pn);
    if (prec == XFER_PREC_FP32) {
        char w[96];
        snprintf(w, sizeof w, "%s step-1 logits", tag);
        CHECK_REL(w, logits[1], logits[0], (size_t)N * K, 1e-4);
        snprintf(w, sizeof w, "%s step-1 grad", tag);
        compare_tensors(mc, mg, 1, 1e-3, w);
        CHECK(correct[0] == correct[1]);
    }
    for (int step = 1; step < 3; step++)
        for (int k = 0; k < 2; k++) {
            if (step == 1) fail_on(xfer_model_sgd_step(ms[k], &opt, &e), &e, "sgd");
            fail_on(xfer_model_train_step(ms[k], &opt, X[k], L[k], N, HW, HW, &loss[k][step],
                                          &correct[k], &e),
                    &e, "train step");
        }
    double ltol = prec == XFER_PREC_FP32 ? 1e-4 : prec == XFER_PREC_TF32 ? 5e-3 : 3e-2;
    for (int s = 0; s < 3; s++) {
        char w[96];
        snprintf(w, sizeof w, "%s loss step %d", tag, s + 1);
        CHECK_REL(w, &loss[1][s], &loss[0][s], 1, ltol);
    }
    if (prec == XFER_PREC_FP32) {
        char w[96];
        snprintf(w, sizeof w, "%s after 3 steps", tag);
        compare_tensors(mc, mg, 0, 1e-3, w);
        snprintf(w, sizeof w, "%s momentum after 3 steps", tag);
        compare_tensors(mc, mg, 2, 1e-3, w);
    }
    printf("%s: losses cpu %.6f %.6f %.6f, cuda %.6f %.6f %.6f\n", tag, loss[0][0], loss[0][1],
           loss[0][2], loss[1][0], loss[1][1], loss[1][2]);
    for (int k = 0; k < 2; k++) {
        bs[k]->free(bs[k], X[k]);
        bs[k]->free(bs[k], L[k]);
        free(logits[k]);
    }
    free(x);
    xfer_model_free(mc);
    xfer_model_free(mg);
    fail_on(xfer_cuda_set_precision(gpu, XFER_PREC_FP32, &e), &e, "precision");
}

int main(void) {
    need_cuda_device();
    xfer_err e;
    xfer_err_clear(&e);
    xfer_backend *cpu = xfer_backend_get(XFER_DEVICE_CPU, &e);
    xfer_backend *gpu = xfer_backend_get(XFER_DEVICE_CUDA, &e);
    if (!cpu || !gpu) {
        fprintf(stderr, "backend: %s\n", e.msg);
        return 1;
    }
    printf("device: %s\n", xfer_cuda_device_name(gpu));
    xfer_arch archs[2] = {XFER_ARCH_ALEXNET, XFER_ARCH_RESNET18};
    for (int a = 0; a < 2; a++)
        for (int p = 0; p < 3; p++)
            run_arch(archs[a], cpu, gpu, (xfer_precision)p);
    xfer_backend_release(gpu);
    xfer_backend_release(cpu);
    return test_summary();
}
