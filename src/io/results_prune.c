/* /prune: a successive-halving sweep's settings (attributes) and its rung decisions (one row per
 * source that reached a rung: columns rung, epoch, source, value, kept). Written only when pruning
 * is on, so a sweep without it is the file it always was (docs/results.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "results_h5.h"
#include "results_internal.h"

static char *dup_str(const char *s) {
    return rh5_strdup(s ? s : "");
}

void xfer_results_prune_free(xfer_results_prune *p) {
    if (!p) return;
    free(p->method);
    free(p->metric);
    free(p->scope);
    free(p->seed_by);
    for (size_t i = 0; i < p->n_rows; i++)
        free(p->rows[i].source);
    free(p->rows);
    free(p);
}

int rw_prune(hid_t f, const xfer_results_prune *p, const char *path, xfer_err *err) {
    /* Inside a transaction on a copy: deleting first cannot lose the old table on a crash. */
    if (H5Lexists(f, "prune", H5P_DEFAULT) > 0 && H5Ldelete(f, "prune", H5P_DEFAULT) < 0)
        return xfer_fail(err, XFER_EINTERNAL, "%s: HDF5 error replacing /prune", path);
    hid_t g = H5Gcreate2(f, "prune", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return xfer_fail(err, XFER_EINTERNAL, "%s: HDF5 error creating /prune", path);
    size_t n = p->n_rows;
    int64_t *rung = malloc((n + 1) * sizeof *rung), *epoch = malloc((n + 1) * sizeof *epoch),
            *kept = malloc((n + 1) * sizeof *kept);
    double *value = malloc((n + 1) * sizeof *value);
    const char **src = malloc((n + 1) * sizeof *src);
    int bad = !rung || !epoch || !kept || !value || !src;
    for (size_t i = 0; !bad && i < n; i++) {
        rung[i] = p->rows[i].rung;
        epoch[i] = p->rows[i].epoch;
        kept[i] = p->rows[i].kept;
        value[i] = p->rows[i].value;
        src[i] = p->rows[i].source;
    }
    bad = bad || rh5_set_str(g, "method", p->method) < 0 ||
          rh5_set_str(g, "metric", p->metric) < 0 || rh5_set_str(g, "scope", p->scope) < 0 ||
          rh5_set_str(g, "seed_by", p->seed_by) < 0 || rh5_set_i64(g, "eta", p->eta) < 0 ||
          rh5_set_i64(g, "min_epochs", p->min_epochs) < 0 ||
          rh5_set_i64(g, "keep_at_least", p->keep_at_least) < 0 ||
          rh5_set_i64(g, "epochs", p->epochs) < 0 ||
          rh5_create_column(g, "rung", H5T_NATIVE_INT64) < 0 ||
          rh5_create_column(g, "epoch", H5T_NATIVE_INT64) < 0 ||
          rh5_create_column(g, "value", H5T_NATIVE_DOUBLE) < 0 ||
          rh5_create_column(g, "kept", H5T_NATIVE_INT64) < 0 ||
          rh5_write_strs(g, "source", src, n) < 0;
    if (!bad && n)
        bad = rh5_append_column(g, "rung", H5T_NATIVE_INT64, rung, n) < 0 ||
              rh5_append_column(g, "epoch", H5T_NATIVE_INT64, epoch, n) < 0 ||
              rh5_append_column(g, "value", H5T_NATIVE_DOUBLE, value, n) < 0 ||
              rh5_append_column(g, "kept", H5T_NATIVE_INT64, kept, n) < 0;
    free(rung);
    free(epoch);
    free(kept);
    free(value);
    free(src);
    H5Gclose(g);
    return bad ? xfer_fail(err, XFER_EINTERNAL, "%s: HDF5 error writing /prune", path) : XFER_OK;
}

