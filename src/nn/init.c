/* torchvision's initialisation, from a seed (values differ from torch's RNG, the distributions
 * are the same):
 *   ResNet, MobileNetV2, MNASNet convolutions: kaiming_normal_(mode="fan_out",
 *       nonlinearity="relu"): N(0, 2 / (out_channels * kh * kw)); conv biases 0
 *   DenseNet convolutions: kaiming_normal_ (fan_in): N(0, 2 / (in_channels/groups * kh * kw))
 *   GoogLeNet convolutions and Linear weights: trunc_normal_(std 0.01, a=-2, b=2);
 *   Inception-v3: the same with std 0.1 (torchvision's default stddev)
 *   AlexNet convolutions and the other Linears: torch's default reset_parameters():
 *       weight U(-1/sqrt(fan_in), 1/sqrt(fan_in))  (kaiming_uniform_ with a = sqrt(5))
 *       bias   U(-1/sqrt(fan_in), 1/sqrt(fan_in))
 *   except: MobileNetV2's Linear N(0, 0.01), MNASNet's kaiming_uniform_(fan_out, "sigmoid"):
 *       U(+-sqrt(3 / out_features)), both with bias 0; DenseNet's Linear bias 0.
 *   BatchNorm: weight 1, bias 0, running_mean 0, running_var 1.
 * Each tensor draws from its own stream seeded by (seed, tensor name), so re-initialising one
 * tensor (the head) never depends on the others. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

typedef struct {
    uint64_t s;
} rng;

static uint64_t next(rng *r) {
    r->s += 0x9E3779B97F4A7C15ull;
    return xfer_splitmix64(r->s);
}

static double uniform01(rng *r) { /* (0, 1) */
    return ((double)(next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static uint64_t name_hash(const char *s) { /* FNV-1a */
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* fan_in of the layer that owns tensor i: the weight's numel / out_features */
static double fan_in_of(const xfer_model *m, int i) {
    const xfer_tensor_info *t = &m->tensors[i];
    if (ends_with(t->name, ".bias")) t = &m->tensors[i - 1]; /* the weight precedes its bias */
    return (double)t->numel / (double)t->shape[0];
}

static double normal(rng *r) { /* Box-Muller */
    double u1 = uniform01(r), u2 = uniform01(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static void fill_normal(rng *r, float *out, size_t n, double sd, double limit) {
    for (size_t j = 0; j < n; j++) {
        double v;
        do
            v = sd * normal(r);
        while (limit > 0 && fabs(v) > limit); /* trunc_normal_: redraw outside [-limit, limit] */
        out[j] = (float)v;
    }
}

static void fill_uniform(rng *r, float *out, size_t n, double bound) {
    for (size_t j = 0; j < n; j++)
        out[j] = (float)((2.0 * uniform01(r) - 1.0) * bound);
}

static void fill_const(float *out, size_t n, float v) {
    for (size_t j = 0; j < n; j++)
        out[j] = v;
}

typedef enum { FAMILY_ALEXNET, FAMILY_FANOUT, FAMILY_DENSENET, FAMILY_TRUNC } family;

static family family_of(xfer_arch a) {
    switch (a) {
    case XFER_ARCH_ALEXNET:
        return FAMILY_ALEXNET;
    case XFER_ARCH_DENSENET121:
    case XFER_ARCH_DENSENET169:
    case XFER_ARCH_DENSENET201:
        return FAMILY_DENSENET;
    case XFER_ARCH_GOOGLENET:
    case XFER_ARCH_INCEPTION_V3:
        return FAMILY_TRUNC;
    default:
        return FAMILY_FANOUT;
    }
}

/* A Linear's weight or bias (the classifier of every arch, AlexNet's hidden layers). */
static void init_linear(const xfer_model *m, int i, rng *r, float *out) {
    const xfer_tensor_info *t = &m->tensors[i];
    const xfer_arch a = m->cfg.arch;
    const int is_bias = t->ndim == 1;
    if (a == XFER_ARCH_MOBILENET_V2) {
        if (is_bias)
            fill_const(out, t->numel, 0.0f);
        else
            fill_normal(r, out, t->numel, 0.01, 0);
    } else if (a == XFER_ARCH_MNASNET1_0) {
        if (is_bias)
            fill_const(out, t->numel, 0.0f);
        else
            fill_uniform(r, out, t->numel, sqrt(3.0 / (double)t->shape[0]));
    } else if (family_of(a) == FAMILY_DENSENET && is_bias) {
        fill_const(out, t->numel, 0.0f);
    } else if (family_of(a) == FAMILY_TRUNC && !is_bias) {
        fill_normal(r, out, t->numel, a == XFER_ARCH_GOOGLENET ? 0.01 : 0.1, 2.0);
    } else {
        fill_uniform(r, out, t->numel, 1.0 / sqrt(fan_in_of(m, i)));
    }
}

void nn_init_tensor(xfer_model *m, int i, float *out) {
    const xfer_tensor_info *t = &m->tensors[i];
    rng r = {m->cfg.seed ^ name_hash(t->name)};
    const family fam = family_of(m->cfg.arch);
    const int owner_ndim = ends_with(t->name, ".bias") && i > 0 ? m->tensors[i - 1].ndim : t->ndim;
    if (ends_with(t->name, "running_var")) {
        for (size_t j = 0; j < t->numel; j++)
            out[j] = 1.0f;
    } else if (ends_with(t->name, "running_mean")) {
        memset(out, 0, sizeof(float) * t->numel);
    } else if (owner_ndim == 1) { /* BatchNorm weight / bias */
        fill_const(out, t->numel, ends_with(t->name, ".weight") ? 1.0f : 0.0f);
    } else if (owner_ndim == 2) {
        init_linear(m, i, &r, out);
    } else if (fam == FAMILY_ALEXNET) {
        fill_uniform(&r, out, t->numel, 1.0 / sqrt(fan_in_of(m, i)));
    } else if (t->ndim == 1) { /* a convolution's bias (none of these archs has one) */
        fill_const(out, t->numel, 0.0f);
    } else if (fam == FAMILY_TRUNC) {
        fill_normal(&r, out, t->numel, m->cfg.arch == XFER_ARCH_GOOGLENET ? 0.01 : 0.1, 2.0);
    } else {
        double fan = fam == FAMILY_DENSENET ? (double)t->shape[1] * t->shape[2] * t->shape[3]
                                            : (double)t->shape[0] * t->shape[2] * t->shape[3];
        fill_normal(&r, out, t->numel, sqrt(2.0 / fan), 0);
    }
}

int nn_init_all(xfer_model *m, xfer_err *err) {
    size_t biggest = 1;
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].numel > biggest) biggest = m->tensors[i].numel;
    float *host = malloc(sizeof(float) * biggest);
    if (!host) return xfer_fail(err, XFER_EINTERNAL, "out of memory initialising the model");
    int rc = XFER_OK;
    for (int i = 0; i < m->n_tensors && !rc; i++) {
        nn_init_tensor(m, i, host);
        rc = xfer_model_set_tensor(m, i, 0, host, m->tensors[i].numel, err);
    }
    free(host);
    return rc;
}

void xfer_model_reset_head(xfer_model *m) {
    int ids[2] = {m->head_w, m->head_b};
    for (int j = 0; j < 2; j++) {
        const xfer_tensor_info *t = &m->tensors[ids[j]];
        float *host = malloc(sizeof(float) * t->numel);
        if (!host) continue;
        nn_init_tensor(m, ids[j], host);
        xfer_err e;
        xfer_err_clear(&e);
        xfer_model_set_tensor(m, ids[j], 0, host, t->numel, &e);
        free(host);
    }
}
