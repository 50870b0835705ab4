/* xfer merge: the union of shard files of one config, written new (temp + rename) with the
 * correlations recomputed over all the sources. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results_file.h"
#include "results_internal.h"

static int write_source(hid_t f, const xfer_results_source *s, const char *path, xfer_err *err) {
    xfer_results_source_info info = {s->name, s->arch, s->weights, s->chain};
    int rc = rw_add_source(f, &info, path, err);
    for (size_t k = 0; rc == XFER_OK && k < s->n_scores; k++) {
        const xfer_results_score *sc = &s->scores[k];
        rc = rw_score(f, s->name, sc, path, err);
    }
    /* every fine-tune (seeds[0] is /curve); a source read from a file has n_seeds >= 1 */
    for (size_t k = 0; rc == XFER_OK && k < s->n_seeds; k++) {
        const xfer_results_seed *c = &s->seeds[k];
        rc = rw_add_seed(f, s->name, (int)k, c->seed, path, err);
        if (rc != XFER_OK || !c->n_epochs) continue;
        xfer_results_epoch *rows = malloc(c->n_epochs * sizeof *rows);
        if (!rows) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
        for (size_t i = 0; i < c->n_epochs; i++)
            rows[i] = (xfer_results_epoch){c->epoch[i],     c->lr[i],        c->train_loss[i],
                                           c->train_acc[i], c->test_loss[i], c->test_acc[i],
                                           c->seconds[i]};
        rc = rw_append(f, s->name, (int)k, rows, c->n_epochs, path, err);
        free(rows);
    }
    if (rc == XFER_OK) rc = rw_status(f, s->name, s->status, s->error, path, err);
    return rc;
}

static int write_data(hid_t f, const xfer_results_data *d, const char *path, xfer_err *err) {
    xfer_results_meta m = {d->xfer_version, d->config,    d->created,
                           d->device,       d->precision, d->seed};
    int rc = rw_root(f, &m, d->complete, path, err);
    if (rc == XFER_OK && d->has_target) {
        xfer_results_target t = {d->dataset,
                                 d->n_train,
                                 d->n_test,
                                 (int64_t)d->n_class_names,
                                 (const char *const *)d->class_names,
                                 (const char *const *)d->train_files,
                                 (const char *const *)d->test_files,
                                 d->n_train_files,
                                 d->n_test_files};
        rc = rw_target(f, &t, path, err);
        /* n_classes as stored, even if the names were not all written */
        if (rc == XFER_OK) {
            hid_t g = H5Gopen2(f, "target", H5P_DEFAULT);
            int64_t nc = d->n_classes;
            hid_t a = g < 0 ? -1 : H5Aopen(g, "n_classes", H5P_DEFAULT);
            if (a < 0 || H5Awrite(a, H5T_NATIVE_INT64, &nc) < 0)
                rc = xfer_fail(err, XFER_EINTERNAL, "%s: HDF5 error writing /target", path);
            if (a >= 0) H5Aclose(a);
            if (g >= 0) H5Gclose(g);
        }
    }
    for (size_t i = 0; rc == XFER_OK && i < d->n_sources; i++)
        rc = write_source(f, &d->sources[i], path, err);
    if (rc == XFER_OK && d->prune) rc = rw_prune(f, d->prune, path, err);
    if (rc == XFER_OK) rc = rw_correlations(f, path, err);
    return rc;
}

int xfer_results_write_all(const char *path, const xfer_results_data *d, int overwrite,
                           xfer_err *err) {
    struct stat st;
    int lock = -1;
    int rc = rf_lock(path, &lock, err);
    if (rc) return rc;
    if (!overwrite && stat(path, &st) == 0) {
        rf_unlock(lock);
        return xfer_fail(err, XFER_EINPUT, "%s: already exists (use --force to replace it)", path);
    }
    char *tmp = malloc(strlen(path) + 8);
    if (!tmp) {
        rf_unlock(lock);
        return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    }
    sprintf(tmp, "%s.tmp", path);
    hid_t f = rf_create_h5(tmp);
    if (f < 0) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: cannot create %s", path, tmp);
    } else {
        rc = write_data(f, d, path, err);
        if (rc) {
            H5Fclose(f);
            unlink(tmp);
        } else {
            rc = rf_publish(f, tmp, path, 1, err);
        }
    }
    free(tmp);
    rf_unlock(lock);
    return rc;
}

static int same_doubles(const double *a, const double *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!(a[i] == b[i] || (isnan(a[i]) && isnan(b[i])))) return 0;
    return 1;
}

static int same_num(double a, double b) {
    return a == b || (isnan(a) && isnan(b));
}

