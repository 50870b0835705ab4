/* The report of a successive-halving sweep (docs/results.md): where each pruned source stopped, the
 * epochs (and training images) spent against a full sweep, the rung decisions, and — given the
 * full sweep's results file (`xfer report --compare FULL.h5`) — whether its best source survived
 * and the regret. Nothing is printed for a file without /prune. */
#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "report_internal.h"

/* The last curve epoch of a source (0 without one). */
static int64_t last_epoch(const xfer_results_source *s) {
    return s->n_epochs ? s->epoch[s->n_epochs - 1] : 0;
}

/* The test accuracy at the last curve row (NaN when not evaluated there). */
static double last_acc(const xfer_results_source *s) {
    return s->n_epochs ? s->test_acc[s->n_epochs - 1] : NAN;
}

const char *report_status_text(const xfer_results_source *s, char *buf, size_t size) {
    if (s->status != XFER_SRC_PRUNED) return xfer_src_status_name(s->status);
    snprintf(buf, size, "pruned @ %lld", (long long)last_epoch(s));
    return buf;
}

/* The done source of d with the highest best_test_acc (the first in name order on ties). */
static const xfer_results_source *best_done(const xfer_results_data *d) {
    const xfer_results_source *b = NULL;
    for (size_t i = 0; i < d->n_sources; i++) {
        const xfer_results_source *s = &d->sources[i];
        if (s->status == XFER_SRC_DONE && isfinite(s->best_test_acc) &&
            (!b || s->best_test_acc > b->best_test_acc))
            b = s;
    }
    return b;
}

static long long epochs_trained(const xfer_results_data *d) {
    long long n = 0;
    for (size_t i = 0; i < d->n_sources; i++)
        n += (long long)d->sources[i].n_epochs;
    return n;
}

void report_prune_summary(const report_view *v, report_prune_figures *f) {
    const xfer_results_data *d = v->d;
    memset(f, 0, sizeof *f);
    f->trained = epochs_trained(d);
    f->full = d->prune ? (long long)d->n_sources * d->prune->epochs : 0;
    f->n_train = d->has_target ? d->n_train : 0;
    f->regret = NAN;
    if (!v->full) return;
    f->full_trained = epochs_trained(v->full);
    f->best_full = best_done(v->full);
    f->best_here = best_done(d);
    if (f->best_full) {
        const xfer_results_source *s = xfer_results_find_source(d, f->best_full->name);
        f->survived = s && s->status == XFER_SRC_DONE;
    }
    if (f->best_full && f->best_here)
        f->regret = f->best_full->best_test_acc - f->best_here->best_test_acc;
}

static void rung_line(FILE *o, const xfer_results_prune *p, int64_t rung) {
    int64_t epoch = -1;
    size_t n = 0, kept = 0;
    for (size_t j = 0; j < p->n_rows; j++)
        if (p->rows[j].rung == rung) {
            epoch = p->rows[j].epoch;
            n++;
            kept += p->rows[j].kept == 1;
        }
    fprintf(o, "| %lld | %lld | %zu | %zu |", (long long)rung + 1, (long long)epoch, n, kept);
    const char *sep = " ";
    for (size_t j = 0; j < p->n_rows; j++)
        if (p->rows[j].rung == rung && p->rows[j].kept != 1) {
            fprintf(o, "%s%s (%.4f)", sep, p->rows[j].source, p->rows[j].value);
            sep = ", ";
        }
    fputs(" |\n", o);
}

void report_md_prune(FILE *o, const report_view *v) {
    const xfer_results_data *d = v->d;
    const xfer_results_prune *p = d->prune;
    if (!p) return;
    report_prune_figures f;
    report_prune_summary(v, &f);
    fprintf(o,
            "\n## Pruning\n\nSuccessive halving: eta %lld, first rung at epoch %lld, ranked by "
            "%s at each rung, keeping at least %lld%s%s; scope %s.\n\n",
            (long long)p->eta, (long long)p->min_epochs,
            strcmp(p->metric, "curve_auc") ? "the best test accuracy so far"
                                           : "the mean test accuracy so far",
            (long long)p->keep_at_least, p->seed_by[0] ? "; ties and start order by " : "",
            p->seed_by, p->scope);
    fprintf(o,
            "Fine-tuning epochs trained: %lld of %lld for a full sweep (%.1f%%); training images "
            "processed: %lld of %lld.\n",
            f.trained, f.full, f.full ? 100.0 * (double)f.trained / (double)f.full : NAN,
            f.trained * f.n_train, f.full * f.n_train);
    int any = 0;
    for (size_t i = 0; i < d->n_sources; i++) {
        const xfer_results_source *s = &d->sources[i];
        if (s->status != XFER_SRC_PRUNED) continue;
        fprintf(o, "%s- %s: stopped at epoch %lld, test accuracy then %.4f (best so far %.4f)\n",
                any ? "" : "\nPruned sources:\n\n", s->name, (long long)last_epoch(s), last_acc(s),
                s->best_test_acc);
        any = 1;
    }
    int64_t max_rung = -1;
    for (size_t j = 0; j < p->n_rows; j++)
        if (p->rows[j].rung > max_rung) max_rung = p->rows[j].rung;
    if (max_rung >= 0) {
        fputs(
            "\n| rung | epoch | sources | went on | pruned (value) |\n|---:|---:|---:|---:|---|\n",
            o);
        for (int64_t k = 0; k <= max_rung; k++)
            rung_line(o, p, k);
    }
    if (!v->full) return;
    fprintf(o, "\nAgainst the full sweep %s: ", v->full_path);
    if (!f.best_full || !f.best_here) {
        fputs("no finished source to compare.\n", o);
        return;
    }
    fprintf(o,
            "its best source %s (max acc %.4f) %s; the best source found here is %s (%.4f): "
            "regret %.4f. Epochs: %lld here, %lld there (%.1f%%).\n",
            f.best_full->name, f.best_full->best_test_acc,
            f.survived ? "survived the pruning" : "was pruned here", f.best_here->name,
            f.best_here->best_test_acc, f.regret, f.trained, f.full_trained,
            f.full_trained ? 100.0 * (double)f.trained / (double)f.full_trained : NAN);
}

