/* Reading a whole results file into xfer_results_data (report, merge, correlations, resume). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "results_h5.h"
#include "results_internal.h"

const char *const XFER_CORR_NAMES[XFER_CORR_N] = {
    "pearson",     "spearman",         "kendall",      "weighted_tau",
    "top1_hit",    "top1_gap",         "pearson_auc",  "spearman_auc",
    "kendall_auc", "weighted_tau_auc", "top1_hit_auc", "top1_gap_auc"};

int rr_open(const char *path, hid_t *out, xfer_err *err) {
    rh5_silence();
    *out = -1;
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0)
        return xfer_fail(err, XFER_EINPUT, "%s: %s", path,
                         is == 0 ? "not an HDF5 file (truncated or another format?)"
                                 : "cannot be read (missing or unreadable?)");
    hid_t fapl = rh5_fapl();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    if (f < 0) return xfer_fail(err, XFER_EINPUT, "%s: cannot open as HDF5 (truncated?)", path);
    *out = f;
    return XFER_OK;
}

static void free_source(xfer_results_source *s) {
    free(s->name);
    free(s->arch);
    free(s->weights);
    free(s->chain);
    free(s->error);
    for (size_t i = 0; i < s->n_scores; i++) {
        free(s->scores[i].metric);
        free(s->scores[i].error);
        free(s->scores[i].terms);
    }
    free(s->scores);
    free(s->epoch);
    free(s->lr);
    free(s->train_loss);
    free(s->train_acc);
    free(s->test_loss);
    free(s->test_acc);
    free(s->seconds);
    for (size_t k = 0; k < s->n_seeds; k++) {
        xfer_results_seed *r = &s->seeds[k];
        free(r->epoch);
        free(r->lr);
        free(r->train_loss);
        free(r->train_acc);
        free(r->test_loss);
        free(r->test_acc);
        free(r->seconds);
    }
    free(s->seeds);
}

void xfer_results_corr_free(xfer_results_corr *c, size_t n) {
    if (!c) return;
    for (size_t i = 0; i < n; i++) {
        free(c[i].arch);
        free(c[i].metric);
        free(c[i].reason);
    }
    free(c);
}

void rr_clear(xfer_results_data *d) {
    free(d->xfer_version);
    free(d->config);
    free(d->created);
    free(d->device);
    free(d->precision);
    free(d->dataset);
    rh5_free_strs(d->class_names, d->n_class_names);
    rh5_free_strs(d->train_files, d->n_train_files);
    rh5_free_strs(d->test_files, d->n_test_files);
    for (size_t i = 0; i < d->n_sources; i++)
        free_source(&d->sources[i]);
    free(d->sources);
    xfer_results_corr_free(d->corr, d->n_corr);
    xfer_results_prune_free(d->prune);
    memset(d, 0, sizeof *d);
}

void xfer_results_data_free(xfer_results_data *d) {
    if (!d) return;
    rr_clear(d);
    free(d);
}

static int bad_file(xfer_err *err, const char *path, const char *what) {
    return xfer_fail(err, XFER_EINPUT, "%s: not a valid xfer results file: %s", path, what);
}

/* Reads a one-element numeric dataset as a double; -1 for any other shape or type (a score
 * dataset holding several values overflowed &o->value before: found by fuzz_results). */
static int read_scalar_f64(hid_t d, double *out) {
    hid_t sp = H5Dget_space(d), ft = H5Dget_type(d);
    int ok = sp >= 0 && ft >= 0 && H5Sget_simple_extent_npoints(sp) == 1 &&
             (H5Tget_class(ft) == H5T_FLOAT || H5Tget_class(ft) == H5T_INTEGER);
    if (ft >= 0) H5Tclose(ft);
    if (sp >= 0) H5Sclose(sp);
    return ok && H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0 ? 0 : -1;
}

/* The optional `terms` attribute of a pool-level score: a 1-D float array of at most
 * XFER_RESULTS_MAX_TERMS values; 0 when absent, -1 when malformed. */
