/* xfer merge OUT.h5 IN.h5...: combine shard results files of one config. */
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "xfer/results.h"

/* --finished: every source of every input is done or failed. Prints each input that is not (a
 * shard that was cancelled, timed out or crashed) and returns XFER_EINPUT when there is one. */
static int check_finished(const char **inputs, int n) {
    int bad = 0;
    for (int i = 0; i < n; i++) {
        xfer_err err;
        xfer_err_clear(&err);
        xfer_results_data *d = NULL;
        if (xfer_results_read(inputs[i], &d, &err) != XFER_OK) {
            fprintf(stderr, "xfer: error: %s\n", err.msg);
            bad++;
            continue;
        }
        int open = 0;
        for (size_t k = 0; k < d->n_sources; k++)
            open +=
                d->sources[k].status != XFER_SRC_DONE && d->sources[k].status != XFER_SRC_FAILED;
        if (open) {
            fprintf(stderr, "xfer: error: %s: not finished: %d of %zu sources not done (",
                    inputs[i], open, d->n_sources);
            const char *sep = "";
            for (size_t k = 0; k < d->n_sources; k++) {
                const xfer_results_source *s = &d->sources[k];
                if (s->status == XFER_SRC_DONE || s->status == XFER_SRC_FAILED) continue;
                fprintf(stderr, "%s%s: %s", sep, s->name, xfer_src_status_name(s->status));
                sep = ", ";
            }
            fprintf(stderr, "); run that shard again, it resumes\n");
            bad++;
        }
        xfer_results_data_free(d);
    }
    return bad ? XFER_EINPUT : XFER_OK;
}

int cmd_merge(int argc, char **argv) {
    static int force, finished;
    force = finished = 0;
    static const xfer_opt opts[] = {
        {"force", XFER_OPT_FLAG, &force, NULL, "overwrite OUT.h5 if it exists"},
        {"finished", XFER_OPT_FLAG, &finished, NULL,
         "refuse inputs with sources not done or failed (a shard that did not finish)"},
    };
    static const xfer_cmd_spec spec = {
        "merge",
        "OUT.h5 IN.h5...",
        "Combine shard results files of one config and recompute the correlations.",
        "Refuses inputs whose config attribute or /target differ (exit 2, naming the file) and a "
        "source present in two inputs with different content. OUT.h5 is written to a temporary "
        "name and renamed, so it is never seen half-written.",
        opts,
        (int)(sizeof opts / sizeof opts[0]),
        2,
        -1};
    const char **pos = malloc((size_t)(argc > 0 ? argc : 1) * sizeof *pos);
    if (!pos) return XFER_EINTERNAL;
    int npos = 0;
    int rc = xfer_cmd_parse(&spec, argc, argv, pos, &npos);
    if (rc == XFER_OPTS_HELP) {
        free(pos);
        return XFER_OK;
    }
    if (rc == XFER_OK && finished) rc = check_finished(pos + 1, npos - 1);
    if (rc == XFER_OK) {
        xfer_err err;
        xfer_err_clear(&err);
        rc = xfer_results_merge(pos[0], pos + 1, (size_t)(npos - 1), force, &err);
        if (rc != XFER_OK)
            fprintf(stderr, "xfer: error: %s\n", err.msg);
        else if (!g_xfer_cli.quiet)
            fprintf(stderr, "xfer: merged %d files into %s\n", npos - 1, pos[0]);
    }
    free(pos);
    return rc;
}
