/* A string → int map (open addressing, FNV-1a) for dictionaries of up to a few million words.
 * Keys are borrowed, not copied: they must outlive the map. Internal to src/wordvec. */
#ifndef XFER_WORDVEC_STRMAP_H
#define XFER_WORDVEC_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char **keys;
    int32_t *values;
    size_t cap; /* a power of two, at least twice the number of keys */
    size_t n;
} xfer_strmap;

/* 0 on success, -1 when out of memory. */
int xfer_strmap_init(xfer_strmap *m, size_t expected);
void xfer_strmap_free(xfer_strmap *m);
/* Inserts or keeps the existing value; returns the value now stored, or INT32_MIN when out of
 * memory. */
int32_t xfer_strmap_put(xfer_strmap *m, const char *key, int32_t value);
/* The value of key, or -1 when absent. */
int32_t xfer_strmap_get(const xfer_strmap *m, const char *key);
/* The same for a key given by pointer and length (not NUL-terminated). */
int32_t xfer_strmap_getn(const xfer_strmap *m, const char *key, size_t len);

#endif
