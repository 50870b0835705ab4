/* xfer merge OUT.h5 IN.h5...: combine shard results files of one config. */
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "xfer/results.h"

int cmd_merge(int argc, char **argv) {
    static int force;
    force = 0;
    static const xfer_opt opts[] = {
        {"force", XFER_OPT_FLAG, &force, NULL, "overwrite OUT.h5 if it exists"},
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
    if (rc == XFER_OPTS_HELP)
        rc = XFER_OK;
    else if (rc == XFER_OK) {
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
