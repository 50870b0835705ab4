/* Scoring a source on the target without training: one eval-mode forward pass over the target's
 * training split (centre crops) gives the penultimate features and the source's softmax; every
 * metric of the config's `scores` is then computed by the shared metrics code (metrics.h) and
 * written to the results file in one transaction. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_batch.h"
#include "run_internal.h"
#include "xfer/batcher.h"
#include "xfer/log.h"
#include "xfer/metrics.h"
#include "xfer/wordvec.h"

/* Features [n, D] (float) and probabilities [n, Cs] (double) of the target's training split. */
static int forward_split(run_ctx *c, xfer_model *m, run_dataset *t, int batch, float **feat,
                         double **probs, int **labels, xfer_err *err) {
    xfer_backend *b = c->b;
    const int size = t->cfg->image_size, n = t->split.n_train;
    const int D = xfer_model_feature_dim(m), K = xfer_model_config_of(m)->num_classes;
    xfer_batcher_opts o;
    xfer_batcher_opts_default(&o);
    o.batch_size = batch;
    o.image_size = size;
    o.train = 0;
    memcpy(o.mean, t->cfg->mean, sizeof o.mean);
    memcpy(o.std, t->cfg->std, sizeof o.std);
    run_batches *bt = NULL;
    int rc = run_batches_create(c, t, t->split.train, n, &o, &bt, err);
    if (rc != XFER_OK) return rc;
    *feat = malloc((size_t)n * D * sizeof **feat);
    *probs = malloc((size_t)n * K * sizeof **probs);
    *labels = malloc((size_t)n * sizeof **labels);
    float *logits = malloc((size_t)batch * K * sizeof *logits);
    float *x = b->alloc(b, (size_t)batch * size * size * 3 * sizeof(float), "score batch", err);
    int32_t *y = x ? b->alloc(b, (size_t)batch * sizeof(int32_t), "score labels", err) : NULL;
    if (!*feat || !*probs || !*labels || !logits || !x || !y) {
        if (!err->code) xfer_fail(err, XFER_EINTERNAL, "out of memory for scoring (%d images)", n);
        rc = err->code;
    }
    xfer_batch bb;
    int done = 0, got = 0;
    run_batches_start_epoch(bt, 0);
    double t0 = run_now();
    const int32_t *lab = NULL;
    while (rc == XFER_OK && (got = run_batches_next(bt, x, y, &bb.n, &bb.number, &lab, err)) == 1) {
        rc = xfer_model_forward(m, x, bb.n, size, size, 0, err);
        if (rc == XFER_OK)
            rc = b->download(b, *feat + (size_t)done * D, xfer_model_features(m),
                             (size_t)bb.n * D * sizeof(float), err);
        if (rc == XFER_OK)
            rc =
                b->download(b, logits, xfer_model_logits(m), (size_t)bb.n * K * sizeof(float), err);
        if (rc != XFER_OK) break;
        double *p = *probs + (size_t)done * K;
        for (size_t i = 0; i < (size_t)bb.n * K; i++)
            p[i] = logits[i];
        xfer_softmax_rows(p, bb.n, K, p);
        for (int i = 0; i < bb.n; i++)
            (*labels)[done + i] = lab[i];
        done += bb.n;
        double el = run_now() - t0;
        run_progress_batch("score", 1, 1, bb.number + 1, run_batches_n(bt), el > 0 ? done / el : 0,
                           NAN, el / done * (n - done));
    }
    if (rc == XFER_OK && got < 0) rc = err->code;
    run_progress_clear();
    b->free(b, x);
    b->free(b, y);
    free(logits);
    run_batches_free(bt);
    return rc;
}