#define XFER_RESULTS_MAX_TERMS 16
static int read_terms(hid_t d, xfer_results_score *o) {
    if (H5Aexists(d, "terms") <= 0) return 0;
    hid_t a = H5Aopen(d, "terms", H5P_DEFAULT);
    hid_t sp = a < 0 ? -1 : H5Aget_space(a), t = a < 0 ? -1 : H5Aget_type(a);
    hssize_t n = sp < 0 ? -1 : H5Sget_simple_extent_npoints(sp);
    int ok = t >= 0 && H5Tget_class(t) == H5T_FLOAT && n >= 1 && n <= XFER_RESULTS_MAX_TERMS &&
             H5Sget_simple_extent_ndims(sp) == 1;
    if (ok) {
        o->terms = malloc((size_t)n * sizeof *o->terms);
        ok = o->terms && H5Aread(a, H5T_NATIVE_DOUBLE, o->terms) >= 0;
        if (ok) o->n_terms = (size_t)n;
    }
    if (t >= 0) H5Tclose(t);
    if (sp >= 0) H5Sclose(sp);
    if (a >= 0) H5Aclose(a);
    return ok ? 0 : -1;
}

static int read_scores(hid_t g, xfer_results_source *s, const char *path, xfer_err *err) {
    hid_t sc = H5Gopen2(g, "scores", H5P_DEFAULT);
    if (sc < 0) return bad_file(err, path, "a source has no scores group");
    char **names = NULL;
    size_t n = 0;
    int rc = XFER_OK;
    if (rh5_list(sc, &names, &n) < 0) rc = bad_file(err, path, "unreadable scores group");
    if (rc == XFER_OK && n) {
        s->scores = calloc(n, sizeof *s->scores);
        if (!s->scores) rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
    }
    for (size_t i = 0; rc == XFER_OK && i < n; i++) {
        xfer_results_score *o = &s->scores[i];
        o->metric = names[i];
        names[i] = NULL;
        s->n_scores++;
        hid_t d = H5Dopen2(sc, o->metric, H5P_DEFAULT);
        int64_t dir = 1;
        o->mean = NAN;
        if (d < 0 || read_scalar_f64(d, &o->value) < 0 ||
            rh5_get_f64(d, "seconds", &o->seconds) < 0 || rh5_get_i64(d, "direction", &dir) < 0) {
            xfer_fail(err, XFER_EINPUT, "%s: unreadable score /sources/%s/scores/%s", path, s->name,
                      o->metric);
            rc = XFER_EINPUT;
        }
        if (d >= 0 && H5Aexists(d, "mean") > 0) rh5_get_f64(d, "mean", &o->mean);
        if (rc == XFER_OK && H5Aexists(d, "kind") > 0) {
            char *kind = NULL;
            if (rh5_get_str(d, "kind", &kind) == 0 && !strcmp(kind, "baseline"))
                o->kind = XFER_SCORE_BASELINE;
            free(kind);
        }
        if (rc == XFER_OK && H5Aexists(d, "error") > 0 && rh5_get_str(d, "error", &o->error) < 0)
            o->error = NULL;
        if (rc == XFER_OK && read_terms(d, o) < 0) {
            xfer_fail(err, XFER_EINPUT, "%s: malformed terms of /sources/%s/scores/%s", path,
                      s->name, o->metric);
            rc = XFER_EINPUT;
        }
        o->direction = dir < 0 ? -1 : 1;
        if (d >= 0) H5Dclose(d);
    }
    rh5_free_strs(names, n);
    H5Gclose(sc);
    return rc;
}

/* Reads the curve group `cv` ("curve" or "seeds/<i>/curve") of source group g into r. */
static int read_curve(hid_t g, const char *source, const char *cv, xfer_results_seed *r,
                      const char *path, xfer_err *err) {
    double **cols[RES_CURVE_FIELDS] = {NULL,          &r->lr,       &r->train_loss, &r->train_acc,
                                       &r->test_loss, &r->test_acc, &r->seconds};
    size_t n = 0, m = 0;
    char p[96];
    snprintf(p, sizeof p, "%s/%s", cv, RES_CURVE_NAMES[0]);
    if (rh5_read_column(g, p, H5T_NATIVE_INT64, (void **)&r->epoch, &n) < 0)
        return xfer_fail(err, XFER_EINPUT, "%s: unreadable /sources/%s/%s", path, source, p);
    for (int k = 1; k < RES_CURVE_FIELDS; k++) {
        snprintf(p, sizeof p, "%s/%s", cv, RES_CURVE_NAMES[k]);
        if (rh5_read_column(g, p, H5T_NATIVE_DOUBLE, (void **)cols[k], &m) < 0 || m != n)
            return xfer_fail(err, XFER_EINPUT, "%s: /sources/%s/%s is missing or not %zu long",
                             path, source, p, n);
    }
    r->n_epochs = n;
    res_summary sm;
    res_curve_summary(r->epoch, r->test_acc, n, &sm);
    r->best_test_acc = sm.best;
    r->curve_auc = sm.auc;
    r->best_epoch = sm.best_epoch;
    r->epochs_to_95pct = sm.to95;
    return XFER_OK;
}

