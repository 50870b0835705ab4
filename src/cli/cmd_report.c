/* xfer report: not implemented yet (see the issue that fills it in); options are parsed so that
 * --help and typos behave already. */
#include "commands.h"

int cmd_report(int argc, char **argv) {
    static const char *s_str;
    static int s_flag;
    (void)s_str;
    (void)s_flag;
    static const xfer_opt opts[] = {
        {"format", XFER_OPT_STRING, &s_str, "md|csv|json", "output format (default md)"},
    };
    static const xfer_cmd_spec spec = {"report", "RESULTS.h5", "Print the Table-1-style report and the rank correlations of a results file.", NULL, opts,
                                       (int)(sizeof opts / sizeof opts[0]), 1, 1};
    return xfer_cmd_not_implemented(&spec, argc, argv);
}
