/* idx datasets: MNIST-format IDX image and label files, plain or gzip (zlib's gzread reads both).
 * Format: big-endian magic 0x00000803 (uint8 images, 3 dims: count, rows, cols) and 0x00000801
 * (uint8 labels, 1 dim). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "data_internal.h"

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u

static int read_exact(gzFile f, void *buf, size_t n) {
    unsigned char *p = buf;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int r = gzread(f, p, chunk);
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int read_be32(gzFile f, uint32_t *v) {
    unsigned char b[4];
    if (read_exact(f, b, 4) != 0) return -1;
    *v = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
    return 0;
}

/* Reads a whole IDX file; *dims gets the dimensions (at most 3). */
static int read_idx(const char *path, uint32_t magic, int ndim, uint32_t *dims, uint8_t **data,
                    xfer_err *err) {
    gzFile f = gzopen(path, "rb");
    if (!f) return xfer_fail(err, XFER_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    int rc = XFER_OK;
    uint32_t m;
    size_t total = 1;
    *data = NULL;
    if (read_be32(f, &m) != 0) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: not an IDX file (too short)", path);
        goto done;
    }
    if (m != magic) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: IDX magic 0x%08x, expected 0x%08x (%s)", path, m,
                       magic, magic == IDX_MAGIC_IMAGES ? "uint8 images, 3 dims" : "uint8 labels");
        goto done;
    }
    for (int i = 0; i < ndim; i++) {
        if (read_be32(f, &dims[i]) != 0) {
            rc = xfer_fail(err, XFER_EINPUT, "%s: truncated IDX header", path);
            goto done;
        }
        if (dims[i] == 0 || dims[i] > (1u << 28)) {
            rc = xfer_fail(err, XFER_EINPUT, "%s: IDX dimension %d is %u", path, i, dims[i]);
            goto done;
        }
        total *= dims[i];
    }
    if (total > ((size_t)1 << 34)) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: IDX data too large", path);
        goto done;
    }
    /* The buffer grows with the data actually read (doubling from 1 MiB), so a header that
     * claims gigabytes in a tiny or gzip file costs no more memory than the file holds. */
    size_t cap = total < ((size_t)1 << 20) ? total : ((size_t)1 << 20), got = 0;
    *data = malloc(cap);
    while (*data) {
        size_t want = cap - got;
        if (read_exact(f, *data + got, want) != 0) {
            rc = xfer_fail(err, XFER_EINPUT, "%s: truncated: expected %zu bytes of data", path,
                           total);
            break;
        }
        got = cap;
        if (got == total) break;
        cap = cap > total / 2 ? total : 2 * cap;
        uint8_t *grown = realloc(*data, cap);
        if (!grown) free(*data);
        *data = grown;
    }
    if (!*data) {
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory reading %s", path);
    } else if (rc != XFER_OK) {
        free(*data);
        *data = NULL;
    }
done:
    gzclose(f);
    return rc;
}

