/* `xfer report RESULTS.h5 --ground-truth FILE --dataset NAME`: the sources' scores (typically a
 * score-only run, `xfer score`) ranked against published fine-tuning accuracies instead of the
 * run's own fine-tunes: per score, the weighted Kendall tau (scipy.stats.weightedtau's defaults),
 * Kendall tau-b, Spearman rho and top-1, in md, csv or json (docs/results.md). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "xfer/rankcorr.h"
#include "report_internal.h"

enum { T_WTAU, T_KENDALL, T_SPEARMAN, T_TOP1, T_GAP, T_N };
static const char *const T_NAMES[T_N] = {"weighted_tau", "kendall", "spearman", "top1_hit",
                                         "top1_gap"};

#define TRUTH_NOTE                                                                                 \
    "Each score is oriented (score x direction: lower-is-better scores such as emd are negated) "  \
    "and ranked against the published accuracy of the sources' models: weighted_tau is "           \
    "scipy.stats.weightedtau's (hyperbolic weigher 1/(r+1), additive, the mean of the taus "       \
    "ranked by the score and by the accuracy), kendall tau-b, spearman with average ranks; "       \
    "top1_hit says whether the source with the best score has the best published accuracy, "       \
    "top1_gap is the best published accuracy minus that source's (the file's units). Sources "     \
    "without a finite value of a score are left out of its row (n)."

typedef struct {
    const report_view *v;
    const xfer_truth *t;
    int *col;    /* per source: its column in t */
    double *acc; /* per source */
    /* per metric k: n used, the statistics, the best-scored source (SIZE_MAX: none), saturated */
    int64_t *n;
    double *stat; /* [k * T_N + j] */
    size_t *best;
    unsigned char *sat;
} truth_view;

static void truth_view_free(truth_view *tv) {
    free(tv->col);
    free(tv->acc);
    free(tv->n);
    free(tv->stat);
    free(tv->best);
    free(tv->sat);
}

static int match(truth_view *tv, const char *const *gt_names, xfer_err *err) {
    const xfer_results_data *d = tv->v->d;
    const xfer_truth *t = tv->t;
    for (size_t i = 0; i < d->n_sources; i++) {
        const xfer_results_source *s = &d->sources[i];
        const char *want = gt_names && gt_names[i] ? gt_names[i] : s->arch;
        int c = -1;
        for (size_t k = 0; k < t->n_cols && c < 0; k++)
            if (!strcmp(t->cols[k], want)) c = (int)k;
        if (c < 0) {
            xfer_fail(err, XFER_EINPUT,
                      "%s: source '%s' (%s '%s') matches no column of the ground truth (expected "
                      "one of:",
                      t->path, s->name, gt_names && gt_names[i] ? "ground_truth_name" : "arch",
                      want);
            for (size_t k = 0; k < t->n_cols; k++)
                xfer_err_append(err, "%s%s", k ? ", " : " ", t->cols[k]);
            xfer_err_append(err, "; give the source a ground_truth_name in its config)");
            return XFER_EINPUT;
        }
        for (size_t j = 0; j < i; j++)
            if (tv->col[j] == c)
                return xfer_fail(err, XFER_EINPUT,
                                 "%s: sources '%s' and '%s' both match column '%s' (expected one "
                                 "source per published model; set ground_truth_name)",
                                 t->path, d->sources[j].name, s->name, t->cols[c]);
        tv->col[i] = c;
        tv->acc[i] = t->acc[c];
    }
    return XFER_OK;
}

static int compute(truth_view *tv) {
    const report_view *v = tv->v;
    const xfer_results_data *d = v->d;
    size_t ns = d->n_sources ? d->n_sources : 1;
    double *x = malloc(2 * ns * sizeof *x);
    size_t *who = malloc(ns * sizeof *who);
    if (!x || !who) {
        free(x);
        free(who);
        return -1;
    }
    double *y = x + ns;
    for (size_t k = 0; k < v->n_metrics; k++) {
        size_t m = 0;
        for (size_t i = 0; i < d->n_sources; i++) {
            const xfer_results_score *sc = xfer_results_find_score(&d->sources[i], v->metrics[k]);
            if (!sc || !isfinite(sc->value)) continue;
            x[m] = sc->value * sc->direction;
            y[m] = tv->acc[i];
            who[m++] = i;
        }
        double *st = tv->stat + k * T_N;
        tv->n[k] = (int64_t)m;
        tv->best[k] = SIZE_MAX;
        if (xfer_results_saturated(x, m)) {
            tv->sat[k] = 1;
            for (int j = 0; j < T_N; j++)
                st[j] = NAN;
            continue;
        }
        st[T_WTAU] = xfer_weighted_tau(x, y, m);
        st[T_KENDALL] = xfer_kendall_tau_b(x, y, m);
        st[T_SPEARMAN] = xfer_spearman(x, y, m);
        int hit = xfer_top1(x, y, m, &st[T_GAP]);
        st[T_TOP1] = hit < 0 ? NAN : hit;
        if (m) {
            size_t b = 0; /* xfer_top1's choice: the first of the highest */
            for (size_t j = 1; j < m; j++)
                if (x[j] > x[b]) b = j;
            tv->best[k] = who[b];
        }
    }
    free(x);
    free(who);
    return 0;
}

