/* `xfer report`: the paper's Table 1 (per architecture: source, each score, max accuracy, best
 * epoch, epochs to 95%, curve AUC; the best score per arch and metric marked) and the rank
 * correlation table, from a results file read with xfer_results_read(). */
#ifndef XFER_REPORT_H
#define XFER_REPORT_H

#include <stdio.h>

#include "xfer/error.h"
#include "xfer/results.h"

typedef enum { XFER_REPORT_MD, XFER_REPORT_CSV, XFER_REPORT_JSON } xfer_report_format;

/* Returns 0 and sets *out for "md", "csv", "json"; -1 otherwise. */
int xfer_report_parse_format(const char *s, xfer_report_format *out);

/* Writes the report of d (read from path, which is named in the output) to out. */
int xfer_report_write(FILE *out, const xfer_results_data *d, const char *path,
                      xfer_report_format fmt, xfer_err *err);
/* The same, with a pruned sweep compared against its full sweep's results (full, read from
 * full_path; NULL: no comparison): did the full sweep's best source survive, the regret. */
int xfer_report_write_compare(FILE *out, const xfer_results_data *d, const char *path,
                              const xfer_results_data *full, const char *full_path,
                              xfer_report_format fmt, xfer_err *err);

/* A published-accuracy table (`--ground-truth FILE`, docs/results.md): one row of the file, that
 * of `dataset`, by model column. */
typedef struct {
    char *path, *dataset;
    size_t n_cols;
    char **cols;    /* the header's model names */
    double *acc;    /* [n_cols]: the dataset's row */
    char *datasets; /* every dataset of the file, comma-separated (for messages) */
} xfer_truth;

/* Reads FILE's header and the row of dataset. A missing file, a malformed line (FILE:LINE), a
 * dataset the file lacks: XFER_EINPUT; t is then left empty. */
int xfer_truth_read(const char *path, const char *dataset, xfer_truth *t, xfer_err *err);
void xfer_truth_free(xfer_truth *t);

/* `xfer report --ground-truth`: every score of d's sources (metrics and baselines) ranked against
 * t's accuracies: weighted Kendall tau (scipy.stats.weightedtau), Kendall tau-b, Spearman, top-1.
 * Source i is matched to the column gt_names[i] (gt_names or its entry NULL: the source's arch);
 * a source that matches no column, or two sources on one column: XFER_EINPUT. */
int xfer_report_write_truth(FILE *out, const xfer_results_data *d, const char *path,
                            const xfer_truth *t, const char *const *gt_names,
                            xfer_report_format fmt, xfer_err *err);

#endif
