/* fastText .vec reader: streamed line by line, keeping only the requested words, so that a
 * 2M-word 300-d file (4.5 GB) costs the memory of the words asked for. */
#include "xfer/wordvec.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

#define VEC_MAX_DIM (1 << 16)

/* Parses "count dim" from the first line. */
static int parse_header(const char *path, const char *line, int *dim, xfer_err *err) {
    long long count = 0, d = 0;
    char extra;
    if (sscanf(line, "%lld %lld %c", &count, &d, &extra) != 2 || count < 0 || d <= 0 ||
        d > VEC_MAX_DIM)
        return xfer_fail(err, XFER_EINPUT,
                         "%s:1: expected the .vec header \"COUNT DIM\" (DIM 1..%d), got \"%.60s\"",
                         path, VEC_MAX_DIM, line);
    *dim = (int)d;
    return XFER_OK;
}

/* Counts whitespace-separated fields after the word. */
static int count_values(const char *p) {
    int n = 0;
    while (*p) {
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p) break;
        n++;
        while (*p && !isspace((unsigned char)*p))
            p++;
    }
    return n;
}

static int parse_values(const char *path, long long lineno, const char *p, int dim, float *out,
                        xfer_err *err) {
    for (int j = 0; j < dim; j++) {
        char *end;
        errno = 0;
        float v = strtof(p, &end);
        if (end == p || (*end && !isspace((unsigned char)*end)))
            return xfer_fail(err, XFER_EINPUT, "%s:%lld: value %d is not a number", path, lineno,
                             j + 1);
        out[j] = v;
        p = end;
    }
    return XFER_OK;
}

int xfer_vec_lookup(const char *path, const char *const *words, int n_words, int *dim,
                    float **vectors, unsigned char *found, xfer_err *err) {
    *vectors = NULL;
    *dim = 0;
    memset(found, 0, (size_t)n_words);
    FILE *f = fopen(path, "r");
    if (!f) return xfer_fail(err, XFER_EINPUT, "%s: cannot open word vectors", path);
    xfer_strmap want;
    char *line = NULL;
    size_t cap = 0;
    int rc = XFER_OK;
    if (xfer_strmap_init(&want, (size_t)n_words) != 0) {
        fclose(f);
        return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    }
    int n_unique = 0;
    for (int i = 0; i < n_words; i++)
        if (xfer_strmap_put(&want, words[i], i) == i) n_unique++;
    ssize_t len = getline(&line, &cap, f);
    if (len < 0) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: empty file (expected a .vec header)", path);
        goto out;
    }
    if ((rc = parse_header(path, line, dim, err)) != XFER_OK) goto out;
    *vectors = calloc((size_t)n_words * (size_t)*dim + 1, sizeof(float));
    if (!*vectors) {
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory for %d vectors", n_words);
        goto out;
    }
    long long lineno = 1;
    int n_found = 0;
    while (n_found < n_unique && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
        if (len > 0 && line[len - 1] == '\r') line[--len] = '\0';
        /* fastText writes "word v1 ... vdim " (a trailing space); the word has no spaces. */
        size_t wl = strcspn(line, " \t");
        if (wl == 0 && len == 0) continue;
        int nv = count_values(line + wl);
        if (nv != *dim) {
            rc = xfer_fail(err, XFER_EINPUT,
                           "%s:%lld: word \"%.*s\" has %d values, the header "
                           "says dim %d",
                           path, lineno, (int)(wl > 80 ? 80 : wl), line, nv, *dim);
            goto out;
        }
        int32_t i = xfer_strmap_getn(&want, line, wl);
        if (i < 0 || found[i]) continue;
        if ((rc = parse_values(path, lineno, line + wl, *dim, *vectors + (size_t)i * *dim, err)) !=
            XFER_OK)
            goto out;
        found[i] = 1;
        n_found++;
    }
    if (ferror(f)) rc = xfer_fail(err, XFER_EINPUT, "%s: read error", path);
    /* Duplicated requests share the first one's vector. */
    for (int i = 0; rc == XFER_OK && i < n_words; i++) {
        int32_t first = xfer_strmap_get(&want, words[i]);
        if (first != i && found[first]) {
            memcpy(*vectors + (size_t)i * *dim, *vectors + (size_t)first * *dim,
                   (size_t)*dim * sizeof(float));
            found[i] = 1;
        }
    }
out:
    if (rc != XFER_OK) {
        free(*vectors);
        *vectors = NULL;
    }
    free(line);
    xfer_strmap_free(&want);
    fclose(f);
    return rc;
}
