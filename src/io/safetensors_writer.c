/* safetensors writer: tensors in insertion order, a header padded with spaces so that the buffer
 * starts at a multiple of 8 bytes (as the reference implementation does, which keeps every F32/F64
 * tensor aligned when the offsets are), saved atomically through PATH.tmp.<pid>, fsync, rename. */
#include "xfer/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *name;
    xfer_dtype dtype;
    int ndim;
    int64_t shape[XFER_ST_MAX_DIMS];
    void *data;
    size_t nbytes;
} entry;

struct xfer_st_writer {
    entry *e;
    int n, cap;
    char **keys, **values;
    int n_meta, cap_meta;
};

xfer_st_writer *xfer_st_writer_new(void) {
    return calloc(1, sizeof(xfer_st_writer));
}

void xfer_st_writer_free(xfer_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) {
        free(w->e[i].name);
        free(w->e[i].data);
    }
    free(w->e);
    for (int i = 0; i < w->n_meta; i++) {
        free(w->keys[i]);
        free(w->values[i]);
    }
    free(w->keys);
    free(w->values);
    free(w);
}

int xfer_st_writer_add(xfer_st_writer *w, const char *name, xfer_dtype dtype, int ndim,
                       const int64_t *shape, const void *data, xfer_err *err) {
    if (!name || !*name || strcmp(name, "__metadata__") == 0)
        return xfer_fail(err, XFER_EINTERNAL, "safetensors writer: invalid tensor name '%s'",
                         name ? name : "(null)");
    size_t esz = xfer_dtype_size(dtype);
    if (esz == 0)
        return xfer_fail(err, XFER_EINTERNAL, "safetensors writer: tensor '%s': bad dtype %d", name,
                         (int)dtype);
    if (ndim < 0 || ndim > XFER_ST_MAX_DIMS)
        return xfer_fail(err, XFER_EINTERNAL, "safetensors writer: tensor '%s': %d dimensions",
                         name, ndim);
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->e[i].name, name) == 0)
            return xfer_fail(err, XFER_EINTERNAL, "safetensors writer: duplicate tensor '%s'",
                             name);
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] > 0 && numel > (SIZE_MAX / esz) / (size_t)shape[i]))
            return xfer_fail(err, XFER_EINTERNAL,
                             "safetensors writer: tensor '%s': bad shape[%d] = %lld", name, i,
                             (long long)shape[i]);
        numel *= (size_t)shape[i];
    }
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        entry *e = realloc(w->e, (size_t)cap * sizeof *e);
        if (!e) return xfer_fail(err, XFER_EINTERNAL, "safetensors writer: out of memory");
        w->e = e;
        w->cap = cap;
    }
    entry *e = &w->e[w->n];
    memset(e, 0, sizeof *e);
    e->name = strdup(name);
    e->dtype = dtype;
    e->ndim = ndim;
    if (ndim > 0) memcpy(e->shape, shape, (size_t)ndim * sizeof *shape);
    e->nbytes = numel * esz;
    e->data = malloc(e->nbytes ? e->nbytes : 1);
    if (!e->name || !e->data) {
        free(e->name);
        free(e->data);
        return xfer_fail(err, XFER_EINTERNAL, "safetensors writer: out of memory for '%s'", name);
    }
    if (e->nbytes) memcpy(e->data, data, e->nbytes);
    w->n++;
    return XFER_OK;
}

