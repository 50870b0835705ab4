/* Successive halving over the sweep (target.finetune.prune, docs/run.md). Every source is built and
 * scored first; then the fine-tunes advance rung by rung: all live sources train to the rung's
 * epoch (min_epochs * eta^k), are ranked by the rung's metric (the best test accuracy so far, or
 * the mean test accuracy so far), and the top max(keep_at_least, floor(n / eta)) go on; the others
 * stop with status `pruned`, keeping their curve and resume checkpoint. Ties go to the better
 * seed_by score, then to config order. Sources start in seed_by order (best first).
 *
 * Decisions are stored in the results file (/prune) in one transaction with the statuses, and a
 * resumed run takes them from there. With --shard I/N (scope experiment) each shard publishes the
 * rung values of its sources as files in <outdir>/prune/<experiment>-<config hash>/ (written to a
 * temporary name, then renamed: a reader sees a whole record or none) and waits at a rung until
 * every live source of the experiment has its record; every shard then takes the same decision. A
 * record, once there, is final (like a built source): delete the folder to start over. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "run_internal.h"
#include "xfer/log.h"

#define PRUNE_MAX_RUNGS 64
/* Waiting for other shards: poll interval, and how often to say who is awaited. */
#define PRUNE_POLL_MS 200
#define PRUNE_WAIT_NOTE_S 600.0

enum { P_ALIVE, P_PRUNED, P_FAILED, P_OUT };

typedef struct {
    int idx; /* config index */
    const xfer_source_cfg *s;
    int mine;     /* trained by this process */
    int state;    /* P_* */
    int done;     /* mine, fine-tuned to the end in an earlier run */
    double seed;  /* oriented seed_by score (NaN: none) */
    double value; /* at the current rung */
    int have;     /* value (or failure) known for the current rung */
    int known;    /* a failure that every process knows of (from the next rung on) */
    char *weights;
} psrc;

typedef struct {
    run_ctx *c;
    const xfer_prune_cfg *p;
    psrc *v;
    int n;
    int shared;   /* rungs decided over several processes: records files */
    char *recdir; /* the records folder (shared only) */
    xfer_results_prune table;
    int *n_failed, *n_bad;
} psweep;

void run_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int run_prune_resumable(const xfer_config *cfg, const char *old_text) {
    xfer_config old;
    xfer_err e;
    if (!cfg->canon_sans_prune ||
        xfer_config_load_string(old_text, strlen(old_text), "results config", &old, &e) != XFER_OK)
        return 0;
    int ok = old.canon_sans_prune && !strcmp(old.canon_sans_prune, cfg->canon_sans_prune) &&
             (cfg->target.prune.method == XFER_PRUNE_NONE ||
              xfer_prune_same(&old.target.prune, &cfg->target.prune));
    xfer_config_free(&old);
    return ok;
}

/* ---- rung values from the results file ---- */

/* The ranking value of source `name` at epoch e: over its curve rows up to e, the best test
 * accuracy (test_acc) or the mean test accuracy (curve_auc). NaN when no row is evaluated. */
static double rung_value(const xfer_results_data *d, const char *name, int e,
                         xfer_prune_metric metric, int *reached) {
    const xfer_results_source *s = xfer_results_find_source(d, name);
    *reached = 0;
    if (!s) return NAN;
    double best = NAN, sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < s->n_epochs; i++) {
        if (s->epoch[i] > e) break;
        if (s->epoch[i] == e) *reached = 1;
        double a = s->test_acc[i];
        if (!isfinite(a)) continue;
        if (isnan(best) || a > best) best = a;
        sum += a;
        n++;
    }
    if (metric == XFER_PRUNE_CURVE_AUC) return n ? sum / (double)n : NAN;
    return best;
}

/* ---- the decision ---- */

/* NaN sorts last; then higher first. */
static int cmp_desc(double a, double b) {
    if (isnan(a) || isnan(b)) return isnan(a) - isnan(b);
    return a > b ? -1 : a < b ? 1 : 0;
}

