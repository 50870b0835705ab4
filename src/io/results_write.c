/* Writing the results schema (docs/results.md) into an open HDF5 file. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "results_h5.h"
#include "results_internal.h"
#include "xfer/version.h"

const char *const RES_CURVE_NAMES[RES_CURVE_FIELDS] = {
    "epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc", "seconds"};

/* epochs_to_95pct: the first epoch reaching this fraction of the best test accuracy. */
#define RES_CONVERGED_FRACTION 0.95

static const char *const STATUS_NAMES[XFER_SRC_N_STATUS] = {"pending", "scored", "done", "failed",
                                                            "pruned"};

const char *xfer_src_status_name(xfer_src_status s) {
    return (unsigned)s < XFER_SRC_N_STATUS ? STATUS_NAMES[s] : "unknown";
}

int xfer_src_status_parse(const char *name, xfer_src_status *out) {
    for (int i = 0; i < XFER_SRC_N_STATUS; i++)
        if (name && strcmp(name, STATUS_NAMES[i]) == 0) {
            *out = (xfer_src_status)i;
            return 0;
        }
    return -1;
}

static int h5fail(xfer_err *err, const char *path, const char *what, const char *obj) {
    return xfer_fail(err, XFER_EINTERNAL, "%s: HDF5 error while %s %s", path, what, obj);
}

static int check_name(const char *kind, const char *name, const char *path, xfer_err *err) {
    if (!name || !name[0] || strchr(name, '/') || strcmp(name, ".") == 0 || strlen(name) > 200)
        return xfer_fail(err, XFER_EINPUT, "%s: invalid %s name '%s' (empty, '/' or too long)",
                         path, kind, name ? name : "(null)");
    return XFER_OK;
}

int rw_root(hid_t f, const xfer_results_meta *m, int complete, const char *path, xfer_err *err) {
    char now[32];
    const char *created = m->created;
    if (!created) {
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
        created = now;
    }
    if (rh5_set_str(f, "xfer_version", m->xfer_version ? m->xfer_version : XFER_VERSION) < 0 ||
        rh5_set_str(f, "config", m->config) < 0 || rh5_set_str(f, "created", created) < 0 ||
        rh5_set_str(f, "device", m->device) < 0 || rh5_set_str(f, "precision", m->precision) < 0 ||
        rh5_set_i64(f, "seed", m->seed) < 0 || rh5_set_i64(f, "complete", complete ? 1 : 0) < 0)
        return h5fail(err, path, "writing", "the root attributes");
    if (!rh5_exists(f, "sources")) {
        hid_t g = H5Gcreate2(f, "sources", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0) return h5fail(err, path, "creating", "/sources");
        H5Gclose(g);
    }
    return XFER_OK;
}

int rw_complete(hid_t f, int complete, const char *path, xfer_err *err) {
    if (rh5_set_i64(f, "complete", complete ? 1 : 0) < 0)
        return h5fail(err, path, "writing", "the attribute complete");
    return XFER_OK;
}

