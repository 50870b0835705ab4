/* xfer metrics: not implemented yet (see the issue that fills it in); options are parsed so that
 * --help and typos behave already. */
#include "commands.h"

int cmd_metrics(int argc, char **argv) {
    static const char *s_str;
    static int s_flag;
    (void)s_str;
    (void)s_flag;
    static const xfer_opt opts[] = {
        {"metrics", XFER_OPT_STRING, &s_str, "LIST", "comma-separated metrics (default: all whose inputs are present)"},
        {"format", XFER_OPT_STRING, &s_str, "json|md", "output format (default md)"},
        {"word-vectors", XFER_OPT_STRING, &s_str, "PATH", "fastText .vec/.bin for the EMD ground distance"},
    };
    static const xfer_cmd_spec spec = {"metrics", "INPUT.h5", "Compute transferability metrics from features/probabilities/labels in an HDF5 file.", NULL, opts,
                                       (int)(sizeof opts / sizeof opts[0]), 1, 1};
    return xfer_cmd_not_implemented(&spec, argc, argv);
}