static int cmp_rank(const void *x, const void *y) {
    const psrc *a = *(psrc *const *)x, *b = *(psrc *const *)y;
    int r = cmp_desc(a->value, b->value);
    if (!r) r = cmp_desc(a->seed, b->seed);
    return r ? r : (a->idx > b->idx) - (a->idx < b->idx);
}

static int cmp_start(const void *x, const void *y) {
    const psrc *a = *(psrc *const *)x, *b = *(psrc *const *)y;
    int r = cmp_desc(a->seed, b->seed);
    return r ? r : (a->idx > b->idx) - (a->idx < b->idx);
}

static int cmp_row(const void *a, const void *b) {
    const xfer_results_rung_row *x = a, *y = b;
    if (x->rung != y->rung) return x->rung < y->rung ? -1 : 1;
    return strcmp(x->source, y->source);
}

/* How many of n go on at a rung. */
static int n_keep(const xfer_prune_cfg *p, int n) {
    int k = n / p->eta;
    if (k < p->keep_at_least) k = p->keep_at_least;
    return k < n ? k : n;
}

/* The sources that were alive at the last decision: a failure since then counts until the next
 * rung makes it known (so that every shard, and an unsharded run, count alike). */
static int count_alive(const psweep *w) {
    int n = 0;
    for (int i = 0; i < w->n; i++)
        n += w->v[i].state == P_ALIVE || (w->v[i].state == P_FAILED && !w->v[i].known);
    return n;
}

static void failures_known(psweep *w) {
    for (int i = 0; i < w->n; i++)
        if (w->v[i].state == P_FAILED) w->v[i].known = 1;
}

/* ---- records of other shards ---- */

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static char *record_path(const psweep *w, int rung, const char *name) {
    size_t n = strlen(w->recdir) + strlen(name) + 32;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/r%d-%s", w->recdir, rung, name);
    return p;
}

/* 1: read (failed or value and seed), 0: not there yet, -1: malformed. */
static int read_record(const char *path, int *failed, double *value, double *seed) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char word[16] = "", a[64] = "", b[64] = "";
    int n = fscanf(f, "%15s %63s %63s", word, a, b);
    fclose(f);
    if (n >= 1 && !strcmp(word, "failed")) {
        *failed = 1;
        return 1;
    }
    if (n != 3 || strcmp(word, "ok")) return -1;
    *failed = 0;
    *value = strtod(a, NULL); /* "nan" reads back as NaN */
    *seed = strtod(b, NULL);
    return 1;
}

static int left_out(psweep *w, psrc *s, int rung, xfer_err *err);

/* Publishes this process's record of source s at a rung: a temporary file renamed into place. An
 * existing record is final and is read back instead (the value every shard used). */
static int publish(psweep *w, int rung, psrc *s, xfer_err *err) {
    char *path = record_path(w, rung, s->s->name);
    if (!path) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    int failed = 0;
    double value = NAN, seed = NAN;
    int rc = XFER_OK;
    if (read_record(path, &failed, &value, &seed) == 1) {
        free(path);
        if (failed && s->state == P_ALIVE) return left_out(w, s, rung, err);
        if (!failed) s->value = value;
        return XFER_OK;
    }
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp) {
        free(path);
        return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    }
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    int bad = !f;
    if (f) {
        if (s->state == P_FAILED)
            bad = fprintf(f, "failed\n") < 0;
        else
            bad = fprintf(f, "ok %.17g %.17g\n", s->value, s->seed) < 0;
        bad = fflush(f) != 0 || fsync(fileno(f)) != 0 || bad;
        bad = fclose(f) != 0 || bad;
    }
    if (bad || rename(tmp, path) != 0) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: cannot publish the rung record: %s", path,
                       strerror(errno));
        remove(tmp);
    }
    free(tmp);
    free(path);
    return rc;
}

