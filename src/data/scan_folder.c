/* image_folder datasets: ROOT/<class>/<image>, classes sorted by strcmp (torchvision's
 * ImageFolder order), images sorted by strcmp within a class. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data_internal.h"
#include "xfer/log.h"

typedef struct {
    char **v;
    int n, cap;
} strlist;

static int sl_push(strlist *l, const char *s) {
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        char **v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n] = strdup(s);
    if (!l->v[l->n]) return -1;
    l->n++;
    return 0;
}

static void sl_free(strlist *l) {
    for (int i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_image_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    return strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 ||
           strcasecmp(dot, ".png") == 0;
}

static char *join(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *r = malloc(la + lb + 2);
    if (!r) return NULL;
    memcpy(r, a, la);
    size_t k = la;
    if (la && a[la - 1] != '/') r[k++] = '/';
    memcpy(r + k, b, lb + 1);
    return r;
}

/* Lists the entries of dir (except hidden ones); dirs_only selects sub-folders. */
static int list_dir(const char *dir, int dirs_only, strlist *out, int *n_other, xfer_err *err) {
    DIR *d = opendir(dir);
    if (!d) return xfer_fail(err, XFER_EINPUT, "%s: cannot open folder: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = XFER_OK;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if (dirs_only) {
            char *p = join(dir, e->d_name);
            struct stat st;
            int is_dir = p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
            free(p);
            if (!is_dir) {
                (*n_other)++;
                continue;
            }
        } else if (!has_image_ext(e->d_name)) {
            (*n_other)++;
            continue;
        }
        if (sl_push(out, e->d_name) != 0) {
            rc = xfer_fail(err, XFER_EINTERNAL, "out of memory listing %s", dir);
            break;
        }
    }
    closedir(d);
    if (rc == XFER_OK && out->n > 1) qsort(out->v, (size_t)out->n, sizeof(char *), cmp_str);
    return rc;
}

int xfer_scan_folder(const xfer_dataset_cfg *cfg, xfer_dataset *ds, xfer_err *err) {
    if (!cfg->root) return xfer_fail(err, XFER_EINPUT, "dataset %s: no root given", cfg->name);
    struct stat st;
    if (stat(cfg->root, &st) != 0)
        return xfer_fail(err, XFER_EINPUT, "dataset %s: root %s: %s", cfg->name, cfg->root,
                         strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return xfer_fail(err, XFER_EINPUT, "dataset %s: root %s is not a folder", cfg->name,
                         cfg->root);
    strlist classes = {0}, display = {0}, files = {0};
    int *keep = NULL, *first = NULL;
    strlist *per_class = NULL;
    int n_root_other = 0;
    int rc = list_dir(cfg->root, 1, &classes, &n_root_other, err);
    if (rc != XFER_OK) goto done;
    if (classes.n == 0) {
        rc = xfer_fail(err, XFER_EINPUT, "dataset %s: root %s has no class folders", cfg->name,
                       cfg->root);
        goto done;
    }
    for (int c = 0; c < classes.n; c++) {
        char *dn = xfer_class_display_name(classes.v[c]);
        if (!dn || sl_push(&display, dn) != 0) {
            free(dn);
            rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
            goto done;
        }
        free(dn);
    }
    keep = calloc((size_t)classes.n, sizeof *keep);
    per_class = calloc((size_t)classes.n, sizeof *per_class);
    if (!keep || !per_class) {
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
        goto done;
    }
    rc = xfer_select_classes(cfg, classes.v, display.v, classes.n, keep, cfg->root, err);
    if (rc != XFER_OK) goto done;
    int total = 0, n_kept = 0;
    for (int c = 0; c < classes.n; c++) {
        if (!keep[c]) continue;
        char *dir = join(cfg->root, classes.v[c]);
        if (!dir) {
            rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
            goto done;
        }
        rc = list_dir(dir, 0, &per_class[c], &ds->n_skipped, err);
        if (rc == XFER_OK && per_class[c].n == 0)
            rc = xfer_fail(err, XFER_EINPUT,
                           "dataset %s: class folder %s has no .jpg/.jpeg/.png images", cfg->name,
                           dir);
        free(dir);
        if (rc != XFER_OK) goto done;
        int m = per_class[c].n;
        if (cfg->max_per_class > 0 && m > cfg->max_per_class) m = cfg->max_per_class;
        total += m;
        n_kept++;
    }
    ds->n_classes = n_kept;
    ds->class_names = calloc((size_t)n_kept, sizeof(char *));
    ds->class_dirs = calloc((size_t)n_kept, sizeof(char *));
    if (!ds->class_names || !ds->class_dirs) {
        ds->n_classes = 0;
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
        goto done;
    }
    rc = xfer_dataset_alloc_items(ds, total, 1, err);
    if (rc != XFER_OK) goto done;
    uint64_t h;
    xfer_fp_init(&h);
    int label = 0;
    for (int c = 0; c < classes.n; c++) {
        if (!keep[c]) continue;
        ds->class_names[label] = strdup(display.v[c]);
        ds->class_dirs[label] = strdup(classes.v[c]);
        if (!ds->class_names[label] || !ds->class_dirs[label]) {
            rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
            goto done;
        }
        int m = per_class[c].n;
        if (cfg->max_per_class > 0 && m > cfg->max_per_class) m = cfg->max_per_class;
        for (int i = 0; i < m; i++) {
            char *dir = join(cfg->root, classes.v[c]);
            char *p = dir ? join(dir, per_class[c].v[i]) : NULL;
            free(dir);
            if (!p) {
                rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
                goto done;
            }
            struct stat fs;
            int64_t size = -1, mtime = 0;
            if (stat(p, &fs) == 0) {
                size = (int64_t)fs.st_size;
                mtime = (int64_t)fs.st_mtime;
            }
            int k = ds->n++;
            ds->paths[k] = p;
            ds->labels[k] = label;
            ds->src_index[k] = i;
            ds->file_size[k] = size;
            ds->file_mtime[k] = mtime;
            xfer_fp_str(&h, p);
            xfer_fp_i64(&h, size);
            xfer_fp_i64(&h, mtime);
        }
        label++;
    }
    xfer_fp_finish(h, ds, ds->fingerprint);
    if (ds->n_skipped > 0)
        xfer_note("dataset %s: skipped %d files that are not .jpg/.jpeg/.png", cfg->name,
                  ds->n_skipped);
done:
    if (per_class)
        for (int c = 0; c < classes.n; c++)
            sl_free(&per_class[c]);
    free(per_class);
    free(keep);
    free(first);
    sl_free(&classes);
    sl_free(&display);
    sl_free(&files);
    return rc;
}
