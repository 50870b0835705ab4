/* A small option parser shared by every command: `--name value`, `--name=value`, flags, and
 * positional arguments; --help, --device, --quiet and --verbose are accepted by every command. */
#ifndef XFER_CLI_OPTS_H
#define XFER_CLI_OPTS_H

#include <stdio.h>

#include "xfer/config.h"
#include "xfer/error.h"

typedef enum {
    XFER_OPT_FLAG,   /* int*, set to 1 */
    XFER_OPT_STRING, /* const char**, points into argv */
    XFER_OPT_INT,    /* int*, must be a whole number */
    XFER_OPT_DOUBLE, /* double*, must be a finite number */
} xfer_opt_kind;

typedef struct {
    const char *name; /* without the leading "--" */
    xfer_opt_kind kind;
    void *dest;
    const char *metavar; /* shown in --help, e.g. "N" */
    const char *help;
} xfer_opt;

typedef struct {
    const char *command;  /* e.g. "validate" */
    const char *args;     /* positional synopsis, e.g. "CONFIG" */
    const char *summary;  /* one line */
    const char *details;  /* optional paragraph after the options, may be NULL */
    const xfer_opt *opts;
    int n_opts;
    int min_pos, max_pos; /* max_pos < 0: unlimited */
} xfer_cmd_spec;

/* Options every command accepts (also before the command name). */
typedef struct {
    xfer_device_kind device;
    int device_set;
    int quiet, verbose;
} xfer_cli_globals;

extern xfer_cli_globals g_xfer_cli;

#define XFER_OPTS_HELP (-1) /* --help was given and printed: exit 0 */

/* Parses argv[1..argc-1] (argv[0] is the command name). Positional arguments are collected into
 * pos (an array of at most argc pointers the caller provides) and counted in *npos. Returns XFER_OK,
 * XFER_OPTS_HELP, or XFER_EINPUT with err naming the offending option. */
int xfer_opts_parse(const xfer_cmd_spec *spec, int argc, char **argv, const char **pos, int *npos,
                    xfer_err *err);

void xfer_opts_print_help(const xfer_cmd_spec *spec, FILE *f);

/* Parses a --device value. */
int xfer_parse_device(const char *s, xfer_device_kind *out);

#endif