int rw_target(hid_t f, const xfer_results_target *t, const char *path, xfer_err *err) {
    if (rh5_exists(f, "target") && H5Ldelete(f, "target", H5P_DEFAULT) < 0)
        return h5fail(err, path, "replacing", "/target");
    hid_t g = H5Gcreate2(f, "target", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return h5fail(err, path, "creating", "/target");
    int bad =
        rh5_set_str(g, "dataset", t->dataset) < 0 || rh5_set_i64(g, "n_train", t->n_train) < 0 ||
        rh5_set_i64(g, "n_test", t->n_test) < 0 || rh5_set_i64(g, "n_classes", t->n_classes) < 0 ||
        rh5_write_strs(g, "class_names", t->class_names,
                       t->class_names ? (size_t)t->n_classes : 0) < 0 ||
        rh5_write_strs(g, "train_files", t->train_files, t->train_files ? t->n_train_files : 0) <
            0 ||
        rh5_write_strs(g, "test_files", t->test_files, t->test_files ? t->n_test_files : 0) < 0;
    H5Gclose(g);
    return bad ? h5fail(err, path, "writing", "/target") : XFER_OK;
}

static hid_t open_source(hid_t f, const char *source, const char *path, xfer_err *err) {
    char p[256];
    if (check_name("source", source, path, err)) return -1;
    snprintf(p, sizeof p, "sources/%s", source);
    if (!rh5_exists(f, p)) {
        xfer_fail(err, XFER_EINPUT, "%s: no source '%s' in /sources", path, source);
        return -1;
    }
    hid_t g = H5Gopen2(f, p, H5P_DEFAULT);
    if (g < 0) h5fail(err, path, "opening", p);
    return g;
}

static int same_attr(hid_t g, const char *name, const char *want) {
    char *have = NULL;
    int same = rh5_get_str(g, name, &have) == 0 && strcmp(have, want ? want : "") == 0;
    free(have);
    return same;
}

/* An empty curve group (one growable column per field) at name under loc. */
static int create_curve(hid_t loc, const char *name) {
    hid_t cv = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int bad = cv < 0;
    for (int i = 0; !bad && i < RES_CURVE_FIELDS; i++)
        bad = rh5_create_column(cv, RES_CURVE_NAMES[i],
                                i == 0 ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE) < 0;
    if (cv >= 0) H5Gclose(cv);
    return bad ? -1 : 0;
}

int rw_add_source(hid_t f, const xfer_results_source_info *s, const char *path, xfer_err *err) {
    if (check_name("source", s->name, path, err)) return err->code;
    /* the arch names a group under /correlations_by_arch */
    if (check_name("arch", s->arch, path, err)) return err->code;
    char p[256];
    snprintf(p, sizeof p, "sources/%s", s->name);
    if (rh5_exists(f, p)) {
        hid_t g = H5Gopen2(f, p, H5P_DEFAULT);
        if (g < 0) return h5fail(err, path, "opening", p);
        int same = same_attr(g, "arch", s->arch) && same_attr(g, "weights", s->weights) &&
                   same_attr(g, "chain", s->chain);
        H5Gclose(g);
        if (!same)
            return xfer_fail(err, XFER_EINPUT,
                             "%s: source '%s' already exists with a different arch, weights or "
                             "chain (a results file from another config?)",
                             path, s->name);
        return XFER_OK;
    }
    if (!rh5_exists(f, "sources")) {
        hid_t sg = H5Gcreate2(f, "sources", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (sg < 0) return h5fail(err, path, "creating", "/sources");
        H5Gclose(sg);
    }
    hid_t g = H5Gcreate2(f, p, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return h5fail(err, path, "creating", p);
    int bad = rh5_set_str(g, "arch", s->arch) < 0 || rh5_set_str(g, "weights", s->weights) < 0 ||
              rh5_set_str(g, "chain", s->chain) < 0 || rh5_set_str(g, "status", "pending") < 0 ||
              rh5_set_str(g, "error", "") < 0 || rh5_set_f64(g, "best_test_acc", NAN) < 0 ||
              rh5_set_i64(g, "best_epoch", -1) < 0 || rh5_set_i64(g, "epochs_to_95pct", -1) < 0 ||
              rh5_set_f64(g, "curve_auc", NAN) < 0;
    hid_t sc = bad ? -1 : H5Gcreate2(g, "scores", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bad = sc < 0 || create_curve(g, "curve") < 0;
    if (sc >= 0) H5Gclose(sc);
    H5Gclose(g);
    return bad ? h5fail(err, path, "creating", p) : XFER_OK;
}

void res_curve_summary(const int64_t *ep, const double *acc, size_t n, res_summary *o) {
    double best = NAN, sum = 0;
    int64_t best_epoch = -1, to95 = -1;
    size_t nfin = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(acc[i])) continue;
        sum += acc[i];
        nfin++;
        if (isnan(best) || acc[i] > best) {
            best = acc[i];
            best_epoch = ep[i];
        }
    }
    for (size_t i = 0; !isnan(best) && i < n; i++)
        if (isfinite(acc[i]) && acc[i] >= RES_CONVERGED_FRACTION * best) {
            to95 = ep[i];
            break;
        }
    o->best = best;
    o->auc = nfin ? sum / (double)nfin : NAN;
    o->best_epoch = best_epoch;
    o->to95 = to95;
}

/* The curve group of fine-tune `index` of the source group g ("curve" or "seeds/<i>/curve"). */
static void curve_name(int index, char *buf, size_t n) {
    if (index == 0)
        snprintf(buf, n, "curve");
    else
        snprintf(buf, n, "seeds/%d/curve", index);
}

/* Mean and sample standard deviation of the finite values of v (NaN when there are none; the sd
 * is NaN below two values). */
static void mean_sd(const double *v, size_t n, double *mean, double *sd) {
    double sum = 0, ss = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            sum += v[i];
            m++;
        }
    *mean = m ? sum / (double)m : NAN;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) ss += (v[i] - *mean) * (v[i] - *mean);
    *sd = m > 1 ? sqrt(ss / (double)(m - 1)) : NAN;
}

