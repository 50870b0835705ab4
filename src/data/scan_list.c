/* image_list datasets: a text/CSV file of `path,label[,split]` lines (docs/config.md). Paths are
 * relative to `root`, else to the list file's folder; labels are class names, or with class_names
 * also indices into them; the optional split column (train | test) replaces the random split.
 * Items are ordered by class, then by their line in the list. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data_internal.h"
#include "xfer/strset.h"

/* A line longer than this is not a line of an image list. */
#define LIST_MAX_LINE 8192

typedef struct {
    char *path; /* as resolved */
    int cls;    /* index into the class list */
    int8_t split;
    int line;
} list_item;

typedef struct {
    list_item *v;
    int n, cap;
} item_vec;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The folder relative paths start from: root, or the list's folder ("" for the cwd). */
static char *base_dir(const xfer_dataset_cfg *cfg) {
    if (cfg->root) return strdup(cfg->root);
    const char *slash = strrchr(cfg->list, '/');
    size_t n = slash ? (size_t)(slash - cfg->list) + 1 : 0;
    char *b = malloc(n + 1);
    if (!b) return NULL;
    memcpy(b, cfg->list, n);
    b[n] = 0;
    return b;
}

static char *resolve(const char *base, const char *p) {
    size_t lb = strlen(base), lp = strlen(p);
    int abs = p[0] == '/' || lb == 0;
    int sep = !abs && base[lb - 1] != '/';
    char *r = malloc((abs ? 0 : lb) + (size_t)sep + lp + 1);
    if (!r) return NULL;
    size_t k = 0;
    if (!abs) {
        memcpy(r, base, lb);
        k = lb;
    }
    if (sep) r[k++] = '/';
    memcpy(r + k, p, lp + 1);
    return r;
}

/* The class names a list's labels refer to: class_names (inline or a file), or NULL. */
static int given_names(const xfer_dataset_cfg *cfg, char ***names, int *n, xfer_err *err) {
    *names = NULL;
    *n = 0;
    if (cfg->n_class_names > 0) {
        *names = calloc((size_t)cfg->n_class_names, sizeof **names);
        if (!*names) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
        for (int c = 0; c < cfg->n_class_names; c++)
            if (!((*names)[(*n)++] = strdup(cfg->class_names[c])))
                return xfer_fail(err, XFER_EINTERNAL, "out of memory");
        return XFER_OK;
    }
    if (cfg->class_names_file) return xfer_read_lines(cfg->class_names_file, names, n, err);
    return XFER_OK;
}

/* The list as read: its items (resolved paths) and each item's label cell as written. */
typedef struct {
    const xfer_dataset_cfg *cfg;
    char *base;
    item_vec items;
    char **labels; /* [items.n] the label cell as written */
    int n_cols;    /* 2 or 3 */
} list_read;

static int push(list_read *r, const char *path, const char *label, int8_t split, int line) {
    if (r->items.n == r->items.cap) {
        int cap = r->items.cap ? 2 * r->items.cap : 256;
        list_item *v = realloc(r->items.v, (size_t)cap * sizeof *v);
        char **l = realloc(r->labels, (size_t)cap * sizeof *l);
        if (v) r->items.v = v;
        if (l) r->labels = l;
        if (!v || !l) return -1;
        r->items.cap = cap;
    }
    char *p = resolve(r->base, path), *lab = strdup(label);
    if (!p || !lab) {
        free(p);
        free(lab);
        return -1;
    }
    r->items.v[r->items.n] = (list_item){p, -1, split, line};
    r->labels[r->items.n++] = lab;
    return 0;
}

