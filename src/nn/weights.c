/* Loading weights by torchvision / timm state_dict name, and checkpoints (parameters, BN buffers,
 * SGD momentum and the dropout RNG counter, with metadata; keys in include/xfer/nn.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "model_internal.h"
#include "xfer/log.h"
#include "xfer/safetensors.h"

/* At most this many names are listed per kind of problem (the rest are counted). */
#define LIST_MAX 32

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int starts_with(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < ndim && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

static int same_shape(const xfer_st_tensor *f, const xfer_tensor_info *t) {
    if (f->ndim != t->ndim) return 0;
    for (int d = 0; d < t->ndim; d++)
        if (f->shape[d] != t->shape[d]) return 0;
    return 1;
}

/* Only the class count (first dimension) differs. */
static int head_class_mismatch(const xfer_st_tensor *f, const xfer_tensor_info *t) {
    if (f->ndim != t->ndim) return 0;
    for (int d = 1; d < t->ndim; d++)
        if (f->shape[d] != t->shape[d]) return 0;
    return f->shape[0] != t->shape[0];
}

typedef struct {
    char text[XFER_ERR_MSG_MAX];
    size_t len;
    int count;
} name_list;

static void list_add(name_list *l, const char *fmt, const char *a, const char *b, const char *c) {
    if (l->count++ >= LIST_MAX) return;
    if (l->len < sizeof l->text)
        l->len += (size_t)snprintf(l->text + l->len, sizeof l->text - l->len, fmt, a, b, c);
}

static void report(xfer_err *err, const char *what, const name_list *l) {
    if (!l->count) return;
    xfer_err_append(err, "%d %s:%s%s", l->count, what, l->text, l->count > LIST_MAX ? " ..." : "");
}

static int load_tensor(xfer_model *m, const xfer_safetensors *st, const xfer_st_tensor *f, int i,
                       int which, float *host, xfer_err *err) {
    int rc = xfer_st_read_f32(st, f, host, (size_t)f->numel, err);
    if (rc) return rc;
    size_t bad = 0;
    for (int64_t j = 0; j < f->numel; j++)
        bad += !isfinite(host[j]);
    if (bad) xfer_warn("%s: %s has %zu NaN/Inf values", st->path, f->name, bad);
    return xfer_model_set_tensor(m, i, which, host, (size_t)f->numel, err);
}

/* GoogLeNet's aux1/aux2 and Inception-v3's AuxLogits heads: in the published checkpoints, not in
 * the model (fine-tuning does not use them, as torchvision's aux_logits=False). */
static int is_aux_head(const xfer_model *m, const char *name) {
    if (m->cfg.arch == XFER_ARCH_GOOGLENET)
        return starts_with(name, "aux1.") || starts_with(name, "aux2.");
    return m->cfg.arch == XFER_ARCH_INCEPTION_V3 && starts_with(name, "AuxLogits.");
}

/* strict: a checkpoint of this very model (no head skipping, momentum.* expected when started) */
static int load_named(xfer_model *m, const xfer_safetensors *st, int strict, xfer_err *err) {
    name_list missing = {0}, unexpected = {0}, mismatched = {0};
    int head_skip = 0, aux = 0;
    char fs[96], ms[96];
    for (int i = 0; i < m->n_tensors; i++) {
        const xfer_tensor_info *t = &m->tensors[i];
        const xfer_st_tensor *f = xfer_st_find(st, t->name);
        if (!f) {
            list_add(&missing, " %s%s%s", t->name, "", "");
        } else if (!same_shape(f, t)) {
            if (!strict && (i == m->head_w || i == m->head_b) && head_class_mismatch(f, t)) {
                head_skip = 1;
                continue;
            }
            shape_str(fs, sizeof fs, f->ndim, f->shape);
            shape_str(ms, sizeof ms, t->ndim, t->shape);
            list_add(&mismatched, " %s (file %s, model %s)", t->name, fs, ms);
        }
    }
    for (int j = 0; j < st->n_tensors; j++) {
        const char *name = st->tensors[j].name;
        if (ends_with(name, "num_batches_tracked")) continue;
        if (starts_with(name, XFER_CKPT_MOMENTUM_PREFIX)) continue; /* checked below */
        if (!strict && is_aux_head(m, name)) {
            aux++;
            continue;
        }
        if (xfer_model_find(m, name) < 0) list_add(&unexpected, " %s%s%s", name, "", "");
    }
    if (missing.count || unexpected.count || mismatched.count) {
        xfer_fail(err, XFER_EINPUT,
                  "%s: the weights do not fit %s (width %g, %d classes):", st->path,
                  xfer_arch_name(m->cfg.arch), m->cfg.width, m->cfg.num_classes);
        report(err, "missing keys", &missing);
        report(err, "unexpected keys", &unexpected);
        report(err, "shape mismatches", &mismatched);
        return err->code;
    }
    size_t biggest = 1;
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].numel > biggest) biggest = m->tensors[i].numel;
    float *host = malloc(sizeof(float) * biggest);
    if (!host) return xfer_fail(err, XFER_EINTERNAL, "out of memory loading %s", st->path);
    int rc = XFER_OK;
    for (int i = 0; i < m->n_tensors && !rc; i++) {
        if (head_skip && (i == m->head_w || i == m->head_b)) continue;
        rc = load_tensor(m, st, xfer_st_find(st, m->tensors[i].name), i, 0, host, err);
    }
    if (aux)
        xfer_note("%s: %d tensors of the auxiliary heads skipped (not used in fine-tuning)",
                  st->path, aux);
    if (head_skip) {
        const xfer_st_tensor *f = xfer_st_find(st, m->tensors[m->head_w].name);
        xfer_note("%s: head %s has %lld classes, the task has %d: head re-initialised", st->path,
                  m->tensors[m->head_w].name, (long long)f->shape[0], m->cfg.num_classes);
        xfer_model_reset_head(m);
    }
    if (strict && !rc) {
        const char *started = xfer_st_meta(st, XFER_CKPT_SGD_STARTED);
        m->sgd_started = started && strcmp(started, "1") == 0;
        for (int i = 0; i < m->n_tensors && !rc && m->sgd_started; i++) {
            if (m->tensors[i].kind != XFER_TENSOR_PARAM) continue;
            char key[XFER_TENSOR_NAME_MAX + 16];
            snprintf(key, sizeof key, "%s%s", XFER_CKPT_MOMENTUM_PREFIX, m->tensors[i].name);
            const xfer_st_tensor *f = xfer_st_find(st, key);
            if (!f || !same_shape(f, &m->tensors[i]))
                rc = xfer_fail(err, XFER_EINPUT, "%s: %s is %s", st->path, key,
                               f ? "of the wrong shape" : "missing");
            else
                rc = load_tensor(m, st, f, i, 2, host, err);
        }
    }
    free(host);
    return rc;
}

