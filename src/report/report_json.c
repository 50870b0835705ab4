/* The JSON report: one object with the file's metadata, the sources (scores, summary, the metrics
 * each is best on) and the correlations (overall and by arch). Non-finite numbers are null. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "report_internal.h"

cJSON *report_json_num(double x) {
    return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull();
}

static cJSON *integer(int64_t x) {
    return x >= 0 ? cJSON_CreateNumber((double)x) : cJSON_CreateNull();
}

static cJSON *source_json(const report_view *v, size_t i) {
    const xfer_results_source *s = &v->d->sources[i];
    cJSON *o = cJSON_CreateObject(), *scores = cJSON_CreateObject(), *best = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "name", s->name);
    cJSON_AddStringToObject(o, "arch", s->arch);
    cJSON_AddStringToObject(o, "weights", s->weights);
    cJSON_AddStringToObject(o, "chain", s->chain);
    cJSON_AddStringToObject(o, "status", xfer_src_status_name(s->status));
    cJSON_AddStringToObject(o, "error", s->error);
    for (size_t k = 0; k < s->n_scores; k++) {
        const xfer_results_score *sc = &s->scores[k];
        cJSON *m = cJSON_CreateObject();
        cJSON_AddItemToObject(m, "value", report_json_num(sc->value));
        cJSON_AddItemToObject(m, "seconds", report_json_num(sc->seconds));
        cJSON_AddNumberToObject(m, "direction", sc->direction);
        if (!isnan(sc->mean)) cJSON_AddItemToObject(m, "mean", report_json_num(sc->mean));
        cJSON_AddStringToObject(m, "kind", sc->kind == XFER_SCORE_BASELINE ? "baseline" : "metric");
        if (sc->error) cJSON_AddStringToObject(m, "error", sc->error);
        if (sc->n_terms)
            cJSON_AddItemToObject(m, "terms", cJSON_CreateDoubleArray(sc->terms, (int)sc->n_terms));
        cJSON_AddItemToObject(scores, sc->metric, m);
    }
    cJSON_AddItemToObject(o, "scores", scores);
    cJSON_AddItemToObject(o, "best_test_acc", report_json_num(s->best_test_acc));
    cJSON_AddItemToObject(o, "best_epoch", integer(s->best_epoch));
    cJSON_AddItemToObject(o, "epochs_to_95pct", integer(s->epochs_to_95pct));
    cJSON_AddItemToObject(o, "curve_auc", report_json_num(s->curve_auc));
    cJSON_AddNumberToObject(o, "n_epochs", (double)s->n_epochs);
    cJSON_AddItemToObject(o, "best_test_acc_sd", report_json_num(s->best_test_acc_sd));
    cJSON_AddItemToObject(o, "curve_auc_sd", report_json_num(s->curve_auc_sd));
    cJSON_AddNumberToObject(o, "n_seeds", (double)s->n_seeds);
    cJSON *seeds = cJSON_CreateArray();
    for (size_t k = 0; k < s->n_seeds; k++) {
        const xfer_results_seed *r = &s->seeds[k];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "seed", (double)r->seed);
        cJSON_AddItemToObject(e, "best_test_acc", report_json_num(r->best_test_acc));
        cJSON_AddItemToObject(e, "best_epoch", integer(r->best_epoch));
        cJSON_AddItemToObject(e, "epochs_to_95pct", integer(r->epochs_to_95pct));
        cJSON_AddItemToObject(e, "curve_auc", report_json_num(r->curve_auc));
        cJSON_AddNumberToObject(e, "n_epochs", (double)r->n_epochs);
        cJSON_AddItemToArray(seeds, e);
    }
    cJSON_AddItemToObject(o, "seeds", seeds);
    for (size_t k = 0; k < v->n_metrics; k++)
        if (v->best[i * v->n_metrics + k])
            cJSON_AddItemToArray(best, cJSON_CreateString(v->metrics[k]));
    cJSON_AddItemToObject(o, "best_score_in_arch", best);
    cJSON *flat = cJSON_CreateArray();
    size_t a = 0;
    while (a < v->n_archs && strcmp(v->archs[a], s->arch))
        a++;
    for (size_t k = 0; a < v->n_archs && k < v->n_metrics; k++)
        if (v->saturated[a * v->n_metrics + k] && xfer_results_find_score(s, v->metrics[k]))
            cJSON_AddItemToArray(flat, cJSON_CreateString(v->metrics[k]));
    cJSON_AddItemToObject(o, "not_ranked_in_arch", flat);
    cJSON_AddBoolToObject(o, "best_acc_in_arch", v->best_acc[i]);
    return o;
}

static cJSON *corr_json(const report_view *v, const xfer_results_corr *c) {
    cJSON *o = cJSON_CreateObject();
    int k_m = report_metric_index(v, c->metric);
    cJSON_AddStringToObject(o, "kind", k_m >= 0 && v->baseline[k_m] ? "baseline" : "metric");
    if (c->reason) cJSON_AddStringToObject(o, "empty_reason", c->reason);
    cJSON_AddNumberToObject(o, "n", (double)c->n);
    cJSON_AddNumberToObject(o, "direction", c->direction);
    for (int k = 0; k < XFER_CORR_N; k++)
        cJSON_AddItemToObject(o, XFER_CORR_NAMES[k], report_json_num(c->v[k]));
    cJSON_AddItemToObject(o, "kendall_lo", report_json_num(c->kendall_lo));
    cJSON_AddItemToObject(o, "kendall_hi", report_json_num(c->kendall_hi));
    cJSON_AddNumberToObject(o, "n_boot", (double)c->n_boot);
    return o;
}

int report_json(FILE *out, const report_view *v, const char *path, xfer_err *err) {
    const xfer_results_data *d = v->d;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "file", path);
    cJSON_AddStringToObject(root, "xfer_version", d->xfer_version);
    cJSON_AddStringToObject(root, "created", d->created);
    cJSON_AddStringToObject(root, "device", d->device);
    cJSON_AddStringToObject(root, "precision", d->precision);
    cJSON_AddNumberToObject(root, "seed", (double)d->seed);
    cJSON_AddBoolToObject(root, "complete", d->complete);
    cJSON_AddStringToObject(root, "config", d->config);
    if (d->has_target) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "dataset", d->dataset);
        cJSON_AddNumberToObject(t, "n_train", (double)d->n_train);
        cJSON_AddNumberToObject(t, "n_test", (double)d->n_test);
        cJSON_AddNumberToObject(t, "n_classes", (double)d->n_classes);
        cJSON_AddItemToObject(root, "target", t);
    }
    cJSON *counts = cJSON_CreateObject();
    for (int st = 0; st < XFER_SRC_N_STATUS; st++)
        if (st != XFER_SRC_PRUNED || d->prune || v->n_status[st])
            cJSON_AddNumberToObject(counts, xfer_src_status_name((xfer_src_status)st),
                                    (double)v->n_status[st]);
    cJSON_AddItemToObject(root, "status_counts", counts);
    cJSON *metrics = cJSON_CreateObject();
    for (size_t k = 0; k < v->n_metrics; k++)
        cJSON_AddNumberToObject(metrics, v->metrics[k], v->direction[k]);
    cJSON_AddItemToObject(root, "metric_directions", metrics);
    cJSON *srcs = cJSON_CreateArray();
    for (size_t a = 0; a < v->n_archs; a++)
        for (size_t i = 0; i < d->n_sources; i++)
            if (!strcmp(d->sources[i].arch, v->archs[a]))
                cJSON_AddItemToArray(srcs, source_json(v, i));
    cJSON_AddItemToObject(root, "sources", srcs);
    cJSON *corr = cJSON_CreateObject(), *all = cJSON_CreateObject(), *by = cJSON_CreateObject();
    for (size_t i = 0; i < v->n_corr; i++) {
        const xfer_results_corr *c = &v->corr[i];
        cJSON *parent = all;
        if (c->arch) {
            parent = cJSON_GetObjectItemCaseSensitive(by, c->arch);
            if (!parent) {
                parent = cJSON_CreateObject();
                cJSON_AddItemToObject(by, c->arch, parent);
            }
        }
        cJSON_AddItemToObject(parent, c->metric, corr_json(v, c));
    }
    cJSON_AddItemToObject(corr, "overall", all);
    cJSON_AddItemToObject(corr, "by_arch", by);
    cJSON_AddBoolToObject(corr, "stored_in_file", d->n_corr > 0);
    cJSON_AddStringToObject(corr, "note", REPORT_ORIENTATION_NOTE);
    cJSON_AddStringToObject(corr, "bootstrap", REPORT_BOOT_NOTE);
    cJSON_AddItemToObject(root, "correlations", corr);
    cJSON *prune = report_json_prune(v);
    if (prune) cJSON_AddItemToObject(root, "prune", prune);
    return report_json_print(out, root, err);
}

int report_json_print(FILE *out, cJSON *root, xfer_err *err) {
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return xfer_fail(err, XFER_EINTERNAL, "out of memory formatting the JSON report");
    fputs(text, out);
    fputc('\n', out);
    free(text);
    return XFER_OK;
}