static int read_list(list_read *r, xfer_err *err) {
    const xfer_dataset_cfg *cfg = r->cfg;
    const char *list = cfg->list;
    FILE *f = fopen(list, "r");
    if (!f)
        return xfer_fail(err, XFER_EINPUT, "dataset %s: list %s: cannot open: %s", cfg->name, list,
                         strerror(errno));
    char *buf = malloc(LIST_MAX_LINE);
    if (!buf) {
        fclose(f);
        return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    }
    int rc = XFER_OK, line = 0, first = 1;
    while (rc == XFER_OK && fgets(buf, LIST_MAX_LINE, f)) {
        line++;
        size_t len = strlen(buf);
        if (len == LIST_MAX_LINE - 1 && buf[len - 1] != '\n') {
            rc = xfer_fail(err, XFER_EINPUT, "dataset %s: %s:%d: line longer than %d bytes",
                           cfg->name, list, line, LIST_MAX_LINE - 2);
            break;
        }
        char *s = xfer_str_trim(buf);
        if (!*s || *s == '#') continue;
        char *cell[3];
        int n = 0; /* cells on the line; the first three are kept */
        for (char *p = s; p; n++) {
            char *c = strchr(p, ',');
            if (c) *c = 0;
            if (n < 3) cell[n] = xfer_str_trim(p);
            p = c ? c + 1 : NULL;
        }
        if (n < 2 || n > 3) {
            rc = xfer_fail(err, XFER_EINPUT,
                           "dataset %s: %s:%d: %s cells (expected path,label or "
                           "path,label,split)",
                           cfg->name, list, line, n < 2 ? "fewer than 2" : "more than 3");
            break;
        }
        int header = first && !strcmp(cell[0], "path") && !strcmp(cell[1], "label") &&
                     (n == 2 || !strcmp(cell[2], "split"));
        if (first) r->n_cols = n;
        first = 0;
        if (header) continue;
        if (n != r->n_cols) {
            rc = xfer_fail(err, XFER_EINPUT,
                           "dataset %s: %s:%d: %d cells, but the list's first line has %d "
                           "(expected a split column on every line or on none)",
                           cfg->name, list, line, n, r->n_cols);
            break;
        }
        if (!*cell[0] || !*cell[1]) {
            rc = xfer_fail(err, XFER_EINPUT, "dataset %s: %s:%d: empty %s", cfg->name, list, line,
                           *cell[0] ? "label" : "path");
            break;
        }
        int8_t split = -1;
        if (n == 3) {
            if (!strcmp(cell[2], "train")) {
                split = 0;
            } else if (!strcmp(cell[2], "test")) {
                split = 1;
            } else {
                rc = xfer_fail(err, XFER_EINPUT,
                               "dataset %s: %s:%d: bad split value '%s' (expected train or test)",
                               cfg->name, list, line, cell[2]);
                break;
            }
        }
        if (push(r, cell[0], cell[1], split, line) != 0)
            rc = xfer_fail(err, XFER_EINTERNAL, "out of memory reading %s", list);
    }
    if (rc == XFER_OK && ferror(f))
        rc = xfer_fail(err, XFER_EINPUT, "dataset %s: list %s: read error", cfg->name, list);
    fclose(f);
    free(buf);
    if (rc == XFER_OK && r->items.n == 0)
        rc = xfer_fail(err, XFER_EINPUT, "dataset %s: list %s lists no images", cfg->name, list);
    if (rc == XFER_OK && r->n_cols == 3 && cfg->split_set)
        rc = xfer_fail(err, XFER_EINPUT,
                       "dataset %s: list %s has a split column and the config gives split at "
                       "%d:%d (expected one of them)",
                       cfg->name, list, cfg->split_mark.line, cfg->split_mark.col);
    return rc;
}

/* Labels to class indices: into the given names (by name, else by index), or into the sorted
 * distinct labels. */
static int assign_classes(list_read *r, char ***names, int *n_names, xfer_err *err) {
    const xfer_dataset_cfg *cfg = r->cfg;
    int rc = given_names(cfg, names, n_names, err);
    if (rc != XFER_OK) return rc;
    if (!*names) {
        char **sorted = malloc((size_t)r->items.n * sizeof *sorted);
        if (!sorted) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
        memcpy(sorted, r->labels, (size_t)r->items.n * sizeof *sorted);
        qsort(sorted, (size_t)r->items.n, sizeof *sorted, cmp_str);
        *names = calloc((size_t)r->items.n, sizeof **names);
        for (int i = 0; *names && i < r->items.n; i++)
            if (i == 0 || strcmp(sorted[i], sorted[i - 1]))
                if (!((*names)[(*n_names)++] = strdup(sorted[i]))) break;
        free(sorted);
        if (!*names || (*n_names && !(*names)[*n_names - 1]))
            return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    }
    for (int i = 0; i < r->items.n; i++) {
        const char *lab = r->labels[i];
        int c = -1;
        /* binary search would need sorted names; lists of a few hundred classes are fine */
        for (int k = 0; k < *n_names && c < 0; k++)
            if (!strcmp((*names)[k], lab)) c = k;
        if (c < 0 && (cfg->n_class_names > 0 || cfg->class_names_file)) {
            char *end;
            long v = strtol(lab, &end, 10);
            if (*end == 0 && lab[0] >= '0' && lab[0] <= '9' && v >= 0 && v < *n_names) c = (int)v;
        }
        if (c < 0)
            return xfer_fail(err, XFER_EINPUT,
                             "dataset %s: %s:%d: unknown label '%s' (expected one of the %d "
                             "class names of %s, or an index 0..%d)",
                             cfg->name, cfg->list, r->items.v[i].line, lab, *n_names,
                             cfg->class_names_file ? cfg->class_names_file : "class_names",
                             *n_names - 1);
        r->items.v[i].cls = c;
    }
    return XFER_OK;
}

static int cmp_item_path(const void *a, const void *b) {
    const list_item *p = *(const list_item *const *)a, *q = *(const list_item *const *)b;
    int d = strcmp(p->path, q->path);
    return d ? d : (p->line > q->line) - (p->line < q->line);
}

/* A path listed twice would put one image in both splits, or weigh it twice. */
static int check_duplicates(const list_read *r, xfer_err *err) {
    const list_item **s = malloc((size_t)r->items.n * sizeof *s);
    if (!s) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    for (int i = 0; i < r->items.n; i++)
        s[i] = &r->items.v[i];
    qsort(s, (size_t)r->items.n, sizeof *s, cmp_item_path);
    int rc = XFER_OK;
    for (int i = 1; i < r->items.n && rc == XFER_OK; i++)
        if (!strcmp(s[i]->path, s[i - 1]->path))
            rc = xfer_fail(err, XFER_EINPUT,
                           "dataset %s: %s:%d: %s is listed twice (first on line %d)", r->cfg->name,
                           r->cfg->list, s[i]->line, s[i]->path, s[i - 1]->line);
    free(s);
    return rc;
}