int res_list_seeds(hid_t g, int **out, size_t *n) {
    char **names = NULL;
    size_t nn = 0;
    *out = NULL;
    *n = 0;
    if (rh5_exists(g, "seeds")) {
        hid_t sg = H5Gopen2(g, "seeds", H5P_DEFAULT);
        int bad = sg < 0 || rh5_list(sg, &names, &nn) < 0;
        if (sg >= 0) H5Gclose(sg);
        if (bad) return -1;
    }
    int *v = malloc((nn + 1) * sizeof *v);
    if (!v) {
        rh5_free_strs(names, nn);
        return -1;
    }
    v[0] = 0;
    size_t m = 1;
    for (size_t i = 0; i < nn; i++) {
        char *end;
        long k = strtol(names[i], &end, 10);
        if (*end || k < 1 || k > 1000000) continue; /* not a fine-tune index: ignored */
        size_t j = m++;
        for (; j > 1 && v[j - 1] > k; j--)
            v[j] = v[j - 1];
        v[j] = (int)k;
    }
    rh5_free_strs(names, nn);
    *out = v;
    *n = m;
    return 0;
}

/* The summary attributes are functions of the curves, so they are recomputed, never supplied:
 * each fine-tune's own (on seeds/<i>), and the source's over its fine-tunes. */
