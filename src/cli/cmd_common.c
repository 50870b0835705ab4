#include <stdio.h>

#include "commands.h"

int xfer_cmd_parse(const xfer_cmd_spec *spec, int argc, char **argv, const char **pos, int *npos) {
    xfer_err err;
    xfer_err_clear(&err);
    int rc = xfer_opts_parse(spec, argc, argv, pos, npos, &err);
    if (rc != XFER_OK && rc != XFER_OPTS_HELP) fprintf(stderr, "xfer: error: %s\n", err.msg);
    return rc;
}

int xfer_cmd_not_implemented(const xfer_cmd_spec *spec, int argc, char **argv) {
    const char *pos[256];
    int npos = 0;
    if (argc > 256) argc = 256;
    int rc = xfer_cmd_parse(spec, argc, argv, pos, &npos);
    if (rc == XFER_OPTS_HELP) return XFER_OK;
    if (rc != XFER_OK) return rc;
    fprintf(stderr, "xfer: %s: not implemented yet\n", spec->command);
    return XFER_ENOTIMPL;
}