/* Waits until every live source of the experiment has its record at this rung (docs/run.md). */
static int wait_for_rung(psweep *w, int rung, int epoch, xfer_err *err) {
    double t0 = run_now(), last_note = -PRUNE_WAIT_NOTE_S;
    for (;;) {
        int missing = 0;
        char names[512] = "";
        size_t len = 0;
        for (int i = 0; i < w->n; i++) {
            psrc *s = &w->v[i];
            if (s->state != P_ALIVE || s->mine || s->have) continue;
            char *path = record_path(w, rung, s->s->name);
            if (!path) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
            int failed = 0;
            int got = read_record(path, &failed, &s->value, &s->seed);
            free(path);
            if (got < 0)
                return xfer_fail(err, XFER_EINPUT, "%s/r%d-%s: malformed rung record", w->recdir,
                                 rung, s->s->name);
            if (got == 1) {
                s->have = 1;
                if (failed) s->state = P_FAILED;
                continue;
            }
            missing++;
            int k = snprintf(names + len, sizeof names - len, "%s%s", len ? ", " : "", s->s->name);
            if (k > 0 && (size_t)k < sizeof names - len) len += (size_t)k;
        }
        if (!missing) return XFER_OK;
        double now = run_now();
        if (now - last_note >= PRUNE_WAIT_NOTE_S) {
            xfer_note("rung %d (epoch %d): waiting for other shards' sources: %s (%.0f s so far)",
                      rung + 1, epoch, names, now - t0);
            last_note = now;
        }
        run_sleep_ms(PRUNE_POLL_MS);
    }
}

/* ---- the sweep ---- */

static int fail_source(psweep *w, psrc *s, int src_rc, const xfer_err *se, xfer_err *err) {
    s->state = P_FAILED;
    return run_record_failure(w->c, s->s, src_rc, se, w->n_failed, w->n_bad, err);
}

/* A source of this process that a rung was decided without (it had failed before it, in an
 * earlier run): it stays failed; `method: none` finishes it. */
static int left_out(psweep *w, psrc *s, int rung, xfer_err *err) {
    xfer_err se;
    xfer_fail(&se, XFER_EFAILED,
              "%s: failed before pruning rung %d, which was decided without it; rerun with "
              "prune method none to finish it",
              s->s->name, rung + 1);
    return fail_source(w, s, XFER_EFAILED, &se, err);
}

/* Fine-tunes source s up to epoch `until` (0: to the end). XFER_OK also when the source failed
 * (recorded); another status stops the run. */
static int train_to(psweep *w, psrc *s, int until, xfer_err *err) {
    run_fit_result fr;
    xfer_err se;
    xfer_err_clear(&se);
    int rc = s->weights ? XFER_OK : run_source_weights(w->c, s->s, &s->weights, &se);
    w->c->finetune_until = until;
    if (rc == XFER_OK) rc = run_finetune_source(w->c, s->s, s->weights, 0, &fr, &se);
    w->c->finetune_until = 0;
    if (rc == XFER_OK) return XFER_OK;
    if (rc == XFER_EINTERNAL) {
        *err = se;
        return rc;
    }
    return fail_source(w, s, rc, &se, err);
}

static int add_row(psweep *w, int rung, int epoch, const psrc *s, int kept, xfer_err *err) {
    xfer_results_prune *t = &w->table;
    xfer_results_rung_row *r = realloc(t->rows, (t->n_rows + 1) * sizeof *r);
    if (!r) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    t->rows = r;
    char *name = strdup(s->s->name);
    if (!name) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    t->rows[t->n_rows++] = (xfer_results_rung_row){rung, epoch, name, s->value, kept};
    return XFER_OK;
}