int xfer_read_lines(const char *path, char ***out, int *n, xfer_err *err) {
    FILE *f = fopen(path, "r");
    if (!f) return xfer_fail(err, XFER_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    char line[4096];
    char **v = NULL;
    int cnt = 0;
    while (fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
            line[--l] = 0;
        if (l == 0) continue;
        char **nv = realloc(v, (size_t)(cnt + 1) * sizeof *v);
        if (!nv || !(nv[cnt] = strdup(line))) {
            if (nv) v = nv;
            for (int i = 0; i < cnt; i++)
                free(v[i]);
            free(v);
            fclose(f);
            return xfer_fail(err, XFER_EINTERNAL, "out of memory reading %s", path);
        }
        v = nv;
        cnt++;
    }
    fclose(f);
    *out = v;
    *n = cnt;
    return XFER_OK;
}

void xfer_fp_file(uint64_t *h, const char *path) {
    struct stat st;
    xfer_fp_str(h, path);
    if (stat(path, &st) == 0) {
        xfer_fp_i64(h, (int64_t)st.st_size);
        xfer_fp_i64(h, (int64_t)st.st_mtime);
    }
}

int xfer_scan_idx(const xfer_dataset_cfg *cfg, xfer_dataset *ds, xfer_err *err) {
    if (!cfg->images || !cfg->labels)
        return xfer_fail(err, XFER_EINPUT, "dataset %s: idx needs both images and labels",
                         cfg->name);
    uint32_t idims[3] = {0}, ldims[1] = {0};
    uint8_t *labels = NULL;
    char **names = NULL, **disp = NULL;
    int n_names = 0, *keep = NULL, *remap = NULL, *count = NULL;
    int rc = read_idx(cfg->images, IDX_MAGIC_IMAGES, 3, idims, &ds->idx_pixels, err);
    if (rc != XFER_OK) return rc;
    rc = read_idx(cfg->labels, IDX_MAGIC_LABELS, 1, ldims, &labels, err);
    if (rc != XFER_OK) return rc;
    if (ldims[0] != idims[0]) {
        rc = xfer_fail(err, XFER_EINPUT, "dataset %s: %s holds %u images but %s holds %u labels",
                       cfg->name, cfg->images, idims[0], cfg->labels, ldims[0]);
        goto done;
    }
    ds->idx_count = (int)idims[0];
    ds->idx_rows = (int)idims[1];
    ds->idx_cols = (int)idims[2];
    int max_label = 0;
    for (uint32_t i = 0; i < ldims[0]; i++)
        if (labels[i] > max_label) max_label = labels[i];
    if (cfg->n_class_names > 0) {
        n_names = cfg->n_class_names;
        names = calloc((size_t)n_names, sizeof *names);
        for (int c = 0; names && c < n_names; c++)
            names[c] = strdup(cfg->class_names[c]);
    } else if (cfg->class_names_file) {
        rc = xfer_read_lines(cfg->class_names_file, &names, &n_names, err);
        if (rc != XFER_OK) goto done;
    } else {
        n_names = max_label + 1;
        names = calloc((size_t)n_names, sizeof *names);
        for (int c = 0; names && c < n_names; c++) {
            char b[16];
            snprintf(b, sizeof b, "%d", c);
            names[c] = strdup(b);
        }
    }
    if (!names) {
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
        goto done;
    }
    if (max_label >= n_names) {
        rc = xfer_fail(err, XFER_EINPUT, "dataset %s: %s has label %d but only %d class names",
                       cfg->name, cfg->labels, max_label, n_names);
        goto done;
    }
    keep = calloc((size_t)n_names, sizeof *keep);
    remap = calloc((size_t)n_names, sizeof *remap);
    count = calloc((size_t)n_names, sizeof *count);
    if (!keep || !remap || !count) {
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
        goto done;
    }
    rc = xfer_select_classes(cfg, names, names, n_names, keep, cfg->images, err);
    if (rc != XFER_OK) goto done;
    int k = 0;
    for (int c = 0; c < n_names; c++)
        remap[c] = keep[c] ? k++ : -1;
    rc = xfer_dataset_set_classes(ds, names, keep, remap, n_names, k, err);
    if (rc != XFER_OK) goto done;
    int total = 0;
    for (uint32_t i = 0; i < ldims[0]; i++) {
        int c = labels[i];
        if (!keep[c]) continue;
        if (cfg->max_per_class > 0 && count[c] >= cfg->max_per_class) continue;
        count[c]++;
        total++;
    }
    rc = xfer_dataset_alloc_items(ds, total, 0, err);
    if (rc != XFER_OK) goto done;
    memset(count, 0, (size_t)n_names * sizeof *count);
    /* items ordered by class, then by position in the file */
    for (int c = 0; c < n_names; c++) {
        if (!keep[c]) continue;
        for (uint32_t i = 0; i < ldims[0]; i++) {
            if (labels[i] != c) continue;
            if (cfg->max_per_class > 0 && count[c] >= cfg->max_per_class) break;
            count[c]++;
            int j = ds->n++;
            size_t len = strlen(cfg->images) + 16;
            ds->paths[j] = malloc(len);
            if (!ds->paths[j]) {
                rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
                goto done;
            }
            snprintf(ds->paths[j], len, "%s#%u", cfg->images, i);
            ds->labels[j] = remap[c];
            ds->src_index[j] = (int32_t)i;
        }
    }
    uint64_t h;
    xfer_fp_init(&h);
    xfer_fp_file(&h, cfg->images);
    xfer_fp_file(&h, cfg->labels);
    xfer_fp_i64(&h, cfg->max_per_class);
    xfer_fp_finish(h, ds, ds->fingerprint);
done:
    for (int c = 0; c < n_names; c++)
        if (names) free(names[c]);
    free(names);
    free(disp);
    free(keep);
    free(remap);
    free(count);
    free(labels);
    return rc;
}
