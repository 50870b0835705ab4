/* xfer bench: not implemented yet (see the issue that fills it in); options are parsed so that
 * --help and typos behave already. */
#include "commands.h"

int cmd_bench(int argc, char **argv) {
    static const char *s_str;
    static int s_flag;
    (void)s_str;
    (void)s_flag;
    static const xfer_opt opts[] = {
        {"arch", XFER_OPT_STRING, &s_str, "A", "alexnet | resnet18 | resnet34"},
        {"batch", XFER_OPT_STRING, &s_str, "B", "batch size"},
        {"size", XFER_OPT_STRING, &s_str, "S", "image size"},
    };
    static const xfer_cmd_spec spec = {"bench", "", "Measure training-step and inference throughput on synthetic batches.", NULL, opts,
                                       (int)(sizeof opts / sizeof opts[0]), 0, 0};
    return xfer_cmd_not_implemented(&spec, argc, argv);
}
