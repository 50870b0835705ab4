/* The CSV report: tables separated by one empty line, each with its header row — the sources
 * (Table 1, with a `best` column listing the metrics this source scores best on within its arch)
 * and the correlations; for a pruned sweep (a file with /prune) two more: the rung decisions and
 * a one-row summary (epochs and images against a full sweep, and with `--compare` whether the full
 * sweep's best source survived and the regret). Empty cell = not available. */
#include <math.h>
#include <string.h>

#include "report_internal.h"

void report_csv_field(FILE *o, const char *s, int last) {
    if (strpbrk(s, ",\"\n\r")) {
        fputc('"', o);
        for (; *s; s++) {
            if (*s == '"') fputc('"', o);
            fputc(*s, o);
        }
        fputc('"', o);
    } else {
        fputs(s, o);
    }
    fputc(last ? '\n' : ',', o);
}

void report_csv_number(FILE *o, double x, int last) {
    if (isfinite(x)) fprintf(o, "%.17g", x);
    fputc(last ? '\n' : ',', o);
}

static void integer(FILE *o, int64_t x, int last) {
    if (x >= 0) fprintf(o, "%lld", (long long)x);
    fputc(last ? '\n' : ',', o);
}

/* The pruning tables: one row per source and rung it reached (rung, epoch, value ranked, kept),
 * then the summary row. Nothing for a file without /prune. */
static void csv_prune(FILE *o, const report_view *v) {
    const xfer_results_prune *p = v->d->prune;
    if (!p) return;
    fputs("\nrung,epoch,source,value,kept\n", o);
    for (size_t j = 0; j < p->n_rows; j++) {
        integer(o, p->rows[j].rung + 1, 0);
        integer(o, p->rows[j].epoch, 0);
        report_csv_field(o, p->rows[j].source, 0);
        report_csv_number(o, p->rows[j].value, 0);
        integer(o, p->rows[j].kept == 1, 1);
    }
    report_prune_figures f;
    report_prune_summary(v, &f);
    fputs("\nmethod,eta,min_epochs,keep_at_least,metric,seed_by,scope,epochs_trained,"
          "epochs_full_sweep,train_images_processed,train_images_full_sweep,compare_file,"
          "best_source_full,best_acc_full,best_source_found,best_acc_found,best_survived,regret\n",
          o);
    report_csv_field(o, p->method, 0);
    integer(o, p->eta, 0);
    integer(o, p->min_epochs, 0);
    integer(o, p->keep_at_least, 0);
    report_csv_field(o, p->metric, 0);
    report_csv_field(o, p->seed_by, 0);
    report_csv_field(o, p->scope, 0);
    integer(o, f.trained, 0);
    integer(o, f.full, 0);
    integer(o, f.trained * f.n_train, 0);
    integer(o, f.full * f.n_train, 0);
    report_csv_field(o, v->full ? v->full_path : "", 0);
    report_csv_field(o, f.best_full ? f.best_full->name : "", 0);
    report_csv_number(o, f.best_full ? f.best_full->best_test_acc : NAN, 0);
    report_csv_field(o, f.best_here ? f.best_here->name : "", 0);
    report_csv_number(o, f.best_here ? f.best_here->best_test_acc : NAN, 0);
    if (v->full && f.best_full)
        integer(o, f.survived, 0);
    else
        fputc(',', o);
    report_csv_number(o, f.regret, 1);
}

int report_csv(FILE *o, const report_view *v, const char *path) {
    (void)path;
    const xfer_results_data *d = v->d;
    fputs("arch,source,chain,weights,status,error,", o);
    for (size_t k = 0; k < v->n_metrics; k++)
        report_csv_field(o, v->metrics[k], 0);
    fputs(
        "best_test_acc,best_test_acc_sd,n_seeds,best_epoch,epochs_to_95pct,curve_auc,curve_auc_sd,"
        "best,not_ranked,score_errors\n",
        o);
    for (size_t a = 0; a < v->n_archs; a++)
        for (size_t i = 0; i < d->n_sources; i++) {
            const xfer_results_source *s = &d->sources[i];
            if (strcmp(s->arch, v->archs[a])) continue;
            report_csv_field(o, s->arch, 0);
            report_csv_field(o, s->name, 0);
            report_csv_field(o, s->chain, 0);
            report_csv_field(o, s->weights, 0);
            report_csv_field(o, xfer_src_status_name(s->status), 0);
            report_csv_field(o, s->error, 0);
            for (size_t k = 0; k < v->n_metrics; k++) {
                const xfer_results_score *sc = xfer_results_find_score(s, v->metrics[k]);
                report_csv_number(o, sc ? sc->value : NAN, 0);
            }
            report_csv_number(o, s->best_test_acc, 0);
            report_csv_number(o, s->best_test_acc_sd, 0);
            integer(o, (int64_t)s->n_seeds, 0);
            integer(o, s->best_epoch, 0);
            integer(o, s->epochs_to_95pct, 0);
            report_csv_number(o, s->curve_auc, 0);
            report_csv_number(o, s->curve_auc_sd, 0);
            int first = 1;
            for (size_t k = 0; k < v->n_metrics; k++)
                if (v->best[i * v->n_metrics + k]) {
                    fprintf(o, "%s%s", first ? "" : ";", v->metrics[k]);
                    first = 0;
                }
            fputc(',', o);
            first = 1; /* the metrics that do not discriminate within this arch */
            for (size_t k = 0; k < v->n_metrics; k++)
                if (v->saturated[a * v->n_metrics + k] &&
                    xfer_results_find_score(s, v->metrics[k])) {
                    fprintf(o, "%s%s", first ? "" : ";", v->metrics[k]);
                    first = 0;
                }
            fputc(',', o);
            char errs[2048];
            size_t len = 0;
            errs[0] = 0;
            for (size_t k = 0; k < s->n_scores && len < sizeof errs; k++)
                if (s->scores[k].error)
                    len +=
                        (size_t)snprintf(errs + len, sizeof errs - len, "%s%s: %s", len ? "; " : "",
                                         s->scores[k].metric, s->scores[k].error);
            report_csv_field(o, errs, 1);
        }
    fputs("\nscope,metric,direction,n", o);
    for (int k = 0; k < XFER_CORR_N; k++)
        fprintf(o, ",%s", XFER_CORR_NAMES[k]);
    fputs(",kendall_lo,kendall_hi,n_boot,kind,empty_reason\n", o);
    for (size_t i = 0; i < v->n_corr; i++) {
        const xfer_results_corr *c = &v->corr[i];
        report_csv_field(o, c->arch ? c->arch : "all", 0);
        report_csv_field(o, c->metric, 0);
        fprintf(o, "%d,%lld,", c->direction, (long long)c->n);
        for (int k = 0; k < XFER_CORR_N; k++)
            report_csv_number(o, c->v[k], 0);
        report_csv_number(o, c->kendall_lo, 0);
        report_csv_number(o, c->kendall_hi, 0);
        fprintf(o, "%lld,", (long long)c->n_boot);
        int k_m = report_metric_index(v, c->metric);
        report_csv_field(o, k_m >= 0 && v->baseline[k_m] ? "baseline" : "metric", 0);
        report_csv_field(o, c->reason ? c->reason : "", 1);
    }
    csv_prune(o, v);
    return XFER_OK;
}