static int write_summary(hid_t g, const char *path, const char *source, xfer_err *err) {
    int *idx = NULL;
    size_t ns = 0;
    if (res_list_seeds(g, &idx, &ns) < 0)
        return xfer_fail(err, XFER_EINPUT, "%s: /sources/%s/seeds is unreadable", path, source);
    double *best = calloc(ns, sizeof *best), *auc = calloc(ns, sizeof *auc);
    double *sum = NULL, *cnt = NULL;
    int64_t *mep = NULL;
    size_t len = 0;
    int rc = best && auc ? XFER_OK : xfer_fail(err, XFER_EINTERNAL, "out of memory");
    for (size_t k = 0; rc == XFER_OK && k < ns; k++) {
        char cv[64], p[80];
        curve_name(idx[k], cv, sizeof cv);
        int64_t *ep = NULL;
        double *acc = NULL;
        size_t ne = 0, na = 0;
        snprintf(p, sizeof p, "%s/epoch", cv);
        int bad = rh5_read_column(g, p, H5T_NATIVE_INT64, (void **)&ep, &ne) < 0;
        snprintf(p, sizeof p, "%s/test_acc", cv);
        bad = bad || rh5_read_column(g, p, H5T_NATIVE_DOUBLE, (void **)&acc, &na) < 0 || ne != na;
        if (bad) {
            rc = xfer_fail(err, XFER_EINPUT, "%s: /sources/%s/%s is missing or inconsistent", path,
                           source, cv);
        } else {
            res_summary sm;
            res_curve_summary(ep, acc, na, &sm);
            best[k] = sm.best;
            auc[k] = sm.auc;
            if (idx[k] > 0) { /* a repeated fine-tune keeps its own summary */
                snprintf(p, sizeof p, "seeds/%d", idx[k]);
                hid_t sg = H5Gopen2(g, p, H5P_DEFAULT);
                if (sg < 0 || rh5_set_f64(sg, "best_test_acc", sm.best) < 0 ||
                    rh5_set_i64(sg, "best_epoch", sm.best_epoch) < 0 ||
                    rh5_set_i64(sg, "epochs_to_95pct", sm.to95) < 0 ||
                    rh5_set_f64(sg, "curve_auc", sm.auc) < 0)
                    rc = h5fail(err, path, "writing the summary of a fine-tune of", source);
                if (sg >= 0) H5Gclose(sg);
            }
            /* the mean curve: per row, the mean of the finite test accuracies */
            if (rc == XFER_OK && na > len) {
                double *s2 = realloc(sum, na * sizeof *s2),
                       *c2 = s2 ? realloc(cnt, na * sizeof *c2) : NULL;
                int64_t *e2 = c2 ? realloc(mep, na * sizeof *e2) : NULL;
                if (s2) sum = s2;
                if (c2) cnt = c2;
                if (e2) mep = e2;
                if (!e2) {
                    rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
                } else {
                    for (size_t i = len; i < na; i++) {
                        sum[i] = cnt[i] = 0;
                        mep[i] = ep[i];
                    }
                    len = na;
                }
            }
            for (size_t i = 0; rc == XFER_OK && i < na; i++)
                if (isfinite(acc[i])) {
                    sum[i] += acc[i];
                    cnt[i] += 1;
                }
        }
        free(ep);
        free(acc);
    }
    if (rc == XFER_OK) {
        for (size_t i = 0; i < len; i++)
            sum[i] = cnt[i] > 0 ? sum[i] / cnt[i] : NAN;
        res_summary mc;
        res_curve_summary(mep, sum, len, &mc);
        double bm, bsd, am, asd;
        mean_sd(best, ns, &bm, &bsd);
        mean_sd(auc, ns, &am, &asd);
        if (rh5_set_f64(g, "best_test_acc", bm) < 0 ||
            rh5_set_f64(g, "best_test_acc_sd", bsd) < 0 ||
            rh5_set_i64(g, "best_epoch", mc.best_epoch) < 0 ||
            rh5_set_i64(g, "epochs_to_95pct", mc.to95) < 0 || rh5_set_f64(g, "curve_auc", am) < 0 ||
            rh5_set_f64(g, "curve_auc_sd", asd) < 0 || rh5_set_i64(g, "n_seeds", (int64_t)ns) < 0)
            rc = h5fail(err, path, "writing the summary of source", source);
    }
    free(idx);
    free(best);
    free(auc);
    free(sum);
    free(cnt);
    free(mep);
    return rc;
}

int rw_status(hid_t f, const char *source, xfer_src_status st, const char *error, const char *path,
              xfer_err *err) {
    if ((unsigned)st >= XFER_SRC_N_STATUS)
        return xfer_fail(err, XFER_EINTERNAL, "%s: invalid status %d for source '%s'", path,
                         (int)st, source);
    hid_t g = open_source(f, source, path, err);
    if (g < 0) return err->code;
    int rc = XFER_OK;
    if (rh5_set_str(g, "status", xfer_src_status_name(st)) < 0 ||
        rh5_set_str(g, "error", error ? error : "") < 0)
        rc = h5fail(err, path, "writing the status of source", source);
    if (rc == XFER_OK) rc = write_summary(g, path, source, err);
    H5Gclose(g);
    return rc;
}