int xfer_model_load_weights(xfer_model *m, const char *path, xfer_err *err) {
    xfer_safetensors st;
    int rc = xfer_st_open(path, &st, err);
    if (rc) return rc;
    rc = load_named(m, &st, 0, err);
    xfer_st_close(&st);
    return rc;
}

static int meta_u64(const xfer_safetensors *st, const char *key, unsigned long long *out) {
    const char *v = xfer_st_meta(st, key);
    if (!v) return 0;
    char *end;
    *out = strtoull(v, &end, 10);
    return *end == '\0' && end != v;
}

int xfer_model_load_checkpoint(xfer_model *m, const char *path, int *epoch, xfer_err *err) {
    xfer_safetensors st;
    int rc = xfer_st_open(path, &st, err);
    if (rc) return rc;
    const char *arch = xfer_st_meta(&st, XFER_CKPT_ARCH);
    if (arch && strcmp(arch, xfer_arch_name(m->cfg.arch)) != 0) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: checkpoint of %s, the model is %s", path, arch,
                       xfer_arch_name(m->cfg.arch));
    } else {
        rc = load_named(m, &st, 1, err);
    }
    unsigned long long v;
    if (!rc && meta_u64(&st, XFER_CKPT_RNG, &v)) m->rng_counter = v;
    if (!rc && meta_u64(&st, XFER_CKPT_SEED, &v)) m->cfg.seed = v; /* the dropout stream */
    if (epoch) *epoch = !rc && meta_u64(&st, XFER_CKPT_EPOCH, &v) ? (int)v : -1;
    xfer_st_close(&st);
    return rc;
}