static int dup_col(const void *src, size_t elem, size_t n, void **out) {
    *out = malloc((n ? n : 1) * elem);
    if (!*out) return -1;
    if (n) memcpy(*out, src, n * elem);
    return 0;
}

/* The first fine-tune (/curve) and the others (/seeds/<i>/curve, in index order). */
static int read_curves(hid_t g, xfer_results_source *s, int64_t seed0, const char *path,
                       xfer_err *err) {
    int *idx = NULL;
    size_t nn = 0;
    if (res_list_seeds(g, &idx, &nn) < 0)
        return xfer_fail(err, XFER_EINPUT, "%s: unreadable /sources/%s/seeds", path, s->name);
    s->seeds = calloc(nn, sizeof *s->seeds);
    int rc = s->seeds ? XFER_OK : xfer_fail(err, XFER_EINTERNAL, "out of memory");
    if (rc == XFER_OK) {
        s->n_seeds = 1;
        s->seeds[0].seed = seed0;
        rc = read_curve(g, s->name, "curve", &s->seeds[0], path, err);
    }
    for (size_t i = 1; rc == XFER_OK && i < nn; i++) {
        xfer_results_seed *r = &s->seeds[s->n_seeds++];
        char p[96];
        snprintf(p, sizeof p, "seeds/%d", idx[i]);
        hid_t sg = H5Gopen2(g, p, H5P_DEFAULT);
        if (sg < 0 || rh5_get_i64(sg, "seed", &r->seed) < 0)
            rc = xfer_fail(err, XFER_EINPUT, "%s: /sources/%s/%s: no seed attribute", path, s->name,
                           p);
        if (sg >= 0) H5Gclose(sg);
        snprintf(p, sizeof p, "seeds/%d/curve", idx[i]);
        if (rc == XFER_OK) rc = read_curve(g, s->name, p, r, path, err);
    }
    free(idx);
    if (rc) return rc;
    /* the first fine-tune's curve, also where readers of one curve look */
    const xfer_results_seed *c = &s->seeds[0];
    size_t n = c->n_epochs, d = sizeof(double);
    s->n_epochs = n;
    if (dup_col(c->epoch, sizeof(int64_t), n, (void **)&s->epoch) < 0 ||
        dup_col(c->lr, d, n, (void **)&s->lr) < 0 ||
        dup_col(c->train_loss, d, n, (void **)&s->train_loss) < 0 ||
        dup_col(c->train_acc, d, n, (void **)&s->train_acc) < 0 ||
        dup_col(c->test_loss, d, n, (void **)&s->test_loss) < 0 ||
        dup_col(c->test_acc, d, n, (void **)&s->test_acc) < 0 ||
        dup_col(c->seconds, d, n, (void **)&s->seconds) < 0)
        return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    return XFER_OK;
}

static int read_source(hid_t f, xfer_results_source *s, int64_t seed0, const char *path,
                       xfer_err *err) {
    char p[256], *status = NULL;
    snprintf(p, sizeof p, "sources/%s", s->name);
    hid_t g = H5Gopen2(f, p, H5P_DEFAULT);
    if (g < 0) return xfer_fail(err, XFER_EINPUT, "%s: cannot open /%s", path, p);
    int rc = XFER_OK;
    if (rh5_get_str(g, "arch", &s->arch) < 0 || rh5_get_str(g, "weights", &s->weights) < 0 ||
        rh5_get_str(g, "chain", &s->chain) < 0 || rh5_get_str(g, "error", &s->error) < 0 ||
        rh5_get_str(g, "status", &status) < 0 || xfer_src_status_parse(status, &s->status) < 0 ||
        rh5_get_f64(g, "best_test_acc", &s->best_test_acc) < 0 ||
        rh5_get_f64(g, "curve_auc", &s->curve_auc) < 0 ||
        rh5_get_i64(g, "best_epoch", &s->best_epoch) < 0 ||
        rh5_get_i64(g, "epochs_to_95pct", &s->epochs_to_95pct) < 0)
        rc = xfer_fail(err, XFER_EINPUT, "%s: /%s: missing or invalid attributes", path, p);
    free(status);
    /* older files (one fine-tune per source) have no standard deviations */
    s->best_test_acc_sd = s->curve_auc_sd = NAN;
    if (rc == XFER_OK && H5Aexists(g, "best_test_acc_sd") > 0)
        rh5_get_f64(g, "best_test_acc_sd", &s->best_test_acc_sd);
    if (rc == XFER_OK && H5Aexists(g, "curve_auc_sd") > 0)
        rh5_get_f64(g, "curve_auc_sd", &s->curve_auc_sd);
    if (rc == XFER_OK) rc = read_scores(g, s, path, err);
    if (rc == XFER_OK) rc = read_curves(g, s, seed0, path, err);
    H5Gclose(g);
    return rc;
}

