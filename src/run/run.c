/* xfer run: the orchestration. For each selected source (config order, --only, --shard): resolve
 * or build its weights, score it on the target, fine-tune it; write everything to the results
 * file as it goes; then the correlations, the report (stdout and report.md) and the plots.
 * Re-running on the same output resumes: done sources are skipped, scored sources are not scored
 * again, an interrupted fine-tune continues from its last completed epoch. */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "run_internal.h"
#include "xfer/cuda_backend.h"
#include "xfer/cuda_info.h"
#include "xfer/log.h"
#include "xfer/plan.h"
#include "xfer/report.h"
#include "xfer/version.h"

int xfer_parse_shard(const char *s, int *i, int *n, xfer_err *err) {
    char tail;
    if (sscanf(s, "%d/%d%c", i, n, &tail) != 2 || *n < 1 || *i < 0 || *i >= *n)
        return xfer_fail(err, XFER_EINPUT, "--shard: '%s' is not I/N with 0 <= I < N", s);
    return XFER_OK;
}

static int in_list(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* Which sources this run takes: --only, then every shard_n-th from shard_i; in_exp: --only alone
 * (the sources of every shard). */
static int select_sources(const run_ctx *c, int *sel, int *in_exp, xfer_err *err) {
    const xfer_config *cfg = c->cfg;
    const xfer_run_opts *o = c->opts;
    if (o->only) { /* every name in --only must exist */
        char *dup = strdup(o->only);
        for (char *tok = strtok(dup, ","); tok; tok = strtok(NULL, ","))
            if (!xfer_config_source(cfg, tok)) {
                int rc = xfer_fail(err, XFER_EINPUT, "--only: no source named '%s'", tok);
                free(dup);
                return rc;
            }
        free(dup);
    }
    int count = 0;
    for (int i = 0; i < cfg->n_sources; i++)
        sel[i] = in_exp[i] = !o->only || in_list(o->only, cfg->sources[i].name);
    if (o->shard_n > 1) { /* balanced by estimated cost, chains kept together (shard_plan.c) */
        xfer_shard_plan p;
        int rc = xfer_shard_plan_make(cfg, sel, o->shard_n, &p, err);
        if (rc != XFER_OK) return rc;
        for (int i = 0; i < cfg->n_sources; i++)
            sel[i] = p.shard[i] == o->shard_i;
        if (xfer_log_get_level() >= XFER_LOG_NORMAL) {
            fflush(stdout);
            fputs("xfer: ", stderr);
            xfer_shard_plan_print(stderr, cfg, &p, o->shard_i);
        }
        xfer_shard_plan_free(&p);
    }
    for (int i = 0; i < cfg->n_sources; i++)
        count += sel[i];
    if (count == 0) xfer_note("this shard has no sources");
    return XFER_OK;
}

static int open_results(run_ctx *c, const char *device, xfer_results_data **old, xfer_err *err) {
    const xfer_config *cfg = c->cfg;
    *old = NULL;
    if (run_file_exists(c->output)) {
        int rc = xfer_results_read(c->output, old, err);
        if (rc != XFER_OK) return rc;
        /* another config, unless only its pruning settings changed (prune.c) */
        int changed = !(*old)->config || strcmp((*old)->config, cfg->text) != 0;
        if (changed && (!(*old)->config || !run_prune_resumable(cfg, (*old)->config))) {
            xfer_results_data_free(*old);
            *old = NULL;
            return xfer_fail(err, XFER_EINPUT,
                             "%s was written by a different config: choose another --output or "
                             "delete it to start over",
                             c->output);
        }
        xfer_note("resuming %s", c->output);
        rc = xfer_results_open(c->output, &c->res, err);
        if (rc == XFER_OK && changed) {
            xfer_note("%s: only the pruning settings changed; the file takes this config",
                      c->output);
            rc = xfer_results_set_config(c->res, cfg->text, err);
        }
        return rc;
    }
    xfer_results_meta meta = {
        NULL, cfg->text, NULL, device, xfer_precision_name(cfg->precision), (int64_t)cfg->seed};
    return xfer_results_create(c->output, &meta, 0, &c->res, err);
}

static int write_target(run_ctx *c, xfer_err *err) {
    run_dataset *t = NULL;
    int rc = run_dataset_get(c, c->cfg->target.dataset, &t, err);
    if (rc != XFER_OK) return rc;
    const char **train = malloc(((size_t)t->split.n_train + 1) * sizeof *train);
    const char **test = malloc(((size_t)t->split.n_test + 1) * sizeof *test);
    if (!train || !test) rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
    for (int i = 0; rc == XFER_OK && i < t->split.n_train; i++)
        train[i] = t->set.paths[t->split.train[i]];
    for (int i = 0; rc == XFER_OK && i < t->split.n_test; i++)
        test[i] = t->set.paths[t->split.test[i]];
    if (rc == XFER_OK) {
        xfer_results_target tg = {c->cfg->target.dataset,
                                  t->split.n_train,
                                  t->split.n_test,
                                  t->set.n_classes,
                                  (const char *const *)t->set.class_names,
                                  train,
                                  test,
                                  (size_t)t->split.n_train,
                                  (size_t)t->split.n_test};
        rc = xfer_results_write_target(c->res, &tg, err);
    }
    free(train);
    free(test);
    return rc;
}

/* Whether fine-tune `index` of a source finished in an earlier run: its curve has every epoch and
 * no resume checkpoint is left (a kill before the cleanup leaves one: that fine-tune is resumed,
 * which re-runs nothing). */
static int seed_done(run_ctx *c, const xfer_source_cfg *src, const xfer_results_source *prev,
                     int index) {
    if (!prev || (size_t)index >= prev->n_seeds) return 0;
    const xfer_results_seed *r = &prev->seeds[index];
    if (r->seed != (int64_t)(c->cfg->seed + (uint64_t)index)) return 0;
    return r->n_epochs == (size_t)c->cfg->target.finetune.epochs &&
           !run_finetune_has_resume(c, src, index);
}

/* Runs one source through build → score → fine-tune (the config's `seeds` fine-tunes; scores are
 * computed once: they do not depend on the fine-tune's seed). Returns XFER_OK, XFER_EFAILED (the
 * source failed, recorded), or another error that also stopped this source (recorded as failed).
 * prev: the source as an earlier run left it, or NULL. */
static int run_one(run_ctx *c, const xfer_source_cfg *src, xfer_src_status status,
                   const xfer_results_source *prev, xfer_err *err) {
    char *weights = NULL;
    int rc = run_source_weights(c, src, &weights, err);
    if (rc == XFER_OK && status < XFER_SRC_SCORED && c->cfg->n_scores > 0) {
        xfer_note("scoring %s", src->name);
        rc = run_score_source(c, src, weights, err);
    }
    int n = c->cfg->n_seeds > 0 ? c->cfg->n_seeds : 1;
    for (int k = 0; rc == XFER_OK && !c->opts->score_only && k < n; k++) {
        if (seed_done(c, src, prev, k)) continue;
        run_fit_result fr;
        rc = run_finetune_source(c, src, weights, k, &fr, err);
        if (rc == XFER_OK) run_finetune_cleanup(c, src, k);
        if (rc == XFER_OK && n > 1)
            xfer_note("%s (seed %d/%d): best test accuracy %.4f at epoch %d", src->name, k + 1, n,
                      fr.best_acc, fr.best_epoch);
        else if (rc == XFER_OK)
            xfer_note("%s: best test accuracy %.4f at epoch %d", src->name, fr.best_acc,
                      fr.best_epoch);
    }
    if (rc == XFER_OK && !c->opts->score_only)
        rc = xfer_results_set_status(c->res, src->name, XFER_SRC_DONE, NULL, err);
    free(weights);
    return rc;
}

int run_record_failure(run_ctx *c, const xfer_source_cfg *s, int src_rc, const xfer_err *se,
                       int *n_failed, int *n_bad_input, xfer_err *err) {
    /* The source failed (NaN loss, bad weights, ...): record why, go on with the others. */
    xfer_warn("source %s failed: %s", s->name, se->msg);
    if (src_rc == XFER_EINPUT)
        (*n_bad_input)++;
    else
        (*n_failed)++;
    return xfer_results_set_status(c->res, s->name, XFER_SRC_FAILED, se->msg, err);
}

static void draw_plots(const run_ctx *c) {
    const char *script = getenv("XFER_PLOT_SCRIPT");
#ifdef XFER_SCRIPTS_DIR
    if (!script) script = XFER_SCRIPTS_DIR "/plot.py";
#endif
    const char *py = getenv("XFER_PYTHON");
    if (!py) py = "/usr/bin/python3";
    if (!script || access(script, R_OK) != 0 || access(py, X_OK) != 0) {
        xfer_note("plots skipped (no %s or %s); draw them with scripts/plot.py", py,
                  script ? script : "plot.py");
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        execl(py, py, script, c->output, "-o", c->outdir, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        xfer_warn("drawing the plots failed (scripts/plot.py); the results file is complete");
    else
        xfer_note("plots written to %s/", c->outdir);
}

static int write_report(const run_ctx *c, xfer_err *err) {
    xfer_results_data *d = NULL;
    int rc = xfer_results_read(c->output, &d, err);
    if (rc != XFER_OK) return rc;
    /* A shard's report is <results stem>.report.md: report.md is the merged run's (or the
     * unsharded run's), which the shards of a sweep must not overwrite. */
    char name[256] = "/report.md";
    if (c->opts->shard_n > 1) {
        const char *base = strrchr(c->output, '/');
        base = base ? base + 1 : c->output;
        size_t stem = strlen(base);
        if (stem > 3 && strcmp(base + stem - 3, ".h5") == 0) stem -= 3;
        snprintf(name, sizeof name, "/%.*s.report.md", (int)(stem < 200 ? stem : 200), base);
    }
    char *md = run_path(c, NULL, c->outdir, name);
    char *tmp = md ? run_path(c, NULL, md, ".tmp") : NULL;
    FILE *f = tmp ? fopen(tmp, "w") : NULL;
    if (f) {
        rc = xfer_report_write(f, d, c->output, XFER_REPORT_MD, err);
        if (fclose(f) != 0 && rc == XFER_OK)
            rc = xfer_fail(err, XFER_EINPUT, "%s: write failed", tmp);
        if (rc == XFER_OK && rename(tmp, md) != 0)
            rc = xfer_fail(err, XFER_EINPUT, "%s: %s", md, strerror(errno));
        if (rc != XFER_OK) remove(tmp);
    }
    if (rc == XFER_OK && xfer_log_get_level() >= XFER_LOG_NORMAL) {
        fflush(stderr);
        rc = xfer_report_write(stdout, d, c->output, XFER_REPORT_MD, err);
        fflush(stdout);
    }
    free(md);
    free(tmp);
    xfer_results_data_free(d);
    return rc;
}

int xfer_run(const xfer_config *cfg, const xfer_run_opts *opts, xfer_err *err) {
    run_ctx c;
    memset(&c, 0, sizeof c);
    c.cfg = cfg;
    c.opts = opts;
    c.output = strdup(opts->output ? opts->output : cfg->output);
    char *tmp = strdup(c.output);
    c.outdir = strdup(dirname(tmp));
    free(tmp);
    c.ds = calloc((size_t)cfg->n_datasets + 1, sizeof *c.ds);
    int *sel = calloc((size_t)cfg->n_sources + 1, sizeof *sel);
    int *in_exp = calloc((size_t)cfg->n_sources + 1, sizeof *in_exp);
    xfer_results_data *old = NULL;
    int rc = (c.output && c.outdir && c.ds && sel && in_exp)
                 ? XFER_OK
                 : xfer_fail(err, XFER_EINTERNAL, "out of memory");
    if (rc == XFER_OK) rc = select_sources(&c, sel, in_exp, err);
    if (rc == XFER_OK) rc = xfer_config_check_files(cfg, 1, err);
    if (rc == XFER_OK) rc = run_mkdirs(c.outdir, err);
    xfer_device_kind dev = opts->device_set ? opts->device : cfg->device;
    if (rc == XFER_OK) {
        c.b = xfer_backend_get(dev, err);
        if (!c.b) rc = err->code ? err->code : XFER_EINPUT;
    }
    if (rc == XFER_OK && opts->threads > 0) c.b->set_threads(c.b, opts->threads);
    if (rc == XFER_OK && c.b->kind == XFER_DEVICE_CUDA) {
        rc = xfer_cuda_set_precision(c.b, cfg->precision, err);
        xfer_cuda_set_batch_hint(c.b, cfg->target.finetune.batch_size);
    }
    char device[300] = "cpu";
    if (rc == XFER_OK && c.b->kind == XFER_DEVICE_CUDA) {
        xfer_cuda_info ci;
        xfer_cuda_query(&ci);
        snprintf(device, sizeof device, "cuda:0 %s", ci.n_devices ? ci.names[0] : "");
    }
    if (rc == XFER_OK) rc = open_results(&c, device, &old, err);
    if (rc == XFER_OK && opts->log_json) {
        c.log_json = fopen(opts->log_json, "a");
        if (!c.log_json)
            rc = xfer_fail(err, XFER_EINPUT, "--log-json: cannot open %s: %s", opts->log_json,
                           strerror(errno));
    }
    if (rc == XFER_OK) xfer_note("device %s; results %s", device, c.output);
    if (rc == XFER_OK) rc = write_target(&c, err);
    /* Register every selected source first, so the file lists the whole shard from the start. */
    for (int i = 0; rc == XFER_OK && i < cfg->n_sources; i++) {
        if (!sel[i]) continue;
        const xfer_source_cfg *s = &cfg->sources[i];
        char *chain = run_source_chain(&c, s);
        xfer_results_source_info info = {s->name, s->arch,
                                         s->has_train ? "" : (s->weights ? s->weights : ""),
                                         chain ? chain : ""};
        if (s->has_train) info.weights = "built";
        rc = xfer_results_add_source(c.res, &info, err);
        free(chain);
    }
    int n_failed = 0, n_bad_input = 0;
    const int pruning = cfg->target.prune.method != XFER_PRUNE_NONE && !opts->score_only;
    if (rc == XFER_OK && pruning)
        rc = run_prune_sweep(&c, sel, in_exp, old, &n_failed, &n_bad_input, err);
    for (int i = 0; rc == XFER_OK && !pruning && i < cfg->n_sources; i++) {
        if (!sel[i]) continue;
        const xfer_source_cfg *s = &cfg->sources[i];
        const xfer_results_source *prev = old ? xfer_results_find_source(old, s->name) : NULL;
        xfer_src_status st = prev ? prev->status : XFER_SRC_PENDING;
        if (st == XFER_SRC_DONE || (opts->score_only && st == XFER_SRC_SCORED)) {
            xfer_note("%s: already %s, skipped", s->name, xfer_src_status_name(st));
            continue;
        }
        /* try a failed source again, every fine-tune of it */
        const xfer_results_source *resume = st == XFER_SRC_FAILED ? NULL : prev;
        if (st == XFER_SRC_FAILED) st = XFER_SRC_PENDING;
        xfer_err se;
        xfer_err_clear(&se);
        int src_rc = run_one(&c, s, st, resume, &se);
        if (src_rc == XFER_OK) continue;
        if (src_rc == XFER_EINTERNAL) { /* out of memory, a device failure: stop the run */
            *err = se;
            rc = src_rc;
            break;
        }
        rc = run_record_failure(&c, s, src_rc, &se, &n_failed, &n_bad_input, err);
    }
    if (rc == XFER_OK) rc = xfer_results_write_correlations(c.res, err);
    if (rc == XFER_OK) {
        int complete = !opts->score_only && n_failed == 0 && n_bad_input == 0;
        rc = xfer_results_set_complete(c.res, complete, err);
    }
    if (c.res) {
        xfer_err e2;
        int crc = xfer_results_close(c.res, &e2);
        if (rc == XFER_OK && crc != XFER_OK) {
            *err = e2;
            rc = crc;
        }
    }
    if (rc == XFER_OK) rc = write_report(&c, err);
    if (rc == XFER_OK && opts->plots && !opts->score_only && opts->shard_n > 1)
        xfer_note("no plots for a shard: `xfer merge` the shards, then scripts/plot.py draws them");
    else if (rc == XFER_OK && opts->plots && !opts->score_only)
        draw_plots(&c);
    if (c.log_json) fclose(c.log_json);
    xfer_results_data_free(old);
    run_datasets_free(&c);
    if (c.b) xfer_backend_release(c.b);
    free(sel);
    free(in_exp);
    free(c.output);
    free(c.outdir);
    if (rc == XFER_OK && n_bad_input) {
        rc = xfer_fail(err, XFER_EINPUT, "%d source(s) had bad input (see the warnings above)",
                       n_bad_input);
    } else if (rc == XFER_OK && n_failed) {
        rc = xfer_fail(err, XFER_EFAILED, "%d source(s) failed (see the report)", n_failed);
    }
    return rc;
}
