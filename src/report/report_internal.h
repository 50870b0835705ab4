/* Shared views of a results file for the report formatters (internal to src/report). */
#ifndef XFER_REPORT_INTERNAL_H
#define XFER_REPORT_INTERNAL_H

#include <stdio.h>

#include "xfer/report.h"

/* The sentence every format carries: what the sign of a correlation means. */
#define REPORT_ORIENTATION_NOTE                                                                    \
    "Correlations use oriented scores (score x direction: lower-is-better metrics such as emd "    \
    "are negated), so a positive value means the metric ranked the sources well. They are "        \
    "computed over the sources with status done, against best_test_acc and (suffix _auc) "         \
    "against curve_auc, the mean test accuracy over the epochs."

/* How the intervals are made (docs/results.md, "Bootstrap intervals"). */
#define REPORT_BOOT_NOTE                                                                           \
    "kendall 90% CI: the 5th to 95th percentile of Kendall's tau over 2000 bootstrap resamples "   \
    "of the sources (with replacement) and, within each drawn source, of its fine-tune seeds "     \
    "(the accuracy is the mean of the drawn seeds' best accuracies; a source's score does not "    \
    "depend on the seed); the resampling stream is fixed, so the interval is deterministic."

typedef struct {
    const xfer_results_data *d;
    size_t n_metrics, n_archs;
    const char **metrics; /* sorted union of score names */
    int *direction;       /* per metric */
    const char **archs;   /* sorted */
    /* best[i * n_metrics + k]: source i has the best oriented score of metric k in its arch */
    unsigned char *best;
    unsigned char *best_acc; /* per source: the best best_test_acc in its arch */
    unsigned char *baseline; /* per metric: a baseline needing no target data (params, prior) */
    /* saturated[a * n_metrics + k]: metric k does not discriminate between the sources of arch a
     * (xfer_results_saturated): no best mark, the report says so */
    unsigned char *saturated;
    double *values; /* scratch [n_sources] */
    size_t n_done, n_status[XFER_SRC_N_STATUS];
    /* correlations: the file's own, or computed now when the file has none */
    const xfer_results_corr *corr;
    size_t n_corr;
    xfer_results_corr *computed;
    /* `--compare FULL.h5`: the full sweep's results, or NULL */
    const xfer_results_data *full;
    const char *full_path;
} report_view;

/* The reason a correlation row is empty, or NULL. */
#define REPORT_SATURATION_NOTE                                                                     \
    "does not discriminate between these sources (its values differ by at most %g relative): "     \
    "not ranked"

/* The index of metric name in v->metrics, or -1. */
int report_metric_index(const report_view *v, const char *name);

int report_view_init(report_view *v, const xfer_results_data *d, xfer_err *err);
void report_view_free(report_view *v);

/* Pruning (report_prune.c): the status cell ("pruned @ 3"), the figures, the md section and the
 * correlation note (nothing without /prune), the JSON object (NULL without /prune). */
typedef struct {
    long long trained, full, full_trained, n_train; /* epochs; full_trained: in the FULL file */
    const xfer_results_source *best_full, *best_here;
    int survived;
    double regret;
} report_prune_figures;
const char *report_status_text(const xfer_results_source *s, char *buf, size_t size);
void report_prune_summary(const report_view *v, report_prune_figures *f);
void report_md_prune(FILE *o, const report_view *v);
void report_md_prune_corr_note(FILE *o, const report_view *v);
struct cJSON *report_json_prune(const report_view *v);

/* Cell writers shared by the formats: a Markdown number (fmt; " –" for NaN; star: the best mark)
 * and string cell, a CSV string and number cell (last: end the row), a JSON number (null when not
 * finite). */
void report_md_num(FILE *o, double x, const char *fmt, int star);
void report_md_cell(FILE *o, const char *s);
void report_csv_field(FILE *o, const char *s, int last);
void report_csv_number(FILE *o, double x, int last);
struct cJSON *report_json_num(double x);
/* The score columns' header cells ("name (baseline) ↑ |") and their alignment cells. */
void report_md_score_heads(FILE *o, const report_view *v);
void report_md_score_rules(FILE *o, const report_view *v);
/* A score's cell: empty when absent, "failed", or its value (star: the best mark). */
void report_md_score(FILE *o, const xfer_results_score *sc, int star);
/* Prints root (then deleted) with a newline. */
int report_json_print(FILE *out, struct cJSON *root, xfer_err *err);

int report_md(FILE *out, const report_view *v, const char *path);
int report_csv(FILE *out, const report_view *v, const char *path);
int report_json(FILE *out, const report_view *v, const char *path, xfer_err *err);

#endif