/* Same source in two shards (a chained source both needed): identical content or refuse. */
static int same_source(const xfer_results_source *a, const xfer_results_source *b) {
    if (strcmp(a->arch, b->arch) || strcmp(a->weights, b->weights) || strcmp(a->chain, b->chain) ||
        strcmp(a->error, b->error) || a->status != b->status || a->n_scores != b->n_scores ||
        a->n_epochs != b->n_epochs)
        return 0;
    for (size_t k = 0; k < a->n_scores; k++) {
        const xfer_results_score *sb = xfer_results_find_score(b, a->scores[k].metric);
        const xfer_results_score *sa = &a->scores[k];
        if (!sb || sb->direction != sa->direction || sb->n_terms != sa->n_terms) return 0;
        /* a pool-level score's value depends on the shard's other sources: compare its terms */
        if (sa->n_terms ? !same_doubles(sa->terms, sb->terms, sa->n_terms)
                        : !same_num(sb->value, sa->value))
            return 0;
    }
    if (a->n_seeds != b->n_seeds) return 0;
    for (size_t k = 0; k < a->n_seeds; k++) {
        const xfer_results_seed *x = &a->seeds[k], *y = &b->seeds[k];
        if (x->seed != y->seed || x->n_epochs != y->n_epochs) return 0;
        for (size_t i = 0; i < x->n_epochs; i++)
            if (x->epoch[i] != y->epoch[i]) return 0;
        if (!same_doubles(x->test_acc, y->test_acc, x->n_epochs) ||
            !same_doubles(x->train_loss, y->train_loss, x->n_epochs) ||
            !same_doubles(x->test_loss, y->test_loss, x->n_epochs) ||
            !same_doubles(x->train_acc, y->train_acc, x->n_epochs) ||
            !same_doubles(x->lr, y->lr, x->n_epochs))
            return 0;
    }
    return 1;
}

static int same_strs(char **a, size_t na, char **b, size_t nb) {
    if (na != nb) return 0;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i])) return 0;
    return 1;
}

static int same_target(const xfer_results_data *a, const xfer_results_data *b) {
    if (!a->has_target || !b->has_target) return 1; /* a shard may not have written it yet */
    return strcmp(a->dataset, b->dataset) == 0 && a->n_train == b->n_train &&
           a->n_test == b->n_test && a->n_classes == b->n_classes &&
           same_strs(a->class_names, a->n_class_names, b->class_names, b->n_class_names) &&
           same_strs(a->train_files, a->n_train_files, b->train_files, b->n_train_files) &&
           same_strs(a->test_files, a->n_test_files, b->test_files, b->n_test_files);
}

/* Moves the sources of src that are not in dst into dst (src keeps the rest). */
static int take_sources(xfer_results_data *dst, xfer_results_data *src, const char *src_path,
                        xfer_err *err) {
    xfer_results_source *v =
        realloc(dst->sources, (dst->n_sources + src->n_sources + 1) * sizeof *v);
    if (!v) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    dst->sources = v;
    size_t keep = 0, n0 = dst->n_sources;
    for (size_t i = 0; i < src->n_sources; i++) {
        xfer_results_source *s = &src->sources[i];
        const xfer_results_source *old = NULL;
        for (size_t j = 0; j < n0; j++)
            if (strcmp(dst->sources[j].name, s->name) == 0) old = &dst->sources[j];
        if (old && !same_source(old, s))
            return xfer_fail(err, XFER_EINPUT,
                             "%s: source '%s' is also in an earlier input with different content "
                             "(arch, status, scores or curve differ)",
                             src_path, s->name);
        if (old) {
            src->sources[keep++] = *s; /* freed with src */
        } else {
            dst->sources[dst->n_sources++] = *s;
        }
    }
    src->n_sources = keep;
    return XFER_OK;
}

static int cmp_source(const void *a, const void *b) {
    return strcmp(((const xfer_results_source *)a)->name, ((const xfer_results_source *)b)->name);
}

int xfer_results_merge(const char *out, const char *const *inputs, size_t n_inputs, int overwrite,
                       xfer_err *err) {
    if (n_inputs == 0) return xfer_fail(err, XFER_EINPUT, "merge: no input files");
    xfer_results_data *acc = NULL;
    int rc = xfer_results_read(inputs[0], &acc, err);
    int complete = acc ? acc->complete : 0;
    for (size_t i = 1; rc == XFER_OK && i < n_inputs; i++) {
        xfer_results_data *d = NULL;
        rc = xfer_results_read(inputs[i], &d, err);
        if (rc) break;
        if (strcmp(d->config, acc->config) != 0)
            rc = xfer_fail(err, XFER_EINPUT,
                           "%s: its config attribute differs from %s's: shards of different "
                           "experiments cannot be merged",
                           inputs[i], inputs[0]);
        else if (!same_target(acc, d))
            rc = xfer_fail(err, XFER_EINPUT, "%s: its /target differs from %s's", inputs[i],
                           inputs[0]);
        if (rc == XFER_OK) {
            complete = complete && d->complete;
            if (!acc->has_target && d->has_target) { /* take the target from this shard */
                xfer_results_data tmp = *acc;
                acc->has_target = 1;
                acc->dataset = d->dataset;
                acc->n_train = d->n_train;
                acc->n_test = d->n_test;
                acc->n_classes = d->n_classes;
                acc->class_names = d->class_names;
                acc->n_class_names = d->n_class_names;
                acc->train_files = d->train_files;
                acc->n_train_files = d->n_train_files;
                acc->test_files = d->test_files;
                acc->n_test_files = d->n_test_files;
                d->dataset = tmp.dataset;
                d->class_names = d->train_files = d->test_files = NULL;
                d->n_class_names = d->n_train_files = d->n_test_files = 0;
            }
            rc = take_sources(acc, d, inputs[i], err);
        }
        if (rc == XFER_OK) rc = rr_merge_prune(acc, d, inputs[i], err);
        xfer_results_data_free(d);
    }
    if (rc == XFER_OK) {
        acc->complete = complete;
        if (acc->n_sources) qsort(acc->sources, acc->n_sources, sizeof *acc->sources, cmp_source);
        rc = rr_pool_scores(acc, err); /* over the union of the shards' sources */
    }
    if (rc == XFER_OK) {
        rc = xfer_results_write_all(out, acc, overwrite, err);
    }
    xfer_results_data_free(acc);
    return rc;
}
