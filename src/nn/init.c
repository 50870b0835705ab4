/* torchvision's initialisation, from a seed (values differ from torch's RNG, the distributions
 * are the same):
 *   ResNet convolutions: kaiming_normal_(mode="fan_out", nonlinearity="relu"):
 *       N(0, 2 / (out_channels * kh * kw))
 *   AlexNet convolutions and every Linear: torch's default reset_parameters():
 *       weight U(-1/sqrt(fan_in), 1/sqrt(fan_in))  (kaiming_uniform_ with a = sqrt(5))
 *       bias   U(-1/sqrt(fan_in), 1/sqrt(fan_in))
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

void nn_init_tensor(xfer_model *m, int i, float *out) {
    const xfer_tensor_info *t = &m->tensors[i];
    rng r = {m->cfg.seed ^ name_hash(t->name)};
    int is_resnet = m->cfg.arch != XFER_ARCH_ALEXNET;
    if (ends_with(t->name, "running_var")) {
        for (size_t j = 0; j < t->numel; j++)
            out[j] = 1.0f;
    } else if (ends_with(t->name, "running_mean")) {
        memset(out, 0, sizeof(float) * t->numel);
    } else if (t->ndim == 1 &&
               !(i > 0 && m->tensors[i - 1].ndim >= 2 && ends_with(t->name, ".bias"))) {
        /* BatchNorm weight / bias */
        float v = ends_with(t->name, ".weight") ? 1.0f : 0.0f;
        for (size_t j = 0; j < t->numel; j++)
            out[j] = v;
    } else if (t->ndim == 4 && is_resnet) {
        double fan_out = (double)t->shape[0] * t->shape[2] * t->shape[3];
        double sd = sqrt(2.0 / fan_out);
        for (size_t j = 0; j < t->numel; j++) { /* Box-Muller */
            double u1 = uniform01(&r), u2 = uniform01(&r);
            out[j] = (float)(sd * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
        }
    } else {
        double bound = 1.0 / sqrt(fan_in_of(m, i));
        for (size_t j = 0; j < t->numel; j++)
            out[j] = (float)((2.0 * uniform01(&r) - 1.0) * bound);
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
