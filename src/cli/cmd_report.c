/* xfer report RESULTS.h5 [--format md|csv|json]: Table 1 and the rank correlations; with
 * --ground-truth FILE --dataset NAME, the scores against published accuracies instead. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "xfer/config.h"
#include "xfer/report.h"
#include "xfer/results.h"

/* The sources' ground_truth_name keys, from the config stored in the results file: names[i] for
 * d->sources[i] (NULL: match by arch). */
static int truth_names(const xfer_results_data *d, const char *path, xfer_config *cfg,
                       const char ***names, xfer_err *err) {
    char where[1024];
    snprintf(where, sizeof where, "%s (its stored config)", path);
    const char *text = d->config ? d->config : "";
    int rc = xfer_config_load_string(text, strlen(text), where, cfg, err);
    if (rc) return xfer_err_prefix(err, "reading the sources' ground_truth_name from %s: ", path);
    *names = calloc(d->n_sources ? d->n_sources : 1, sizeof **names);
    if (!*names) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    for (size_t i = 0; i < d->n_sources; i++) {
        const xfer_source_cfg *s = xfer_config_source(cfg, d->sources[i].name);
        (*names)[i] = s ? s->ground_truth_name : NULL;
    }
    return XFER_OK;
}

static int report_truth(const char *path, const char *truth, const char *dataset,
                        xfer_report_format fmt) {
    xfer_err err;
    xfer_err_clear(&err);
    xfer_results_data *d = NULL;
    xfer_config cfg;
    memset(&cfg, 0, sizeof cfg);
    int have_cfg = 0;
    const char **names = NULL;
    xfer_truth t;
    memset(&t, 0, sizeof t);
    int rc = xfer_results_read(path, &d, &err);
    if (rc == XFER_OK) rc = xfer_truth_read(truth, dataset, &t, &err);
    if (rc == XFER_OK) {
        rc = truth_names(d, path, &cfg, &names, &err);
        have_cfg = rc == XFER_OK;
    }
    if (rc == XFER_OK) rc = xfer_report_write_truth(stdout, d, path, &t, names, fmt, &err);
    free(names);
    if (have_cfg) xfer_config_free(&cfg);
    xfer_truth_free(&t);
    xfer_results_data_free(d);
    if (rc != XFER_OK) fprintf(stderr, "xfer: error: %s\n", err.msg);
    return rc;
}

int cmd_report(int argc, char **argv) {
    static const char *format, *compare, *truth, *dataset;
    format = compare = truth = dataset = NULL;
    static const xfer_opt opts[] = {
        {"format", XFER_OPT_STRING, &format, "md|csv|json", "output format (default md)"},
        {"compare", XFER_OPT_STRING, &compare, "FULL.h5",
         "a pruned sweep against its full sweep: best source survived? regret"},
        {"ground-truth", XFER_OPT_STRING, &truth, "FILE",
         "rank the scores against published accuracies (a CSV: dataset,<model>...; "
         "docs/results.md) instead of the run's fine-tunes"},
        {"dataset", XFER_OPT_STRING, &dataset, "NAME", "the row of --ground-truth to use"},
    };
    static const xfer_cmd_spec spec = {
        "report",
        "RESULTS.h5",
        "Print the Table-1-style report and the rank correlations of a results file.",
        "Incomplete files (an interrupted or running experiment) are reported as they are and "
        "marked so. Correlations use oriented scores: positive means the metric ranked well. "
        "With --ground-truth and --dataset, each score (metrics and baselines) is ranked against "
        "the file's accuracies of the sources' models (matched by arch or the source's "
        "ground_truth_name): weighted Kendall tau (scipy.stats.weightedtau), Kendall, Spearman, "
        "top-1.",
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
    if (!truth != !dataset) {
        fprintf(stderr, "xfer: error: %s needs %s\n", truth ? "--ground-truth" : "--dataset",
                truth ? "--dataset NAME" : "--ground-truth FILE");
        return XFER_EINPUT;
    }
    if (truth && compare) {
        fprintf(stderr, "xfer: error: --ground-truth and --compare cannot be combined\n");
        return XFER_EINPUT;
    }
    xfer_err err;
    xfer_err_clear(&err);
    if (truth) return report_truth(path, truth, dataset, fmt);
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