/* Decides rung k over the live sources with a value, stores rows and statuses (one transaction). */
static int decide(psweep *w, int rung, int epoch, xfer_err *err) {
    psrc **r = malloc(((size_t)w->n + 1) * sizeof *r);
    if (!r) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    int n = 0;
    for (int i = 0; i < w->n; i++)
        if (w->v[i].state == P_ALIVE) r[n++] = &w->v[i];
    qsort(r, (size_t)n, sizeof *r, cmp_rank);
    int keep = n_keep(w->p, n), rc = XFER_OK;
    for (int i = 0; rc == XFER_OK && i < n; i++) {
        if (i >= keep) r[i]->state = P_PRUNED;
        rc = add_row(w, rung, epoch, r[i], i < keep, err);
    }
    qsort(w->table.rows, w->table.n_rows, sizeof *w->table.rows, cmp_row);
    if (rc == XFER_OK) rc = xfer_results_begin(w->c->res, err);
    if (rc == XFER_OK) {
        rc = xfer_results_write_prune(w->c->res, &w->table, err);
        for (int i = keep; rc == XFER_OK && i < n; i++)
            if (r[i]->mine)
                rc = xfer_results_set_status(w->c->res, r[i]->s->name, XFER_SRC_PRUNED, NULL, err);
        xfer_err e2;
        int crc = xfer_results_commit(w->c->res, rc == XFER_OK ? err : &e2);
        if (rc == XFER_OK) rc = crc;
    }
    if (rc == XFER_OK) {
        char line[1024];
        size_t len = 0;
        line[0] = '\0';
        for (int i = keep; i < n; i++) {
            int k = snprintf(line + len, sizeof line - len, "%s%s (%.4f)", len ? ", " : "",
                             r[i]->s->name, r[i]->value);
            if (k > 0 && (size_t)k < sizeof line - len) len += (size_t)k;
        }
        xfer_note("rung %d (epoch %d): %d of %d go on; pruned: %s", rung + 1, epoch, keep, n,
                  len ? line : "none");
    }
    free(r);
    return rc;
}

/* Takes rung k's stored decision: 1 when the table has it. */
static int stored_decision(psweep *w, int rung) {
    int found = 0;
    for (size_t j = 0; j < w->table.n_rows; j++)
        found |= w->table.rows[j].rung == rung;
    if (!found) return 0;
    for (int i = 0; i < w->n; i++) {
        psrc *s = &w->v[i];
        if (s->state != P_ALIVE) continue;
        s->state = P_OUT; /* alive but absent from the rung: failed before it */
        for (size_t j = 0; j < w->table.n_rows; j++) {
            const xfer_results_rung_row *row = &w->table.rows[j];
            if (row->rung == rung && !strcmp(row->source, s->s->name)) {
                s->state = row->kept ? P_ALIVE : P_PRUNED;
                s->value = row->value;
            }
        }
    }
    return 1;
}

static double seed_score(const xfer_results_data *d, const char *name, const char *metric) {
    const xfer_results_source *s = d && metric ? xfer_results_find_source(d, name) : NULL;
    const xfer_results_score *sc = s ? xfer_results_find_score(s, metric) : NULL;
    return sc && isfinite(sc->value) ? sc->value * sc->direction : NAN;
}

/* Builds and scores every source of this process (config order). */
static int prepare(psweep *w, const xfer_results_data *old, xfer_err *err) {
    run_ctx *c = w->c;
    for (int i = 0; i < w->n; i++) {
        psrc *s = &w->v[i];
        if (!s->mine) continue;
        const xfer_results_source *prev = old ? xfer_results_find_source(old, s->s->name) : NULL;
        xfer_src_status st = prev ? prev->status : XFER_SRC_PENDING;
        if (st == XFER_SRC_PRUNED) continue; /* its rung is stored and decided it */
        if (st == XFER_SRC_DONE) {
            s->done = 1;
            continue;
        }
        xfer_err se;
        xfer_err_clear(&se);
        int rc = run_source_weights(c, s->s, &s->weights, &se);
        if (rc == XFER_OK && (st == XFER_SRC_PENDING || st == XFER_SRC_FAILED) &&
            c->cfg->n_scores > 0) {
            xfer_note("scoring %s", s->s->name);
            rc = run_score_source(c, s->s, s->weights, &se);
        }
        if (rc == XFER_EINTERNAL) {
            *err = se;
            return rc;
        }
        if (rc != XFER_OK) {
            rc = fail_source(w, s, rc, &se, err);
            if (rc != XFER_OK) return rc;
        }
    }
    return XFER_OK;
}