int rr_read_prune(hid_t f, xfer_results_data *d, const char *path, xfer_err *err) {
    d->prune = NULL;
    if (!rh5_exists(f, "prune")) return XFER_OK;
    hid_t g = H5Gopen2(f, "prune", H5P_DEFAULT);
    if (g < 0) return xfer_fail(err, XFER_EINPUT, "%s: unreadable /prune", path);
    xfer_results_prune *p = calloc(1, sizeof *p);
    int64_t *rung = NULL, *epoch = NULL, *kept = NULL;
    double *value = NULL;
    char **src = NULL;
    size_t n[5] = {0};
    int bad = !p || rh5_get_str(g, "method", &p->method) < 0 ||
              rh5_get_str(g, "metric", &p->metric) < 0 || rh5_get_str(g, "scope", &p->scope) < 0 ||
              rh5_get_str(g, "seed_by", &p->seed_by) < 0 || rh5_get_i64(g, "eta", &p->eta) < 0 ||
              rh5_get_i64(g, "min_epochs", &p->min_epochs) < 0 ||
              rh5_get_i64(g, "keep_at_least", &p->keep_at_least) < 0 ||
              rh5_get_i64(g, "epochs", &p->epochs) < 0 ||
              rh5_read_column(g, "rung", H5T_NATIVE_INT64, (void **)&rung, &n[0]) < 0 ||
              rh5_read_column(g, "epoch", H5T_NATIVE_INT64, (void **)&epoch, &n[1]) < 0 ||
              rh5_read_column(g, "value", H5T_NATIVE_DOUBLE, (void **)&value, &n[2]) < 0 ||
              rh5_read_column(g, "kept", H5T_NATIVE_INT64, (void **)&kept, &n[3]) < 0 ||
              rh5_read_strs(g, "source", &src, &n[4]) < 0;
    for (int k = 1; !bad && k < 5; k++)
        bad = n[k] != n[0];
    if (!bad && n[0]) {
        p->rows = calloc(n[0], sizeof *p->rows);
        bad = !p->rows;
    }
    for (size_t i = 0; !bad && i < n[0]; i++) {
        p->rows[i] = (xfer_results_rung_row){rung[i], epoch[i], src[i], value[i], kept[i]};
        src[i] = NULL;
        p->n_rows++;
    }
    free(rung);
    free(epoch);
    free(kept);
    free(value);
    rh5_free_strs(src, n[4]);
    H5Gclose(g);
    if (bad) {
        xfer_results_prune_free(p);
        return xfer_fail(err, XFER_EINPUT,
                         "%s: not a valid xfer results file: /prune is incomplete", path);
    }
    d->prune = p;
    return XFER_OK;
}

static int cmp_row(const void *a, const void *b) {
    const xfer_results_rung_row *x = a, *y = b;
    if (x->rung != y->rung) return x->rung < y->rung ? -1 : 1;
    return strcmp(x->source, y->source);
}

int rr_merge_prune(xfer_results_data *a, xfer_results_data *b, const char *b_path, xfer_err *err) {
    if (!b->prune) return XFER_OK;
    if (!a->prune) { /* the first input with a table */
        a->prune = b->prune;
        b->prune = NULL;
        return XFER_OK;
    }
    xfer_results_prune *p = a->prune, *q = b->prune;
    if (strcmp(p->method, q->method) || strcmp(p->metric, q->metric) ||
        strcmp(p->scope, q->scope) || strcmp(p->seed_by, q->seed_by) || p->eta != q->eta ||
        p->min_epochs != q->min_epochs || p->keep_at_least != q->keep_at_least ||
        p->epochs != q->epochs)
        return xfer_fail(err, XFER_EINPUT, "%s: its /prune settings differ from an earlier input's",
                         b_path);
    xfer_results_rung_row *rows = realloc(p->rows, (p->n_rows + q->n_rows + 1) * sizeof *rows);
    if (!rows) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    p->rows = rows;
    size_t n0 = p->n_rows;
    for (size_t i = 0; i < q->n_rows; i++) {
        xfer_results_rung_row *r = &q->rows[i];
        const xfer_results_rung_row *old = NULL;
        for (size_t j = 0; j < n0 && !old; j++)
            if (p->rows[j].rung == r->rung && !strcmp(p->rows[j].source, r->source))
                old = &p->rows[j];
        if (old) {
            if (old->epoch != r->epoch || old->kept != r->kept ||
                !(old->value == r->value || (isnan(old->value) && isnan(r->value))))
                return xfer_fail(err, XFER_EINPUT,
                                 "%s: rung %lld of source '%s' differs from an earlier input's "
                                 "(the shards decided differently)",
                                 b_path, (long long)r->rung, r->source);
            continue;
        }
        p->rows[p->n_rows] = *r;
        p->rows[p->n_rows++].source = dup_str(r->source);
        if (!p->rows[p->n_rows - 1].source) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    }
    qsort(p->rows, p->n_rows, sizeof *p->rows, cmp_row);
    return XFER_OK;
}