/* The `terms` attribute of a pool-level score: a float64 array. */
static int set_terms(hid_t d, const double *v, size_t n) {
    hsize_t dim = n;
    hid_t sp = H5Screate_simple(1, &dim, NULL);
    hid_t a = sp < 0 ? -1 : H5Acreate2(d, "terms", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int bad = a < 0 || H5Awrite(a, H5T_NATIVE_DOUBLE, v) < 0;
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    return bad ? -1 : 0;
}

int rw_score(hid_t f, const char *source, const xfer_results_score *s, const char *path,
             xfer_err *err) {
    const char *metric = s->metric;
    if (check_name("metric", metric, path, err)) return err->code;
    if (s->direction != 1 && s->direction != -1)
        return xfer_fail(err, XFER_EINTERNAL, "%s: metric '%s': direction must be +1 or -1", path,
                         metric);
    hid_t g = open_source(f, source, path, err);
    if (g < 0) return err->code;
    hid_t sc = rh5_exists(g, "scores")
                   ? H5Gopen2(g, "scores", H5P_DEFAULT)
                   : H5Gcreate2(g, "scores", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int bad = sc < 0;
    if (!bad && H5Lexists(sc, metric, H5P_DEFAULT) > 0)
        bad = H5Ldelete(sc, metric, H5P_DEFAULT) < 0;
    hid_t sp = bad ? -1 : H5Screate(H5S_SCALAR);
    hid_t d =
        sp < 0 ? -1
               : H5Dcreate2(sc, metric, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bad = d < 0 || H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &s->value) < 0 ||
          rh5_set_f64(d, "seconds", s->seconds) < 0 ||
          rh5_set_i64(d, "direction", s->direction) < 0 ||
          (!isnan(s->mean) && rh5_set_f64(d, "mean", s->mean) < 0) ||
          (s->kind == XFER_SCORE_BASELINE && rh5_set_str(d, "kind", "baseline") < 0) ||
          (s->error && rh5_set_str(d, "error", s->error) < 0) ||
          (s->n_terms && set_terms(d, s->terms, s->n_terms) < 0);
    if (d >= 0) H5Dclose(d);
    if (sp >= 0) H5Sclose(sp);
    if (sc >= 0) H5Gclose(sc);
    H5Gclose(g);
    if (bad) {
        char what[512];
        snprintf(what, sizeof what, "/sources/%s/scores/%s", source, metric);
        return h5fail(err, path, "writing", what);
    }
    return XFER_OK;
}

/* Rewrites the value of every pool-level score of d (recomputed by rr_read) in f. */
static int rw_pool_values(hid_t f, const xfer_results_data *d, const char *path, xfer_err *err) {
    for (size_t i = 0; i < d->n_sources; i++)
        for (size_t k = 0; k < d->sources[i].n_scores; k++) {
            const xfer_results_score *s = &d->sources[i].scores[k];
            if (!s->n_terms) continue;
            char what[512];
            snprintf(what, sizeof what, "/sources/%s/scores/%s", d->sources[i].name, s->metric);
            hid_t ds = H5Dopen2(f, what, H5P_DEFAULT);
            int bad = ds < 0 ||
                      H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &s->value) < 0;
            if (ds >= 0) H5Dclose(ds);
            if (bad) return h5fail(err, path, "writing", what);
        }
    return XFER_OK;
}

int rw_add_seed(hid_t f, const char *source, int index, int64_t seed, const char *path,
                xfer_err *err) {
    if (index < 0 || index > XFER_RESULTS_MAX_SEED_INDEX)
        return xfer_fail(err, XFER_EINTERNAL, "%s: fine-tune index %d out of range", path, index);
    hid_t g = open_source(f, source, path, err);
    if (g < 0) return err->code;
    if (index == 0) {
        H5Gclose(g);
        return XFER_OK;
    }
    char p[64];
    snprintf(p, sizeof p, "seeds/%d", index);
    int rc = XFER_OK;
    if (rh5_exists(g, p)) {
        hid_t sg = H5Gopen2(g, p, H5P_DEFAULT);
        int64_t have = -1;
        if (sg < 0 || rh5_get_i64(sg, "seed", &have) < 0)
            rc = h5fail(err, path, "reading the seed of a fine-tune of", source);
        else if (have != seed)
            rc = xfer_fail(err, XFER_EINPUT,
                           "%s: fine-tune %d of source '%s' has seed %lld, not %lld (a results "
                           "file from another config?)",
                           path, index, source, (long long)have, (long long)seed);
        if (sg >= 0) H5Gclose(sg);
        H5Gclose(g);
        return rc;
    }
    hid_t all = rh5_exists(g, "seeds")
                    ? H5Gopen2(g, "seeds", H5P_DEFAULT)
                    : H5Gcreate2(g, "seeds", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    snprintf(p, sizeof p, "%d", index);
    hid_t sg = all < 0 ? -1 : H5Gcreate2(all, p, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int bad = sg < 0 || rh5_set_i64(sg, "seed", seed) < 0 ||
              rh5_set_f64(sg, "best_test_acc", NAN) < 0 || rh5_set_i64(sg, "best_epoch", -1) < 0 ||
              rh5_set_i64(sg, "epochs_to_95pct", -1) < 0 || rh5_set_f64(sg, "curve_auc", NAN) < 0 ||
              create_curve(sg, "curve") < 0;
    if (sg >= 0) H5Gclose(sg);
    if (all >= 0) H5Gclose(all);
    H5Gclose(g);
    return bad ? h5fail(err, path, "creating a fine-tune of source", source) : XFER_OK;
}

/* Opens the curve group of fine-tune index of a source (XFER_EINPUT when it is not registered). */
static hid_t open_curve(hid_t g, const char *source, int index, const char *path, xfer_err *err) {
    char cv[64];
    curve_name(index, cv, sizeof cv);
    if (index < 0 || !rh5_exists(g, cv)) {
        xfer_fail(err, XFER_EINPUT, "%s: source '%s' has no fine-tune %d", path, source, index);
        return -1;
    }
    hid_t c = H5Gopen2(g, cv, H5P_DEFAULT);
    if (c < 0) h5fail(err, path, "opening the curve of source", source);
    return c;
}

int rw_append(hid_t f, const char *source, int index, const xfer_results_epoch *rows, size_t n,
              const char *path, xfer_err *err) {
    hid_t g = open_source(f, source, path, err);
    if (g < 0) return err->code;
    hid_t cv = open_curve(g, source, index, path, err);
    if (cv < 0) {
        H5Gclose(g);
        return err->code;
    }
    int bad = cv < 0;
    int64_t *ep = malloc((n ? n : 1) * sizeof *ep);
    double *col = malloc((n ? n : 1) * sizeof *col);
    bad = bad || !ep || !col;
    for (size_t i = 0; !bad && i < n; i++)
        ep[i] = rows[i].epoch;
    if (!bad) bad = rh5_append_column(cv, "epoch", H5T_NATIVE_INT64, ep, n) < 0;
    for (int k = 1; !bad && k < RES_CURVE_FIELDS; k++) {
        for (size_t i = 0; i < n; i++) {
            const xfer_results_epoch *r = &rows[i];
            const double v[RES_CURVE_FIELDS] = {
                0, r->lr, r->train_loss, r->train_acc, r->test_loss, r->test_acc, r->seconds};
            col[i] = v[k];
        }
        bad = rh5_append_column(cv, RES_CURVE_NAMES[k], H5T_NATIVE_DOUBLE, col, n) < 0;
    }
    free(ep);
    free(col);
    if (cv >= 0) H5Gclose(cv);
    H5Gclose(g);
    return bad ? h5fail(err, path, "appending to the curve of source", source) : XFER_OK;
}

int rw_truncate(hid_t f, const char *source, int index, size_t n, const char *path, xfer_err *err) {
    hid_t g = open_source(f, source, path, err);
    if (g < 0) return err->code;
    hid_t cv = open_curve(g, source, index, path, err);
    if (cv < 0) {
        H5Gclose(g);
        return err->code;
    }
    int bad = 0;
    for (int k = 0; !bad && k < RES_CURVE_FIELDS; k++)
        bad = rh5_resize_column(cv, RES_CURVE_NAMES[k], n) < 0;
    if (cv >= 0) H5Gclose(cv);
    H5Gclose(g);
    return bad ? h5fail(err, path, "truncating the curve of source", source) : XFER_OK;
}

static int write_corr_attrs(hid_t g, const xfer_results_corr *c) {
    if (rh5_set_i64(g, "n", c->n) < 0 || rh5_set_i64(g, "direction", c->direction) < 0) return -1;
    for (int k = 0; k < XFER_CORR_N; k++)
        if (rh5_set_f64(g, XFER_CORR_NAMES[k], c->v[k]) < 0) return -1;
    if (c->reason && rh5_set_str(g, "empty_reason", c->reason) < 0) return -1;
    if (rh5_set_f64(g, "kendall_lo", c->kendall_lo) < 0 ||
        rh5_set_f64(g, "kendall_hi", c->kendall_hi) < 0 || rh5_set_i64(g, "n_boot", c->n_boot) < 0)
        return -1;
    return 0;
}

static hid_t make_group(hid_t loc, const char *name) {
    if (H5Lexists(loc, name, H5P_DEFAULT) > 0) return H5Gopen2(loc, name, H5P_DEFAULT);
    return H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
}

int rw_corr_groups(hid_t f, const xfer_results_corr *c, size_t n, const char *path, xfer_err *err) {
    /* Inside a transaction on a copy, so deleting first cannot lose the old table on a crash. */
    const char *groups[2] = {"correlations", "correlations_by_arch"};
    for (int i = 0; i < 2; i++)
        if (H5Lexists(f, groups[i], H5P_DEFAULT) > 0 && H5Ldelete(f, groups[i], H5P_DEFAULT) < 0)
            return h5fail(err, path, "replacing", groups[i]);
    hid_t all = make_group(f, "correlations"), by = make_group(f, "correlations_by_arch");
    int bad = all < 0 || by < 0;
    for (size_t i = 0; !bad && i < n; i++) {
        hid_t parent = c[i].arch ? make_group(by, c[i].arch) : all;
        hid_t g = parent < 0 ? -1 : make_group(parent, c[i].metric);
        bad = g < 0 || write_corr_attrs(g, &c[i]) < 0;
        if (g >= 0) H5Gclose(g);
        if (c[i].arch && parent >= 0) H5Gclose(parent);
    }
    if (all >= 0) H5Gclose(all);
    if (by >= 0) H5Gclose(by);
    return bad ? h5fail(err, path, "writing", "the correlations") : XFER_OK;
}

int rw_correlations(hid_t f, const char *path, xfer_err *err) {
    xfer_results_data d;
    memset(&d, 0, sizeof d);
    int rc = rr_read(f, path, &d, err);
    xfer_results_corr *c = NULL;
    size_t n = 0;
    if (rc == XFER_OK) rc = rw_pool_values(f, &d, path, err);
    if (rc == XFER_OK) rc = xfer_results_compute_corr(&d, &c, &n, err);
    if (rc == XFER_OK) rc = rw_corr_groups(f, c, n, path, err);
    xfer_results_corr_free(c, n);
    rr_clear(&d);
    return rc;
}