static int sweep(psweep *w, const xfer_results_data *old, xfer_err *err) {
    run_ctx *c = w->c;
    const int epochs = c->cfg->target.finetune.epochs;
    int rungs[PRUNE_MAX_RUNGS];
    int n_rungs = xfer_prune_rungs(w->p, epochs, rungs, PRUNE_MAX_RUNGS);
    int rc = prepare(w, old, err);
    xfer_results_data *now = NULL;
    if (rc == XFER_OK) rc = xfer_results_read(c->output, &now, err);
    for (int i = 0; rc == XFER_OK && i < w->n; i++)
        if (w->v[i].mine) w->v[i].seed = seed_score(now, w->v[i].s->name, w->p->seed_by);
    xfer_results_data_free(now);
    now = NULL;
    psrc **order = malloc(((size_t)w->n + 1) * sizeof *order);
    int n_mine = 0;
    if (!order && rc == XFER_OK) rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
    for (int i = 0; order && i < w->n; i++)
        if (w->v[i].mine) order[n_mine++] = &w->v[i];
    if (order) qsort(order, (size_t)n_mine, sizeof *order, cmp_start);

    for (int k = 0; rc == XFER_OK && k < n_rungs; k++) {
        if (count_alive(w) <= w->p->keep_at_least) break;
        if (stored_decision(w, k)) {
            for (int i = 0; rc == XFER_OK && i < w->n; i++)
                if (w->v[i].mine && w->v[i].state == P_OUT) rc = left_out(w, &w->v[i], k, err);
            failures_known(w);
            continue;
        }
        const int e = rungs[k];
        for (int i = 0; i < w->n; i++)
            w->v[i].have = 0;
        for (int j = 0; rc == XFER_OK && j < n_mine; j++) {
            psrc *s = order[j];
            if (s->state == P_FAILED && !s->known && w->shared) rc = publish(w, k, s, err);
            if (s->state != P_ALIVE) continue;
            if (!s->done) rc = train_to(w, s, e, err);
            if (rc != XFER_OK || s->state != P_ALIVE) {
                if (rc == XFER_OK && w->shared) rc = publish(w, k, s, err);
                continue;
            }
            rc = xfer_results_read(c->output, &now, err);
            int reached = 0;
            if (rc == XFER_OK) s->value = rung_value(now, s->s->name, e, w->p->metric, &reached);
            xfer_results_data_free(now);
            now = NULL;
            if (rc == XFER_OK && !reached)
                rc = xfer_fail(err, XFER_EINTERNAL, "%s: no curve row at epoch %d for rung %d",
                               s->s->name, e, k + 1);
            if (rc == XFER_OK && w->shared) rc = publish(w, k, s, err);
            s->have = 1;
        }
        if (rc == XFER_OK && w->shared) rc = wait_for_rung(w, k, e, err);
        if (rc == XFER_OK) rc = decide(w, k, e, err);
        failures_known(w);
    }
    /* the survivors, to the end */
    for (int j = 0; rc == XFER_OK && j < n_mine; j++) {
        psrc *s = order[j];
        if (s->state != P_ALIVE || s->done) continue;
        rc = train_to(w, s, 0, err);
        if (rc != XFER_OK || s->state != P_ALIVE) continue;
        rc = xfer_results_set_status(c->res, s->s->name, XFER_SRC_DONE, NULL, err);
        if (rc == XFER_OK) run_finetune_cleanup(c, s->s, 0);
    }
    free(order);
    return rc;
}

