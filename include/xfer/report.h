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

#endif