static const char *kind_name(const report_view *v, size_t k) {
    return v->baseline[k] ? "baseline" : "metric";
}

static void truth_md(FILE *o, const truth_view *tv, const char *path) {
    const report_view *v = tv->v;
    const xfer_results_data *d = v->d;
    fprintf(o, "# xfer report: %s against published accuracies\n\n", path);
    fprintf(o, "Ground truth: %s, dataset %s (%zu sources matched by arch or ground_truth_name).",
            tv->t->path, tv->t->dataset, d->n_sources);
    fprintf(o, " Results: xfer %s, created %s.", d->xfer_version, d->created);
    if (d->has_target)
        fprintf(o, " Target: %s (%lld train, %lld test images, %lld classes).", d->dataset,
                (long long)d->n_train, (long long)d->n_test, (long long)d->n_classes);
    fputs("\n\n## Sources\n\n| source | arch | ground truth | published acc |", o);
    report_md_score_heads(o, v);
    fputs("\n|---|---|---|---:|", o);
    report_md_score_rules(o, v);
    fputc('\n', o);
    double top = -INFINITY;
    for (size_t i = 0; i < d->n_sources; i++)
        if (tv->acc[i] > top) top = tv->acc[i];
    for (size_t i = 0; i < d->n_sources; i++) {
        const xfer_results_source *s = &d->sources[i];
        fputc('|', o);
        report_md_cell(o, s->name);
        report_md_cell(o, s->arch);
        report_md_cell(o, tv->t->cols[tv->col[i]]);
        report_md_num(o, tv->acc[i], "%.6g", tv->acc[i] == top);
        for (size_t k = 0; k < v->n_metrics; k++) {
            report_md_score(o, xfer_results_find_score(s, v->metrics[k]), tv->best[k] == i);
        }
        fputc('\n', o);
    }
    fputs("\n`*` marks the best published accuracy and each score's best source (↑ higher is "
          "better, ↓ lower is better).\n\n## Rank correlations against the published "
          "accuracies\n\n" TRUTH_NOTE "\n\n",
          o);
    fputs("| metric | n | weighted τ | Kendall τ | Spearman ρ | top-1 | top-1 gap | best-scored "
          "source |\n|---|---:|---:|---:|---:|---:|---:|---|\n",
          o);
    for (size_t k = 0; k < v->n_metrics; k++) {
        const double *st = tv->stat + k * T_N;
        fputc('|', o);
        if (v->baseline[k])
            fprintf(o, " %s (baseline) |", v->metrics[k]);
        else
            report_md_cell(o, v->metrics[k]);
        fprintf(o, " %lld |", (long long)tv->n[k]);
        for (int j = T_WTAU; j <= T_SPEARMAN; j++)
            report_md_num(o, st[j], "%.3f", 0);
        if (isfinite(st[T_TOP1]))
            fprintf(o, " %s |", st[T_TOP1] > 0 ? "yes" : "no");
        else
            fputs(" – |", o);
        report_md_num(o, st[T_GAP], "%.4g", 0);
        report_md_cell(o, tv->best[k] == SIZE_MAX ? "–" : d->sources[tv->best[k]].name);
        fputc('\n', o);
    }
    int any = 0;
    for (size_t k = 0; k < v->n_metrics; k++)
        if (tv->sat[k]) {
            fprintf(o, "%s- %s " REPORT_SATURATION_NOTE ".\n",
                    any ? "" : "\nScores that cannot tell the sources apart:\n\n", v->metrics[k],
                    XFER_SATURATION_RTOL);
            any = 1;
        }
}

static void truth_csv(FILE *o, const truth_view *tv) {
    const report_view *v = tv->v;
    const xfer_results_data *d = v->d;
    fputs("source,arch,ground_truth,published_acc,", o);
    for (size_t k = 0; k < v->n_metrics; k++)
        report_csv_field(o, v->metrics[k], k + 1 == v->n_metrics);
    if (!v->n_metrics) fputc('\n', o);
    for (size_t i = 0; i < d->n_sources; i++) {
        const xfer_results_source *s = &d->sources[i];
        report_csv_field(o, s->name, 0);
        report_csv_field(o, s->arch, 0);
        report_csv_field(o, tv->t->cols[tv->col[i]], 0);
        report_csv_number(o, tv->acc[i], !v->n_metrics);
        for (size_t k = 0; k < v->n_metrics; k++) {
            const xfer_results_score *sc = xfer_results_find_score(s, v->metrics[k]);
            report_csv_number(o, sc ? sc->value : NAN, k + 1 == v->n_metrics);
        }
    }
    fputs("\ndataset,metric,kind,direction,n", o);
    for (int j = 0; j < T_N; j++)
        fprintf(o, ",%s", T_NAMES[j]);
    fputs(",best_source,empty_reason\n", o);
    for (size_t k = 0; k < v->n_metrics; k++) {
        report_csv_field(o, tv->t->dataset, 0);
        report_csv_field(o, v->metrics[k], 0);
        fprintf(o, "%s,%d,%lld,", kind_name(v, k), v->direction[k], (long long)tv->n[k]);
        for (int j = 0; j < T_N; j++)
            report_csv_number(o, tv->stat[k * T_N + j], 0);
        report_csv_field(o, tv->best[k] == SIZE_MAX ? "" : d->sources[tv->best[k]].name, 0);
        report_csv_field(o, tv->sat[k] ? "does not discriminate" : "", 1);
    }
}

