/* xfer merge: not implemented yet (see the issue that fills it in); options are parsed so that
 * --help and typos behave already. */
#include "commands.h"

int cmd_merge(int argc, char **argv) {
    static const char *s_str;
    static int s_flag;
    (void)s_str;
    (void)s_flag;
    static const xfer_opt opts[] = {
        {"force", XFER_OPT_FLAG, &s_flag, NULL, "overwrite OUT.h5 if it exists"},
    };
    static const xfer_cmd_spec spec = {"merge", "OUT.h5 IN.h5...", "Combine shard results files of one config and recompute the correlations.", NULL, opts,
                                       (int)(sizeof opts / sizeof opts[0]), 2, -1};
    return xfer_cmd_not_implemented(&spec, argc, argv);
}