/* A key set twice keeps the last value (callers may update e.g. the epoch). */
int xfer_st_writer_meta(xfer_st_writer *w, const char *key, const char *value, xfer_err *err) {
    if (!key || !value) return xfer_fail(err, XFER_EINTERNAL, "safetensors writer: null metadata");
    char *v = strdup(value);
    if (!v) return xfer_fail(err, XFER_EINTERNAL, "safetensors writer: out of memory");
    for (int i = 0; i < w->n_meta; i++)
        if (strcmp(w->keys[i], key) == 0) {
            free(w->values[i]);
            w->values[i] = v;
            return XFER_OK;
        }
    if (w->n_meta == w->cap_meta) {
        int cap = w->cap_meta ? 2 * w->cap_meta : 8;
        char **k = realloc(w->keys, (size_t)cap * sizeof *k);
        if (k) w->keys = k;
        char **vv = k ? realloc(w->values, (size_t)cap * sizeof *vv) : NULL;
        if (vv) w->values = vv;
        if (!k || !vv) {
            free(v);
            return xfer_fail(err, XFER_EINTERNAL, "safetensors writer: out of memory");
        }
        w->cap_meta = cap;
    }
    w->keys[w->n_meta] = strdup(key);
    if (!w->keys[w->n_meta]) {
        free(v);
        return xfer_fail(err, XFER_EINTERNAL, "safetensors writer: out of memory");
    }
    w->values[w->n_meta++] = v;
    return XFER_OK;
}

/* The header JSON (unpadded), or NULL when out of memory. */
static char *header_json(const xfer_st_writer *w) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    int ok = 1;
    if (w->n_meta > 0) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        ok = m != NULL;
        for (int i = 0; ok && i < w->n_meta; i++)
            ok = cJSON_AddStringToObject(m, w->keys[i], w->values[i]) != NULL;
    }
    uint64_t off = 0;
    for (int i = 0; ok && i < w->n; i++) {
        const entry *e = &w->e[i];
        cJSON *t = cJSON_AddObjectToObject(root, e->name);
        cJSON *shape = t ? cJSON_AddArrayToObject(t, "shape") : NULL;
        cJSON *offs = NULL;
        ok = t && cJSON_AddStringToObject(t, "dtype", xfer_dtype_name(e->dtype)) && shape;
        for (int d = 0; ok && d < e->ndim; d++) {
            cJSON *v = cJSON_CreateNumber((double)e->shape[d]);
            ok = v && cJSON_AddItemToArray(shape, v);
        }
        if (ok) offs = cJSON_AddArrayToObject(t, "data_offsets");
        ok = ok && offs;
        cJSON *b = ok ? cJSON_CreateNumber((double)off) : NULL;
        ok = ok && b && cJSON_AddItemToArray(offs, b);
        off += e->nbytes;
        cJSON *en = ok ? cJSON_CreateNumber((double)off) : NULL;
        ok = ok && en && cJSON_AddItemToArray(offs, en);
    }
    char *s = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return s;
}

static int write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int xfer_st_writer_save(xfer_st_writer *w, const char *path, xfer_err *err) {
    char *json = header_json(w);
    if (!json) return xfer_fail(err, XFER_EINTERNAL, "%s: out of memory for the header", path);
    size_t len = strlen(json), padded = (len + 7) / 8 * 8;
    unsigned char *head = malloc(8 + padded);
    if (!head) {
        free(json);
        return xfer_fail(err, XFER_EINTERNAL, "%s: out of memory for the header", path);
    }
    for (int i = 0; i < 8; i++)
        head[i] = (unsigned char)(((uint64_t)padded >> (8 * i)) & 0xffu);
    memcpy(head + 8, json, len);
    memset(head + 8 + len, ' ', padded - len);
    free(json);

    size_t tlen = strlen(path) + 32;
    char *tmp = malloc(tlen);
    if (!tmp) {
        free(head);
        return xfer_fail(err, XFER_EINTERNAL, "%s: out of memory", path);
    }
    snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());
    int rc = XFER_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: cannot create: %s", tmp, strerror(errno));
        goto out;
    }
    int bad = write_all(fd, head, 8 + padded);
    for (int i = 0; !bad && i < w->n; i++)
        bad = write_all(fd, w->e[i].data, w->e[i].nbytes);
    if (!bad) bad = fsync(fd);
    int saved = errno;
    if (close(fd) != 0 && !bad) bad = 1, saved = errno;
    if (bad) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: write failed: %s", tmp, strerror(saved));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: cannot rename %s over it: %s", path, tmp,
                       strerror(errno));
        unlink(tmp);
    }
out:
    free(tmp);
    free(head);
    return rc;
}