static int truth_json(FILE *out, const truth_view *tv, const char *path, xfer_err *err) {
    const report_view *v = tv->v;
    const xfer_results_data *d = v->d;
    cJSON *root = cJSON_CreateObject(), *gt = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "file", path);
    cJSON_AddStringToObject(root, "xfer_version", d->xfer_version);
    cJSON_AddStringToObject(root, "created", d->created);
    cJSON_AddStringToObject(gt, "file", tv->t->path);
    cJSON_AddStringToObject(gt, "dataset", tv->t->dataset);
    cJSON_AddItemToObject(root, "ground_truth", gt);
    cJSON *srcs = cJSON_CreateArray();
    for (size_t i = 0; i < d->n_sources; i++) {
        const xfer_results_source *s = &d->sources[i];
        cJSON *o = cJSON_CreateObject(), *scores = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", s->name);
        cJSON_AddStringToObject(o, "arch", s->arch);
        cJSON_AddStringToObject(o, "ground_truth", tv->t->cols[tv->col[i]]);
        cJSON_AddItemToObject(o, "published_acc", report_json_num(tv->acc[i]));
        for (size_t k = 0; k < s->n_scores; k++)
            cJSON_AddItemToObject(scores, s->scores[k].metric, report_json_num(s->scores[k].value));
        cJSON_AddItemToObject(o, "scores", scores);
        cJSON_AddItemToArray(srcs, o);
    }
    cJSON_AddItemToObject(root, "sources", srcs);
    cJSON *corr = cJSON_CreateObject();
    for (size_t k = 0; k < v->n_metrics; k++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "kind", kind_name(v, k));
        cJSON_AddNumberToObject(c, "direction", v->direction[k]);
        cJSON_AddNumberToObject(c, "n", (double)tv->n[k]);
        for (int j = 0; j < T_N; j++)
            cJSON_AddItemToObject(c, T_NAMES[j], report_json_num(tv->stat[k * T_N + j]));
        if (tv->best[k] == SIZE_MAX)
            cJSON_AddNullToObject(c, "best_source");
        else
            cJSON_AddStringToObject(c, "best_source", d->sources[tv->best[k]].name);
        if (tv->sat[k]) cJSON_AddStringToObject(c, "empty_reason", "does not discriminate");
        cJSON_AddItemToObject(corr, v->metrics[k], c);
    }
    cJSON_AddItemToObject(root, "correlations", corr);
    cJSON_AddStringToObject(root, "note", TRUTH_NOTE);
    return report_json_print(out, root, err);
}

int xfer_report_write_truth(FILE *out, const xfer_results_data *d, const char *path,
                            const xfer_truth *t, const char *const *gt_names,
                            xfer_report_format fmt, xfer_err *err) {
    report_view v;
    int rc = report_view_init(&v, d, err);
    if (rc) return rc;
    truth_view tv = {&v, t, NULL, NULL, NULL, NULL, NULL, NULL};
    size_t ns = d->n_sources ? d->n_sources : 1, nm = v.n_metrics ? v.n_metrics : 1;
    tv.col = malloc(ns * sizeof *tv.col);
    tv.acc = malloc(ns * sizeof *tv.acc);
    tv.n = malloc(nm * sizeof *tv.n);
    tv.stat = malloc(nm * T_N * sizeof *tv.stat);
    tv.best = malloc(nm * sizeof *tv.best);
    tv.sat = calloc(nm, 1);
    if (!tv.col || !tv.acc || !tv.n || !tv.stat || !tv.best || !tv.sat)
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
    if (!rc) rc = match(&tv, gt_names, err);
    if (!rc && compute(&tv)) rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
    if (!rc && fmt == XFER_REPORT_JSON)
        rc = truth_json(out, &tv, path, err);
    else if (!rc && fmt == XFER_REPORT_CSV)
        truth_csv(out, &tv);
    else if (!rc)
        truth_md(out, &tv, path);
    truth_view_free(&tv);
    report_view_free(&v);
    if (rc == XFER_OK && (fflush(out) != 0 || ferror(out)))
        rc = xfer_fail(err, XFER_EINPUT, "error writing the report of %s", path);
    return rc;
}