static int read_target(hid_t f, xfer_results_data *d, const char *path, xfer_err *err) {
    if (!rh5_exists(f, "target")) return XFER_OK;
    hid_t g = H5Gopen2(f, "target", H5P_DEFAULT);
    if (g < 0) return bad_file(err, path, "unreadable /target");
    int bad = rh5_get_str(g, "dataset", &d->dataset) < 0 ||
              rh5_get_i64(g, "n_train", &d->n_train) < 0 ||
              rh5_get_i64(g, "n_test", &d->n_test) < 0 ||
              rh5_get_i64(g, "n_classes", &d->n_classes) < 0 ||
              rh5_read_strs(g, "class_names", &d->class_names, &d->n_class_names) < 0 ||
              rh5_read_strs(g, "train_files", &d->train_files, &d->n_train_files) < 0 ||
              rh5_read_strs(g, "test_files", &d->test_files, &d->n_test_files) < 0;
    H5Gclose(g);
    if (bad) return bad_file(err, path, "/target is incomplete");
    d->has_target = 1;
    return XFER_OK;
}

static int read_corr_group(hid_t g, const char *arch, const char *metric, xfer_results_data *d) {
    xfer_results_corr *c = realloc(d->corr, (d->n_corr + 1) * sizeof *c);
    if (!c) return -1;
    d->corr = c;
    c = &d->corr[d->n_corr];
    memset(c, 0, sizeof *c);
    d->n_corr++;
    c->arch = arch ? rh5_strdup(arch) : NULL;
    c->metric = rh5_strdup(metric);
    int64_t dir = 1;
    if ((arch && !c->arch) || !c->metric || rh5_get_i64(g, "n", &c->n) < 0 ||
        rh5_get_i64(g, "direction", &dir) < 0)
        return -1;
    c->direction = dir < 0 ? -1 : 1;
    for (int k = 0; k < XFER_CORR_N; k++)
        if (rh5_get_f64(g, XFER_CORR_NAMES[k], &c->v[k]) < 0) return -1;
    if (H5Aexists(g, "empty_reason") > 0 && rh5_get_str(g, "empty_reason", &c->reason) < 0)
        return -1;
    /* the bootstrap interval (absent in older files) */
    c->kendall_lo = c->kendall_hi = NAN;
    if (H5Aexists(g, "kendall_lo") > 0 && rh5_get_f64(g, "kendall_lo", &c->kendall_lo) < 0)
        return -1;
    if (H5Aexists(g, "kendall_hi") > 0 && rh5_get_f64(g, "kendall_hi", &c->kendall_hi) < 0)
        return -1;
    if (H5Aexists(g, "n_boot") > 0 && rh5_get_i64(g, "n_boot", &c->n_boot) < 0) return -1;
    return 0;
}

/* Reads the metric groups under loc (correlations or correlations_by_arch/<arch>). */
static int read_corr_metrics(hid_t loc, const char *arch, xfer_results_data *d) {
    char **names = NULL;
    size_t n = 0;
    if (rh5_list(loc, &names, &n) < 0) return -1;
    int bad = 0;
    for (size_t i = 0; !bad && i < n; i++) {
        hid_t g = H5Gopen2(loc, names[i], H5P_DEFAULT);
        bad = g < 0 || read_corr_group(g, arch, names[i], d) < 0;
        if (g >= 0) H5Gclose(g);
    }
    rh5_free_strs(names, n);
    return bad ? -1 : 0;
}