void report_md_prune_corr_note(FILE *o, const report_view *v) {
    size_t n = v->n_status[XFER_SRC_PRUNED];
    if (!v->d->prune && !n) return;
    fprintf(o,
            "Pruning: the correlations use only the %zu sources that finished (status done); "
            "%zu pruned source%s %s left out.\n\n",
            v->n_done, n, n == 1 ? "" : "s", n == 1 ? "is" : "are");
}

static cJSON *num(double x) {
    return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull();
}

cJSON *report_json_prune(const report_view *v) {
    const xfer_results_data *d = v->d;
    const xfer_results_prune *p = d->prune;
    if (!p) return NULL;
    report_prune_figures f;
    report_prune_summary(v, &f);
    cJSON *o = cJSON_CreateObject(), *rows = cJSON_CreateArray(), *pruned = cJSON_CreateArray();
    cJSON_AddStringToObject(o, "method", p->method);
    cJSON_AddStringToObject(o, "metric", p->metric);
    cJSON_AddStringToObject(o, "scope", p->scope);
    cJSON_AddStringToObject(o, "seed_by", p->seed_by);
    cJSON_AddNumberToObject(o, "eta", (double)p->eta);
    cJSON_AddNumberToObject(o, "min_epochs", (double)p->min_epochs);
    cJSON_AddNumberToObject(o, "keep_at_least", (double)p->keep_at_least);
    cJSON_AddNumberToObject(o, "epochs", (double)p->epochs);
    cJSON_AddNumberToObject(o, "epochs_trained", (double)f.trained);
    cJSON_AddNumberToObject(o, "epochs_full_sweep", (double)f.full);
    cJSON_AddNumberToObject(o, "train_images_processed", (double)(f.trained * f.n_train));
    cJSON_AddNumberToObject(o, "train_images_full_sweep", (double)(f.full * f.n_train));
    for (size_t j = 0; j < p->n_rows; j++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "rung", (double)p->rows[j].rung + 1);
        cJSON_AddNumberToObject(r, "epoch", (double)p->rows[j].epoch);
        cJSON_AddStringToObject(r, "source", p->rows[j].source);
        cJSON_AddItemToObject(r, "value", num(p->rows[j].value));
        cJSON_AddBoolToObject(r, "kept", p->rows[j].kept == 1);
        cJSON_AddItemToArray(rows, r);
    }
    cJSON_AddItemToObject(o, "rungs", rows);
    for (size_t i = 0; i < d->n_sources; i++) {
        const xfer_results_source *s = &d->sources[i];
        if (s->status != XFER_SRC_PRUNED) continue;
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "source", s->name);
        cJSON_AddNumberToObject(r, "stopped_at_epoch", (double)last_epoch(s));
        cJSON_AddItemToObject(r, "test_acc_then", num(last_acc(s)));
        cJSON_AddItemToArray(pruned, r);
    }
    cJSON_AddItemToObject(o, "pruned", pruned);
    if (v->full) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "file", v->full_path);
        if (f.best_full) cJSON_AddStringToObject(c, "best_source_full", f.best_full->name);
        if (f.best_full) cJSON_AddItemToObject(c, "best_acc_full", num(f.best_full->best_test_acc));
        if (f.best_here) cJSON_AddStringToObject(c, "best_source_found", f.best_here->name);
        if (f.best_here)
            cJSON_AddItemToObject(c, "best_acc_found", num(f.best_here->best_test_acc));
        cJSON_AddBoolToObject(c, "best_survived", f.survived);
        cJSON_AddItemToObject(c, "regret", num(f.regret));
        cJSON_AddNumberToObject(c, "epochs_full_file", (double)f.full_trained);
        cJSON_AddItemToObject(o, "compare", c);
    }
    return o;
}
