/* Model lifetime, the tensor table, and the ONE place where torch layout and the internal layout
 * meet (get/set tensor). */
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

static const char *const k_arch_names[XFER_ARCH_COUNT] = {
    "alexnet",     "resnet18",     "resnet34",    "resnet50",    "resnet101",
    "resnet152",   "mobilenet_v2", "mnasnet1_0",  "densenet121", "densenet169",
    "densenet201", "googlenet",    "inception_v3"};

int xfer_arch_parse(const char *s, xfer_arch *out, xfer_err *err) {
    for (int i = 0; i < XFER_ARCH_COUNT; i++)
        if (s && strcmp(s, k_arch_names[i]) == 0) {
            *out = (xfer_arch)i;
            return XFER_OK;
        }
    return xfer_fail(err, XFER_EINPUT, "unknown architecture '%s' (" XFER_ARCH_NAMES ")",
                     s ? s : "");
}

const char *xfer_arch_name(xfer_arch a) {
    return (int)a >= 0 && a < XFER_ARCH_COUNT ? k_arch_names[a] : "?";
}

const char *xfer_arch_head_weight(xfer_arch a) {
    switch (a) {
    case XFER_ARCH_ALEXNET:
        return "classifier.6.weight";
    case XFER_ARCH_MOBILENET_V2:
    case XFER_ARCH_MNASNET1_0:
        return "classifier.1.weight";
    case XFER_ARCH_DENSENET121:
    case XFER_ARCH_DENSENET169:
    case XFER_ARCH_DENSENET201:
        return "classifier.weight";
    default:
        return "fc.weight";
    }
}

int xfer_model_create(const xfer_model_config *cfg, xfer_backend *b, xfer_model **out,
                      xfer_err *err) {
    *out = NULL;
    if (cfg->num_classes < 1)
        return xfer_fail(err, XFER_EINPUT, "num_classes must be >= 1 (got %d)", cfg->num_classes);
    if (!(cfg->width > 0) || cfg->width > 16)
        return xfer_fail(err, XFER_EINPUT, "width must be in (0, 16] (got %g)", cfg->width);
    if (!(cfg->dropout >= 0.0f && cfg->dropout < 1.0f))
        return xfer_fail(err, XFER_EINPUT, "dropout must be in [0, 1) (got %g)", cfg->dropout);
    xfer_model *m = calloc(1, sizeof *m);
    if (!m) return xfer_fail(err, XFER_EINTERNAL, "out of memory creating the model");
    m->cfg = *cfg;
    m->b = b;
    int rc = nn_build(m, err);
    if (!rc) rc = nn_alloc_storage(m, err);
    if (!rc) rc = nn_init_all(m, err);
    if (rc) {
        xfer_model_free(m);
        return rc;
    }
    *out = m;
    return XFER_OK;
}

void xfer_model_free(xfer_model *m) {
    if (!m) return;
    nn_free_graph(m);
    free(m);
}

const xfer_model_config *xfer_model_config_of(const xfer_model *m) {
    return &m->cfg;
}
void xfer_model_set_seed(xfer_model *m, uint64_t seed) {
    m->cfg.seed = seed;
}
int xfer_model_n_tensors(const xfer_model *m) {
    return m->n_tensors;
}
const xfer_tensor_info *xfer_model_tensor(const xfer_model *m, int i) {
    return i >= 0 && i < m->n_tensors ? &m->tensors[i] : NULL;
}
size_t xfer_model_n_params(const xfer_model *m) {
    return m->n_params;
}
int xfer_model_feature_dim(const xfer_model *m) {
    return (int)m->tensors[m->head_w].shape[1];
}
void xfer_model_head(const xfer_model *m, int *weight, int *bias) {
    if (weight) *weight = m->head_w;
    if (bias) *bias = m->head_b;
}
int xfer_model_sgd_started(const xfer_model *m) {
    return m->sgd_started;
}
uint64_t xfer_model_rng_counter(const xfer_model *m) {
    return m->rng_counter;
}
void xfer_model_set_rng_counter(xfer_model *m, uint64_t counter) {
    m->rng_counter = counter;
}

int xfer_model_find(const xfer_model *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return i;
    return -1;
}

static float *storage(xfer_model *m, const xfer_tensor_info *t, int which) {
    if (t->kind == XFER_TENSOR_BUFFER) return which == 0 ? m->buffers + t->offset : NULL;
    float *base = which == 0 ? m->params : which == 1 ? m->grads : m->momentum;
    return base + t->offset;
}

/* torch [o][i][kh][kw] <-> internal [o][kh][kw][i] */
static void to_internal(const xfer_tensor_info *t, const float *src, float *dst) {
    const int I = t->perm_i, KH = t->perm_kh, KW = t->perm_kw;
    for (int o = 0; o < t->perm_o; o++)
        for (int i = 0; i < I; i++)
            for (int y = 0; y < KH; y++)
                for (int x = 0; x < KW; x++)
                    dst[(((size_t)o * KH + y) * KW + x) * I + i] =
                        src[(((size_t)o * I + i) * KH + y) * KW + x];
}

static void to_torch(const xfer_tensor_info *t, const float *src, float *dst) {
    const int I = t->perm_i, KH = t->perm_kh, KW = t->perm_kw;
    for (int o = 0; o < t->perm_o; o++)
        for (int i = 0; i < I; i++)
            for (int y = 0; y < KH; y++)
                for (int x = 0; x < KW; x++)
                    dst[(((size_t)o * I + i) * KH + y) * KW + x] =
                        src[(((size_t)o * KH + y) * KW + x) * I + i];
}

int xfer_model_get_tensor(xfer_model *m, int i, int which, float *host, size_t n, xfer_err *err) {
    if (i < 0 || i >= m->n_tensors)
        return xfer_fail(err, XFER_EINTERNAL, "no tensor with index %d", i);
    const xfer_tensor_info *t = &m->tensors[i];
    float *src = storage(m, t, which);
    if (!src || n != t->numel)
        return xfer_fail(err, XFER_EINTERNAL, "%s: bad get (which %d, %zu of %zu values)", t->name,
                         which, n, t->numel);
    if (!t->permute_ohwi) return m->b->download(m->b, host, src, sizeof(float) * n, err);
    float *tmp = malloc(sizeof(float) * n);
    if (!tmp) return xfer_fail(err, XFER_EINTERNAL, "out of memory reading %s", t->name);
    int rc = m->b->download(m->b, tmp, src, sizeof(float) * n, err);
    if (!rc) to_torch(t, tmp, host);
    free(tmp);
    return rc;
}

int xfer_model_set_tensor(xfer_model *m, int i, int which, const float *host, size_t n,
                          xfer_err *err) {
    if (i < 0 || i >= m->n_tensors)
        return xfer_fail(err, XFER_EINTERNAL, "no tensor with index %d", i);
    const xfer_tensor_info *t = &m->tensors[i];
    float *dst = storage(m, t, which);
    if (!dst || n != t->numel)
        return xfer_fail(err, XFER_EINTERNAL, "%s: bad set (which %d, %zu of %zu values)", t->name,
                         which, n, t->numel);
    if (!t->permute_ohwi) {
        m->b->upload(m->b, dst, host, sizeof(float) * n);
        return m->b->check(m->b, err);
    }
    float *tmp = malloc(sizeof(float) * n);
    if (!tmp) return xfer_fail(err, XFER_EINTERNAL, "out of memory writing %s", t->name);
    to_internal(t, host, tmp);
    m->b->upload(m->b, dst, tmp, sizeof(float) * n);
    free(tmp); /* upload copies synchronously from the host's point of view */
    return m->b->check(m->b, err);
}