int run_prune_sweep(run_ctx *c, const int *sel, const int *in_exp, const xfer_results_data *old,
                    int *n_failed, int *n_bad_input, xfer_err *err) {
    const xfer_config *cfg = c->cfg;
    psweep w;
    memset(&w, 0, sizeof w);
    w.c = c;
    w.p = &cfg->target.prune;
    w.n_failed = n_failed;
    w.n_bad = n_bad_input;
    w.shared = c->opts->shard_n > 1 && w.p->scope == XFER_PRUNE_SCOPE_EXPERIMENT;
    w.v = calloc((size_t)cfg->n_sources + 1, sizeof *w.v);
    int rc = w.v ? XFER_OK : xfer_fail(err, XFER_EINTERNAL, "out of memory");
    for (int i = 0; rc == XFER_OK && i < cfg->n_sources; i++) {
        if (!(w.shared ? in_exp[i] : sel[i])) continue;
        psrc *s = &w.v[w.n++];
        *s = (psrc){i, &cfg->sources[i], sel[i], P_ALIVE, 0, NAN, NAN, 0, 0, NULL};
    }
    /* the settings, and the decisions stored by an earlier run */
    const xfer_results_prune *op = old ? old->prune : NULL;
    w.table.method = strdup(xfer_prune_method_name(w.p->method));
    w.table.metric = strdup(xfer_prune_metric_name(w.p->metric));
    w.table.scope = strdup(xfer_prune_scope_name(w.p->scope));
    w.table.seed_by = strdup(w.p->seed_by ? w.p->seed_by : "");
    w.table.eta = w.p->eta;
    w.table.min_epochs = w.p->min_epochs;
    w.table.keep_at_least = w.p->keep_at_least;
    w.table.epochs = cfg->target.finetune.epochs;
    if (rc == XFER_OK && (!w.table.method || !w.table.metric || !w.table.scope || !w.table.seed_by))
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
    if (rc == XFER_OK && op && op->n_rows) {
        w.table.rows = calloc(op->n_rows, sizeof *w.table.rows);
        if (!w.table.rows) rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
        for (size_t j = 0; rc == XFER_OK && j < op->n_rows; j++) {
            w.table.rows[j] = op->rows[j];
            w.table.rows[j].source = strdup(op->rows[j].source);
            w.table.n_rows++;
            if (!w.table.rows[j].source) rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
        }
    }
    if (rc == XFER_OK && !op) rc = xfer_results_write_prune(c->res, &w.table, err);
    if (rc == XFER_OK && w.shared) {
        char sub[300];
        snprintf(sub, sizeof sub, "/prune/%s-%016" PRIx64, cfg->experiment, fnv1a(cfg->text));
        w.recdir = run_path(c, NULL, c->outdir, sub);
        rc = w.recdir ? run_mkdirs(w.recdir, err) : xfer_fail(err, XFER_EINTERNAL, "out of memory");
    }
    if (rc == XFER_OK) {
        int rungs[PRUNE_MAX_RUNGS];
        int nr = xfer_prune_rungs(w.p, cfg->target.finetune.epochs, rungs, PRUNE_MAX_RUNGS);
        xfer_note("successive halving over %d sources (%s): %d rungs, eta %d, metric %s", w.n,
                  w.shared ? "all shards" : "this process", nr, w.p->eta,
                  xfer_prune_metric_name(w.p->metric));
        rc = sweep(&w, old, err);
    }
    for (int i = 0; i < w.n; i++)
        free(w.v[i].weights);
    free(w.v);
    free(w.recdir);
    free(w.table.method);
    free(w.table.metric);
    free(w.table.scope);
    free(w.table.seed_by);
    for (size_t j = 0; j < w.table.n_rows; j++)
        free(w.table.rows[j].source);
    free(w.table.rows);
    return rc;
}