int run_score_source(run_ctx *c, const xfer_source_cfg *src, const char *weights, xfer_err *err) {
    const xfer_config *cfg = c->cfg;
    run_dataset *t = NULL;
    int rc = run_dataset_get(c, cfg->target.dataset, &t, err);
    if (rc != XFER_OK) return rc;
    xfer_model *m = NULL;
    char **src_names = NULL;
    int n_src_names = 0;
    rc = run_source_model(c, src, weights, &m, &src_names, &n_src_names, err);
    if (rc != XFER_OK) return rc;
    float *feat = NULL;
    double *probs = NULL, *dist = NULL, *emb = NULL;
    int *labels = NULL;
    const int cs = xfer_model_config_of(m)->num_classes, ct = t->set.n_classes;
    double t0 = run_now();
    rc = forward_split(c, m, t, cfg->target.finetune.batch_size, &feat, &probs, &labels, err);
    double forward_s = run_now() - t0;
    if (rc == XFER_OK)
        xfer_note("scoring %s: forward pass over %d target images in %.1fs", src->name,
                  t->split.n_train, forward_s);
    for (size_t i = 0; rc == XFER_OK && feat && probs && i < (size_t)t->split.n_train; i++) {
        int bad = 0;
        for (int j = 0; j < cs && !bad; j++)
            bad = !isfinite(probs[i * cs + j]);
        for (int j = 0; j < xfer_model_feature_dim(m) && !bad; j++)
            bad = !isfinite(feat[i * xfer_model_feature_dim(m) + j]);
        if (bad) /* a weights file the user gave is bad input; a source xfer built is a failure */
            rc = xfer_fail(err, src->has_train ? XFER_EFAILED : XFER_EINPUT,
                           "source %s gives non-finite outputs on target image %s (NaN weights?)",
                           src->name, t->set.paths[t->split.train[i]]);
    }
    xfer_metric_input in = {.n = t->split.n_train,
                            .d = xfer_model_feature_dim(m),
                            .features_f32 = feat,
                            .cs = cs,
                            .probs = probs,
                            .ct = ct,
                            .labels = labels,
                            .cache = xfer_metric_cache_new()}; /* NULL: no sharing, same values */
    if (rc == XFER_OK) rc = xfer_results_begin(c->res, err);
    for (int k = 0; rc == XFER_OK && k < cfg->n_scores; k++) {
        const xfer_score_cfg *sc = &cfg->scores[k];
        const xfer_metric_def *def = xfer_metric_find(sc->name);
        if (!def) {
            rc = xfer_fail(err, XFER_EINPUT, "score '%s' is not implemented", sc->name);
            break;
        }
        double ts = run_now();
        if ((def->needs & XFER_METRIC_NEEDS_DISTANCE) && !dist) {
            if (!src_names) {
                rc = xfer_fail(err, XFER_EINPUT,
                               "source %s: %s needs the source's class names: set `classes:` to a "
                               "file of %d names",
                               src->name, sc->name, cs);
                break;
            }
            dist = malloc((size_t)cs * ct * sizeof *dist);
            if (!dist)
                rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
            else
                rc = xfer_class_distance_matrix(&cfg->word_vectors, (const char *const *)src_names,
                                                cs, (const char *const *)t->set.class_names, ct,
                                                dist, err);
            if (rc != XFER_OK) break;
            in.distance = dist;
        }
        if ((def->needs & XFER_METRIC_NEEDS_EMBEDDING) && !emb) {
            /* the target classes' word vectors (emms), by the rules of the EMD score's names */
            rc = xfer_class_vectors(&cfg->word_vectors, (const char *const *)t->set.class_names, ct,
                                    &in.e, &emb, err);
            if (rc != XFER_OK) break;
            in.label_embedding = emb;
        }
        xfer_metric_params p = {sc->n_params, (const char *const *)sc->param_keys,
                                (const char *const *)sc->param_values};
        xfer_metric_result r;
        xfer_err merr = {0};
        int mrc = xfer_metric_compute(def, &in, &p, &r, &merr);
        if (mrc != XFER_OK && mrc != XFER_EINPUT) { /* out of memory, LAPACK failure: stop */
            *err = merr;
            rc = mrc;
            break;
        }
        double secs = run_now() - ts;
        /* a metric the target's data cannot support (a class with one image ...) fails only that
         * score: its value is NaN and the reason is kept for the report */
        xfer_results_score rs = {.metric = sc->name,
                                 .value = mrc ? NAN : r.value,
                                 .seconds = secs,
                                 .mean = !mrc && r.has_mean ? r.mean : NAN,
                                 .direction = def->direction,
                                 .error = mrc ? merr.msg : NULL,
                                 .n_terms = mrc ? 0 : (size_t)r.n_terms,
                                 .terms = r.terms};
        rc = xfer_results_write_score_full(c->res, src->name, &rs, err);
        if (mrc)
            xfer_warn("  %-12s failed: %s", sc->name, merr.msg);
        else if (def->pool)
            xfer_note("  %-12s (pooled over the sources; %d terms)  (%.2fs)", sc->name, r.n_terms,
                      secs);
        else
            xfer_note("  %-12s %14.6g  (%.2fs)", sc->name, r.value, secs);
    }
    /* the baselines that need no target data (docs/metrics.md) */
    if (rc == XFER_OK) {
        xfer_results_score bs = {.metric = "params",
                                 .value = (double)xfer_model_n_params(m),
                                 .mean = NAN,
                                 .direction = +1,
                                 .kind = XFER_SCORE_BASELINE};
        rc = xfer_results_write_score_full(c->res, src->name, &bs, err);
        if (rc == XFER_OK && src->has_prior) {
            bs.metric = "prior";
            bs.value = src->prior;
            rc = xfer_results_write_score_full(c->res, src->name, &bs, err);
        }
    }
    if (rc == XFER_OK) rc = xfer_results_set_status(c->res, src->name, XFER_SRC_SCORED, NULL, err);
    if (rc == XFER_OK)
        rc = xfer_results_commit(c->res, err);
    else {
        xfer_err e2;
        xfer_results_commit(c->res, &e2); /* scores so far are kept; the status stays pending */
    }
    xfer_metric_cache_free(in.cache);
    free(feat);
    free(probs);
    free(labels);
    free(dist);
    free(emb);
    run_free_strings(src_names, n_src_names);
    xfer_model_free(m);
    return rc == XFER_OK ? rc : xfer_err_prefix(err, "scoring %s: ", src->name);
}
