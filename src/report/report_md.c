/* The Markdown report: Table 1 per architecture, then the correlation table. */
#include <math.h>
#include <string.h>

#include "report_internal.h"

void report_md_num(FILE *o, double x, const char *fmt, int star) {
    if (!isfinite(x)) {
        fputs(isnan(x) ? " –" : (x > 0 ? " inf" : " -inf"), o);
    } else {
        fputc(' ', o);
        fprintf(o, fmt, x);
    }
    fputs(star ? "* |" : " |", o);
}

static void integer(FILE *o, int64_t x) {
    if (x < 0)
        fputs(" – |", o);
    else
        fprintf(o, " %lld |", (long long)x);
}

/* Markdown cells: a '|' or newline inside a name would break the table. */
void report_md_cell(FILE *o, const char *s) {
    fputc(' ', o);
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", o);
        else if (*s == '\n' || *s == '\r')
            fputc(' ', o);
        else
            fputc(*s, o);
    }
    fputs(" |", o);
}

static void list_status(FILE *o, const xfer_results_data *d, xfer_src_status st) {
    int first = 1;
    for (size_t i = 0; i < d->n_sources; i++)
        if (d->sources[i].status == st) {
            fprintf(o, "%s%s", first ? "" : ", ", d->sources[i].name);
            first = 0;
        }
}

static void header(FILE *o, const report_view *v, const char *path) {
    const xfer_results_data *d = v->d;
    fprintf(o, "# xfer report: %s\n\n", path);
    fprintf(o, "xfer %s, created %s, device %s, precision %s, seed %lld.", d->xfer_version,
            d->created, d->device, d->precision, (long long)d->seed);
    if (d->has_target)
        fprintf(o, " Target: %s (%lld train, %lld test images, %lld classes).", d->dataset,
                (long long)d->n_train, (long long)d->n_test, (long long)d->n_classes);
    fputs("\n\n", o);
    if (!d->complete || v->n_done + v->n_status[XFER_SRC_PRUNED] != d->n_sources) {
        if (!d->complete)
            fprintf(o,
                    "> **Incomplete results** (complete = 0: the run has not finished or was "
                    "interrupted): %zu of %zu sources done.",
                    v->n_done, d->n_sources);
        else
            fprintf(o, "> **Not every source is done**: %zu of %zu.", v->n_done, d->n_sources);
        static const char *const what[XFER_SRC_N_STATUS] = {"pending", "scored (not fine-tuned)",
                                                            "", "failed", "pruned"};
        for (int st = 0; st < XFER_SRC_N_STATUS; st++)
            if (st != XFER_SRC_DONE && v->n_status[st]) {
                fprintf(o, " %s: ", what[st]);
                list_status(o, d, (xfer_src_status)st);
                fputc('.', o);
            }
        fputs("\n\n", o);
    }
}

static size_t max_seeds(const xfer_results_data *d) {
    size_t most = 1;
    for (size_t i = 0; i < d->n_sources; i++)
        if (d->sources[i].n_seeds > most) most = d->sources[i].n_seeds;
    return most;
}

void report_md_score_heads(FILE *o, const report_view *v) {
    for (size_t k = 0; k < v->n_metrics; k++)
        fprintf(o, " %s%s %s |", v->metrics[k], v->baseline[k] ? " (baseline)" : "",
                v->direction[k] < 0 ? "↓" : "↑");
}

void report_md_score_rules(FILE *o, const report_view *v) {
    for (size_t k = 0; k < v->n_metrics; k++)
        fputs("---:|", o);
}

void report_md_score(FILE *o, const xfer_results_score *sc, int star) {
    if (!sc)
        fputs(" |", o);
    else if (sc->error)
        fputs(" failed |", o);
    else
        report_md_num(o, sc->value, "%.6g", star);
}