int xfer_scan_list(const xfer_dataset_cfg *cfg, xfer_dataset *ds, xfer_err *err) {
    if (!cfg->list) return xfer_fail(err, XFER_EINPUT, "dataset %s: no list given", cfg->name);
    list_read r = {cfg, base_dir(cfg), {0}, NULL, 0};
    char **names = NULL;
    int n_names = 0, *keep = NULL, *remap = NULL, *count = NULL;
    int rc = r.base ? read_list(&r, err) : xfer_fail(err, XFER_EINTERNAL, "out of memory");
    if (rc == XFER_OK) rc = assign_classes(&r, &names, &n_names, err);
    if (rc == XFER_OK) rc = check_duplicates(&r, err);
    if (rc != XFER_OK) goto done;
    keep = calloc((size_t)n_names + 1, sizeof *keep);
    remap = calloc((size_t)n_names + 1, sizeof *remap);
    count = calloc((size_t)n_names + 1, sizeof *count);
    if (!keep || !remap || !count) {
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
        goto done;
    }
    rc = xfer_select_classes(cfg, names, names, n_names, keep, cfg->list, err);
    if (rc != XFER_OK) goto done;
    int k = 0, total = 0;
    for (int c = 0; c < n_names; c++)
        remap[c] = keep[c] ? k++ : -1;
    for (int i = 0; i < r.items.n; i++) {
        int c = r.items.v[i].cls;
        if (!keep[c] || (cfg->max_per_class > 0 && count[c] >= cfg->max_per_class)) continue;
        count[c]++;
        total++;
    }
    for (int c = 0; c < n_names; c++)
        if (keep[c] && count[c] == 0) {
            rc = xfer_fail(err, XFER_EINPUT, "dataset %s: list %s has no images of class '%s'",
                           cfg->name, cfg->list, names[c]);
            goto done;
        }
    rc = xfer_dataset_set_classes(ds, names, keep, remap, n_names, k, err);
    if (rc == XFER_OK) rc = xfer_dataset_alloc_items(ds, total, 1, err);
    if (rc == XFER_OK && r.n_cols == 3 &&
        !(ds->split = malloc((size_t)(total ? total : 1) * sizeof *ds->split)))
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
    if (rc != XFER_OK) goto done;
    uint64_t h;
    xfer_fp_init(&h);
    xfer_fp_file(&h, cfg->list);
    xfer_fp_i64(&h, cfg->max_per_class);
    memset(count, 0, ((size_t)n_names + 1) * sizeof *count);
    int n_split[2] = {0, 0};
    for (int c = 0; c < n_names; c++) {
        if (!keep[c]) continue;
        for (int i = 0; i < r.items.n; i++) {
            list_item *it = &r.items.v[i];
            if (it->cls != c) continue;
            if (cfg->max_per_class > 0 && count[c] >= cfg->max_per_class) break;
            struct stat st;
            int e = stat(it->path, &st) != 0 ? errno : 0;
            if (e || !S_ISREG(st.st_mode)) {
                rc = xfer_fail(err, XFER_EINPUT, "dataset %s: %s:%d: image %s: %s", cfg->name,
                               cfg->list, it->line, it->path,
                               e ? strerror(e) : "not a regular file");
                goto done;
            }
            count[c]++;
            int j = ds->n++;
            ds->paths[j] = it->path;
            it->path = NULL;
            ds->labels[j] = remap[c];
            ds->src_index[j] = it->line;
            ds->file_size[j] = (int64_t)st.st_size;
            ds->file_mtime[j] = (int64_t)st.st_mtime;
            xfer_fp_str(&h, ds->paths[j]);
            xfer_fp_i64(&h, ds->file_size[j]);
            xfer_fp_i64(&h, ds->file_mtime[j]);
            xfer_fp_i64(&h, ds->labels[j]);
            if (ds->split) {
                ds->split[j] = it->split;
                n_split[it->split]++;
                xfer_fp_i64(&h, it->split);
            }
        }
    }
    if (ds->split && (!n_split[0] || !n_split[1])) {
        rc = xfer_fail(err, XFER_EINPUT,
                       "dataset %s: list %s's split column leaves no %s images (expected both "
                       "train and test)",
                       cfg->name, cfg->list, n_split[0] ? "test" : "train");
        goto done;
    }
    xfer_fp_finish(h, ds, ds->fingerprint);
done:
    for (int i = 0; i < r.items.n; i++) {
        free(r.items.v[i].path);
        free(r.labels[i]);
    }
    free(r.items.v);
    free(r.labels);
    free(r.base);
    for (int c = 0; c < n_names; c++)
        if (names) free(names[c]);
    free(names);
    free(keep);
    free(remap);
    free(count);
    return rc;
}
