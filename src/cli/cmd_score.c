/* xfer score: not implemented yet (see the issue that fills it in); options are parsed so that
 * --help and typos behave already. */
#include "commands.h"

int cmd_score(int argc, char **argv) {
    static const char *s_str;
    static int s_flag;
    (void)s_str;
    (void)s_flag;
    static const xfer_opt opts[] = {
        {"only", XFER_OPT_STRING, &s_str, "NAME,...", "score only these sources"},
        {"output", XFER_OPT_STRING, &s_str, "PATH", "results file (default: the config's output)"},
    };
    static const xfer_cmd_spec spec = {"score", "CONFIG", "Score every source on the target training split without training.", NULL, opts,
                                       (int)(sizeof opts / sizeof opts[0]), 1, 1};
    return xfer_cmd_not_implemented(&spec, argc, argv);
}