static void table1(FILE *o, const report_view *v) {
    const xfer_results_data *d = v->d;
    fputs("## Sources (Table 1)\n", o);
    for (size_t a = 0; a < v->n_archs; a++) {
        fprintf(o, "\n### %s\n\n| source | chain | status |", v->archs[a]);
        report_md_score_heads(o, v);
        fputs(" max acc | best epoch | epochs to 95% | curve AUC |\n|---|---|---|", o);
        report_md_score_rules(o, v);
        fputs("---:|---:|---:|---:|\n", o);
        for (size_t i = 0; i < d->n_sources; i++) {
            const xfer_results_source *s = &d->sources[i];
            if (strcmp(s->arch, v->archs[a])) continue;
            fputc('|', o);
            report_md_cell(o, s->name);
            report_md_cell(o, s->chain);
            char st[48];
            report_md_cell(o, report_status_text(s, st, sizeof st));
            for (size_t k = 0; k < v->n_metrics; k++) {
                report_md_score(o, xfer_results_find_score(s, v->metrics[k]),
                                v->best[i * v->n_metrics + k]);
            }
            if (s->n_seeds > 1 && isfinite(s->best_test_acc) && isfinite(s->best_test_acc_sd))
                fprintf(o, " %.4f ± %.4f%s |", s->best_test_acc, s->best_test_acc_sd,
                        v->best_acc[i] ? "*" : "");
            else
                report_md_num(o, s->best_test_acc, "%.4f", v->best_acc[i]);
            integer(o, s->best_epoch);
            integer(o, s->epochs_to_95pct);
            report_md_num(o, s->curve_auc, "%.4f", 0);
            fputc('\n', o);
        }
    }
    fputs("\n`*` marks the best score of each metric within the architecture (↑ higher is better, "
          "↓ lower is better) and the best accuracy. Baselines need no target data: `params` is "
          "the source's parameter count, `prior` the number its config gives; a metric that does "
          "not beat them adds little.\n",
          o);
    size_t most = max_seeds(d);
    if (most > 1)
        fprintf(o,
                "\nEvery source was fine-tuned %zu times (seeds %lld to %lld): max acc is the mean "
                "± the sample standard deviation of the best test accuracy over the fine-tunes, "
                "curve AUC the mean, best epoch and epochs to 95%% those of the mean curve. The "
                "scores are computed once per source: they do not depend on the fine-tune's "
                "seed.\n",
                most, (long long)d->seed, (long long)d->seed + (long long)most - 1);
    int any = 0;
    for (size_t a = 0; a < v->n_archs; a++)
        for (size_t k = 0; k < v->n_metrics; k++)
            if (v->saturated[a * v->n_metrics + k]) {
                fprintf(o, "%s- %s (%s) " REPORT_SATURATION_NOTE ".\n",
                        any ? "" : "\nScores that cannot tell the sources apart:\n\n",
                        v->metrics[k], v->archs[a], XFER_SATURATION_RTOL);
                any = 1;
            }
    any = 0;
    for (size_t i = 0; i < d->n_sources; i++)
        for (size_t k = 0; k < d->sources[i].n_scores; k++)
            if (d->sources[i].scores[k].error) {
                fprintf(o, "%s- %s, %s: %s\n", any ? "" : "\nFailed scores:\n\n",
                        d->sources[i].name, d->sources[i].scores[k].metric,
                        d->sources[i].scores[k].error);
                any = 1;
            }
    any = 0;
    for (size_t i = 0; i < d->n_sources; i++)
        if (d->sources[i].status == XFER_SRC_FAILED) {
            fprintf(o, "%s- %s failed: %s\n", any ? "" : "\nFailed sources:\n\n",
                    d->sources[i].name,
                    d->sources[i].error[0] ? d->sources[i].error : "(no reason recorded)");
            any = 1;
        }
}

static void corr_table(FILE *o, const report_view *v) {
    fputs("\n## Rank correlations\n\n" REPORT_ORIENTATION_NOTE "\n\n", o);
    report_md_prune_corr_note(o, v);
    if (!v->d->n_corr)
        fputs("(The file holds no correlations yet: these were computed now from its done "
              "sources.)\n\n",
              o);
    if (v->n_corr == 0) {
        fputs("No scores to correlate.\n", o);
        return;
    }
    fputs(REPORT_BOOT_NOTE "\n\n", o);
    fputs("| scope | metric | n |", o);
    for (int k = 0; k < XFER_CORR_N; k++) {
        fprintf(o, " %s |", XFER_CORR_NAMES[k]);
        if (k == XFER_CORR_KENDALL) fputs(" kendall 90% CI |", o);
    }
    fputs("\n|---|---|---:|", o);
    for (int k = 0; k < XFER_CORR_N; k++)
        fputs(k == XFER_CORR_KENDALL ? "---:|---:|" : "---:|", o);
    fputc('\n', o);
    for (size_t i = 0; i < v->n_corr; i++) {
        const xfer_results_corr *c = &v->corr[i];
        fputc('|', o);
        report_md_cell(o, c->arch ? c->arch : "all");
        int k_m = report_metric_index(v, c->metric);
        if (k_m >= 0 && v->baseline[k_m])
            fprintf(o, " %s (baseline) |", c->metric);
        else
            report_md_cell(o, c->metric);
        fprintf(o, " %lld |", (long long)c->n);
        for (int k = 0; k < XFER_CORR_N; k++) {
            int is_hit = k % XFER_CORR_N_BASE == XFER_CORR_TOP1_HIT;
            if (is_hit && isfinite(c->v[k]))
                fprintf(o, " %s |", c->v[k] > 0 ? "yes" : "no");
            else
                report_md_num(o, c->v[k], "%.3f", 0);
            if (k == XFER_CORR_KENDALL) {
                if (isfinite(c->kendall_lo) && isfinite(c->kendall_hi))
                    fprintf(o, " [%.2f, %.2f] |", c->kendall_lo, c->kendall_hi);
                else
                    fputs(" – |", o);
            }
        }
        fputc('\n', o);
    }
    int any = 0;
    for (size_t i = 0; i < v->n_corr; i++)
        if (v->corr[i].reason) {
            fprintf(o, "%s- %s (%s): %s; its correlations are left empty.\n",
                    any ? "" : "\nEmpty rows:\n\n", v->corr[i].metric,
                    v->corr[i].arch ? v->corr[i].arch : "all", v->corr[i].reason);
            any = 1;
        }
}

int report_md(FILE *out, const report_view *v, const char *path) {
    header(out, v, path);
    table1(out, v);
    report_md_prune(out, v);
    corr_table(out, v);
    return XFER_OK;
}