static int add_meta_num(xfer_st_writer *w, const char *key, const char *fmt, double v,
                        xfer_err *err) {
    char buf[64];
    snprintf(buf, sizeof buf, fmt, v);
    return xfer_st_writer_meta(w, key, buf, err);
}

int xfer_model_save_checkpoint(xfer_model *m, const char *path, const char *const *class_names,
                               int epoch, xfer_err *err) {
    xfer_st_writer *w = xfer_st_writer_new();
    size_t biggest = 1;
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].numel > biggest) biggest = m->tensors[i].numel;
    float *host = malloc(sizeof(float) * biggest);
    if (!w || !host) {
        xfer_st_writer_free(w);
        free(host);
        return xfer_fail(err, XFER_EINTERNAL, "out of memory saving %s", path);
    }
    int rc = XFER_OK;
    for (int i = 0; i < m->n_tensors && !rc; i++) {
        const xfer_tensor_info *t = &m->tensors[i];
        rc = xfer_model_get_tensor(m, i, 0, host, t->numel, err);
        if (!rc) rc = xfer_st_writer_add(w, t->name, XFER_DT_F32, t->ndim, t->shape, host, err);
        if (rc || t->kind != XFER_TENSOR_PARAM || !m->sgd_started) continue;
        char key[XFER_TENSOR_NAME_MAX + 16];
        snprintf(key, sizeof key, "%s%s", XFER_CKPT_MOMENTUM_PREFIX, t->name);
        rc = xfer_model_get_tensor(m, i, 2, host, t->numel, err);
        if (!rc) rc = xfer_st_writer_add(w, key, XFER_DT_F32, t->ndim, t->shape, host, err);
    }
    char buf[64];
    if (!rc) rc = xfer_st_writer_meta(w, XFER_CKPT_ARCH, xfer_arch_name(m->cfg.arch), err);
    if (!rc) rc = add_meta_num(w, XFER_CKPT_WIDTH, "%.17g", m->cfg.width, err);
    if (!rc) rc = add_meta_num(w, XFER_CKPT_CLASSES, "%.0f", m->cfg.num_classes, err);
    if (!rc) rc = add_meta_num(w, XFER_CKPT_EPOCH, "%.0f", epoch, err);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)m->cfg.seed);
    if (!rc) rc = xfer_st_writer_meta(w, XFER_CKPT_SEED, buf, err);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)m->rng_counter);
    if (!rc) rc = xfer_st_writer_meta(w, XFER_CKPT_RNG, buf, err);
    if (!rc) rc = xfer_st_writer_meta(w, XFER_CKPT_SGD_STARTED, m->sgd_started ? "1" : "0", err);
    if (!rc && class_names) {
        cJSON *arr = cJSON_CreateArray();
        for (int i = 0; arr && i < m->cfg.num_classes; i++)
            cJSON_AddItemToArray(arr, cJSON_CreateString(class_names[i] ? class_names[i] : ""));
        char *s = arr ? cJSON_PrintUnformatted(arr) : NULL;
        rc = s ? xfer_st_writer_meta(w, XFER_CKPT_CLASS_NAMES, s, err)
               : xfer_fail(err, XFER_EINTERNAL, "out of memory saving %s", path);
        cJSON_free(s);
        cJSON_Delete(arr);
    }
    if (!rc) rc = xfer_st_writer_save(w, path, err);
    xfer_st_writer_free(w);
    free(host);
    return rc;
}
