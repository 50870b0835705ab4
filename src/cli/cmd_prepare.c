/* xfer prepare: not implemented yet (see the issue that fills it in); options are parsed so that
 * --help and typos behave already. */
#include "commands.h"

int cmd_prepare(int argc, char **argv) {
    static const char *s_str;
    static int s_flag;
    (void)s_str;
    (void)s_flag;
    static const xfer_opt opts[] = {
        {"only", XFER_OPT_STRING, &s_str, "NAME,...", "prepare only these datasets"},
    };
    static const xfer_cmd_spec spec = {"prepare", "CONFIG", "Decode the config's datasets once into their caches (reused while valid).", NULL, opts,
                                       (int)(sizeof opts / sizeof opts[0]), 1, 1};
    return xfer_cmd_not_implemented(&spec, argc, argv);
}
