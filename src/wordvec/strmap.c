#include "strmap.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_bytes(const char *s, size_t len) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

int xfer_strmap_init(xfer_strmap *m, size_t expected) {
    size_t cap = 16;
    while (cap < 2 * expected + 1)
        cap *= 2;
    m->keys = calloc(cap, sizeof *m->keys);
    m->values = calloc(cap, sizeof *m->values);
    m->cap = cap;
    m->n = 0;
    if (!m->keys || !m->values) {
        xfer_strmap_free(m);
        return -1;
    }
    return 0;
}

void xfer_strmap_free(xfer_strmap *m) {
    free(m->keys);
    free(m->values);
    m->keys = NULL;
    m->values = NULL;
    m->cap = m->n = 0;
}

static int grow(xfer_strmap *m) {
    xfer_strmap bigger;
    if (xfer_strmap_init(&bigger, m->cap) != 0) return -1;
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) xfer_strmap_put(&bigger, m->keys[i], m->values[i]);
    xfer_strmap_free(m);
    *m = bigger;
    return 0;
}

int32_t xfer_strmap_put(xfer_strmap *m, const char *key, int32_t value) {
    if (2 * (m->n + 1) > m->cap && grow(m) != 0) return INT32_MIN;
    size_t len = strlen(key);
    size_t i = (size_t)hash_bytes(key, len) & (m->cap - 1);
    while (m->keys[i]) {
        if (strcmp(m->keys[i], key) == 0) return m->values[i];
        i = (i + 1) & (m->cap - 1);
    }
    m->keys[i] = key;
    m->values[i] = value;
    m->n++;
    return value;
}

int32_t xfer_strmap_getn(const xfer_strmap *m, const char *key, size_t len) {
    if (m->cap == 0) return -1;
    size_t i = (size_t)hash_bytes(key, len) & (m->cap - 1);
    while (m->keys[i]) {
        if (strncmp(m->keys[i], key, len) == 0 && m->keys[i][len] == '\0') return m->values[i];
        i = (i + 1) & (m->cap - 1);
    }
    return -1;
}

int32_t xfer_strmap_get(const xfer_strmap *m, const char *key) {
    return xfer_strmap_getn(m, key, strlen(key));
}