static int read_corr(hid_t f, xfer_results_data *d, const char *path, xfer_err *err) {
    int bad = 0;
    if (rh5_exists(f, "correlations")) {
        hid_t g = H5Gopen2(f, "correlations", H5P_DEFAULT);
        bad = g < 0 || read_corr_metrics(g, NULL, d) < 0;
        if (g >= 0) H5Gclose(g);
    }
    if (!bad && rh5_exists(f, "correlations_by_arch")) {
        hid_t by = H5Gopen2(f, "correlations_by_arch", H5P_DEFAULT);
        char **arch = NULL;
        size_t n = 0;
        bad = by < 0 || rh5_list(by, &arch, &n) < 0;
        for (size_t i = 0; !bad && i < n; i++) {
            hid_t g = H5Gopen2(by, arch[i], H5P_DEFAULT);
            bad = g < 0 || read_corr_metrics(g, arch[i], d) < 0;
            if (g >= 0) H5Gclose(g);
        }
        rh5_free_strs(arch, n);
        if (by >= 0) H5Gclose(by);
    }
    return bad ? bad_file(err, path, "unreadable correlations") : XFER_OK;
}

int rr_read(hid_t f, const char *path, xfer_results_data *d, xfer_err *err) {
    memset(d, 0, sizeof *d);
    int64_t complete = 0;
    if (rh5_get_str(f, "xfer_version", &d->xfer_version) < 0)
        return bad_file(err, path, "no root attribute xfer_version");
    if (rh5_get_str(f, "config", &d->config) < 0 || rh5_get_str(f, "created", &d->created) < 0 ||
        rh5_get_str(f, "device", &d->device) < 0 ||
        rh5_get_str(f, "precision", &d->precision) < 0 || rh5_get_i64(f, "seed", &d->seed) < 0 ||
        rh5_get_i64(f, "complete", &complete) < 0)
        return bad_file(err, path, "missing root attributes");
    d->complete = complete != 0;
    int rc = read_target(f, d, path, err);
    if (rc) return rc;
    if (rh5_exists(f, "sources")) {
        hid_t g = H5Gopen2(f, "sources", H5P_DEFAULT);
        char **names = NULL;
        size_t n = 0;
        if (g < 0 || rh5_list(g, &names, &n) < 0) {
            if (g >= 0) H5Gclose(g);
            return bad_file(err, path, "unreadable /sources");
        }
        H5Gclose(g);
        d->sources = calloc(n ? n : 1, sizeof *d->sources);
        if (!d->sources) {
            rh5_free_strs(names, n);
            return xfer_fail(err, XFER_EINTERNAL, "out of memory");
        }
        for (size_t i = 0; i < n; i++) {
            d->sources[i].name = names[i];
            names[i] = NULL;
        }
        d->n_sources = n;
        free(names);
        for (size_t i = 0; rc == XFER_OK && i < n; i++)
            rc = read_source(f, &d->sources[i], d->seed, path, err);
        if (rc) return rc;
    }
    rc = read_corr(f, d, path, err);
    if (rc == XFER_OK) rc = rr_pool_scores(d, err);
    return rc ? rc : rr_read_prune(f, d, path, err);
}

int xfer_results_read(const char *path, xfer_results_data **out, xfer_err *err) {
    *out = NULL;
    hid_t f;
    int rc = rr_open(path, &f, err);
    if (rc) return rc;
    xfer_results_data *d = calloc(1, sizeof *d);
    if (!d) {
        H5Fclose(f);
        return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    }
    rc = rr_read(f, path, d, err);
    H5Fclose(f);
    if (rc) {
        xfer_results_data_free(d);
        return rc;
    }
    *out = d;
    return XFER_OK;
}

const xfer_results_source *xfer_results_find_source(const xfer_results_data *d, const char *name) {
    for (size_t i = 0; i < d->n_sources; i++)
        if (strcmp(d->sources[i].name, name) == 0) return &d->sources[i];
    return NULL;
}

const xfer_results_score *xfer_results_find_score(const xfer_results_source *s,
                                                  const char *metric) {
    for (size_t i = 0; i < s->n_scores; i++)
        if (strcmp(s->scores[i].metric, metric) == 0) return &s->scores[i];
    return NULL;
}
