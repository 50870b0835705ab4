/* Dataset listing: dispatch by kind, class display names and selection, fingerprint, free. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "xfer/log.h"

char *xfer_class_display_name(const char *folder) {
    const char *s = folder;
    const char *p = s;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p > s && *p == '.' && p[1]) s = p + 1;
    size_t len = strlen(s);
    if (len > 4 && strcmp(s + len - 4, "-101") == 0) len -= 4;
    char *r = malloc(len + 1);
    if (!r) return NULL;
    memcpy(r, s, len);
    r[len] = 0;
    return r;
}

void xfer_dataset_free(xfer_dataset *ds) {
    if (!ds) return;
    for (int c = 0; c < ds->n_classes; c++) {
        if (ds->class_names) free(ds->class_names[c]);
        if (ds->class_dirs) free(ds->class_dirs[c]);
    }
    free(ds->class_names);
    free(ds->class_dirs);
    for (int i = 0; i < ds->n; i++)
        if (ds->paths) free(ds->paths[i]);
    free(ds->paths);
    free(ds->labels);
    free(ds->file_size);
    free(ds->file_mtime);
    free(ds->src_index);
    free(ds->split);
    free(ds->idx_pixels);
    memset(ds, 0, sizeof *ds);
}

static int name_in(const char *folder, const char *display, char **list, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], display) == 0 || strcmp(list[i], folder) == 0) return 1;
    return 0;
}

int xfer_select_classes(const xfer_dataset_cfg *cfg, char **folders, char **display, int n,
                        int *keep, const char *where, xfer_err *err) {
    for (int i = 0; i < cfg->n_include; i++) {
        int found = 0;
        for (int c = 0; c < n && !found; c++)
            found = strcmp(cfg->include[i], display[c]) == 0 ||
                    strcmp(cfg->include[i], folders[c]) == 0;
        if (!found)
            return xfer_fail(err, XFER_EINPUT, "dataset %s: include: no class named '%s' in %s",
                             cfg->name, cfg->include[i], where);
    }
    for (int i = 0; i < cfg->n_exclude; i++) {
        int found = 0;
        for (int c = 0; c < n && !found; c++)
            found = strcmp(cfg->exclude[i], display[c]) == 0 ||
                    strcmp(cfg->exclude[i], folders[c]) == 0;
        if (!found)
            xfer_warn("dataset %s: exclude: no class named '%s' in %s", cfg->name, cfg->exclude[i],
                      where);
    }
    int kept = 0;
    for (int c = 0; c < n; c++) {
        keep[c] = 1;
        if (cfg->n_include > 0 && !name_in(folders[c], display[c], cfg->include, cfg->n_include))
            keep[c] = 0;
        if (name_in(folders[c], display[c], cfg->exclude, cfg->n_exclude)) keep[c] = 0;
        kept += keep[c];
    }
    if (kept == 0)
        return xfer_fail(err, XFER_EINPUT,
                         "dataset %s: no classes left in %s after include/exclude", cfg->name,
                         where);
    return XFER_OK;
}

/* FNV-1a 64 */
void xfer_fp_init(uint64_t *h) {
    *h = 0xcbf29ce484222325ULL;
}
void xfer_fp_bytes(uint64_t *h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        *h ^= b[i];
        *h *= 0x100000001b3ULL;
    }
}
void xfer_fp_str(uint64_t *h, const char *s) {
    xfer_fp_bytes(h, s, strlen(s) + 1);
}
void xfer_fp_i64(uint64_t *h, int64_t v) {
    xfer_fp_bytes(h, &v, sizeof v);
}

void xfer_fp_finish(uint64_t h, const xfer_dataset *ds, char out[17]) {
    for (int c = 0; c < ds->n_classes; c++)
        xfer_fp_str(&h, ds->class_dirs[c]);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

int xfer_dataset_set_classes(xfer_dataset *ds, char *const *names, const int *keep,
                             const int *remap, int n_names, int n_kept, xfer_err *err) {
    ds->n_classes = n_kept;
    ds->class_names = calloc((size_t)(n_kept ? n_kept : 1), sizeof(char *));
    ds->class_dirs = calloc((size_t)(n_kept ? n_kept : 1), sizeof(char *));
    if (!ds->class_names || !ds->class_dirs) {
        ds->n_classes = 0;
        return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    }
    for (int c = 0; c < n_names; c++)
        if (keep[c] && (!(ds->class_names[remap[c]] = strdup(names[c])) ||
                        !(ds->class_dirs[remap[c]] = strdup(names[c]))))
            return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    return XFER_OK;
}

int xfer_dataset_alloc_items(xfer_dataset *ds, int n, int with_files, xfer_err *err) {
    size_t m = (size_t)(n > 0 ? n : 1);
    ds->paths = calloc(m, sizeof *ds->paths);
    ds->labels = calloc(m, sizeof *ds->labels);
    ds->src_index = calloc(m, sizeof *ds->src_index);
    if (with_files) {
        ds->file_size = calloc(m, sizeof *ds->file_size);
        ds->file_mtime = calloc(m, sizeof *ds->file_mtime);
    }
    if (!ds->paths || !ds->labels || !ds->src_index ||
        (with_files && (!ds->file_size || !ds->file_mtime)))
        return xfer_fail(err, XFER_EINTERNAL, "out of memory listing dataset");
    return XFER_OK;
}

int xfer_dataset_scan(const xfer_dataset_cfg *cfg, xfer_dataset *ds, xfer_err *err) {
    memset(ds, 0, sizeof *ds);
    ds->kind = cfg->kind;
    int rc;
    switch (cfg->kind) {
    case XFER_DS_IMAGE_FOLDER:
        rc = xfer_scan_folder(cfg, ds, err);
        break;
    case XFER_DS_IDX:
        rc = xfer_scan_idx(cfg, ds, err);
        break;
    case XFER_DS_SYNTHETIC:
        rc = xfer_scan_synthetic(cfg, ds, err);
        break;
    case XFER_DS_IMAGE_LIST:
        rc = xfer_scan_list(cfg, ds, err);
        break;
    default:
        rc = xfer_fail(err, XFER_EINPUT, "dataset %s: unknown kind", cfg->name);
    }
    if (rc != XFER_OK) xfer_dataset_free(ds);
    return rc;
}
