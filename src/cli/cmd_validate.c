/* xfer validate: not implemented yet (see the issue that fills it in); options are parsed so that
 * --help and typos behave already. */
#include "commands.h"

int cmd_validate(int argc, char **argv) {
    static const char *s_str;
    static int s_flag;
    (void)s_str;
    (void)s_flag;
    static const xfer_opt opts[] = {
        {"strict", XFER_OPT_FLAG, &s_flag, NULL, "treat missing files as errors"},
    };
    static const xfer_cmd_spec spec = {"validate", "CONFIG", "Check a config file: every problem is reported as FILE:LINE:COL; missing files are warnings.", NULL, opts,
                                       (int)(sizeof opts / sizeof opts[0]), 1, 1};
    return xfer_cmd_not_implemented(&spec, argc, argv);
}
