/* xfer report RESULTS.h5 [--format md|csv|json]: Table 1 and the rank correlations. */
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "xfer/report.h"
#include "xfer/results.h"

int cmd_report(int argc, char **argv) {
    static const char *format, *compare;
    format = compare = NULL;
    static const xfer_opt opts[] = {
        {"format", XFER_OPT_STRING, &format, "md|csv|json", "output format (default md)"},
        {"compare", XFER_OPT_STRING, &compare, "FULL.h5",
         "a pruned sweep against its full sweep: best source survived? regret"},
    };
    static const xfer_cmd_spec spec = {
        "report",
        "RESULTS.h5",
        "Print the Table-1-style report and the rank correlations of a results file.",
        "Incomplete files (an interrupted or running experiment) are reported as they are and "
        "marked so. Correlations use oriented scores: positive means the metric ranked well.",
        opts,
        (int)(sizeof opts / sizeof opts[0]),
        1,
        1};
    const char **pos = malloc((size_t)(argc > 0 ? argc : 1) * sizeof *pos);
    if (!pos) return XFER_EINTERNAL;
    int npos = 0;
    int rc = xfer_cmd_parse(&spec, argc, argv, pos, &npos);
    const char *path = rc == XFER_OK ? pos[0] : NULL;
    free(pos);
    if (rc == XFER_OPTS_HELP) return XFER_OK;
    if (rc != XFER_OK) return rc;
    xfer_report_format fmt;
    if (xfer_report_parse_format(format, &fmt) < 0) {
        fprintf(stderr, "xfer: error: --format: '%s' is not one of md, csv, json\n", format);
        return XFER_EINPUT;
    }
    xfer_err err;
    xfer_err_clear(&err);
    xfer_results_data *d = NULL, *full = NULL;
    rc = xfer_results_read(path, &d, &err);
    if (rc == XFER_OK && compare) rc = xfer_results_read(compare, &full, &err);
    if (rc == XFER_OK && full && (!d->prune || full->prune))
        fprintf(stderr,
                "xfer: warning: --compare: expected a pruned sweep (%s%s) against a full "
                "one (%s%s)\n",
                path, d->prune ? "" : " is not pruned", compare, full->prune ? " is pruned" : "");
    if (rc == XFER_OK) rc = xfer_report_write_compare(stdout, d, path, full, compare, fmt, &err);
    xfer_results_data_free(d);
    xfer_results_data_free(full);
    if (rc != XFER_OK) fprintf(stderr, "xfer: error: %s\n", err.msg);
    return rc;
}
