/* xfer step: not implemented yet (see the issue that fills it in); options are parsed so that
 * --help and typos behave already. */
#include "commands.h"

int cmd_step(int argc, char **argv) {
    static const char *s_str;
    static int s_flag;
    (void)s_str;
    (void)s_flag;
    static const xfer_opt opts[] = {
        {"arch", XFER_OPT_STRING, &s_str, "A", "alexnet | resnet18 | resnet34"},
        {"num-classes", XFER_OPT_STRING, &s_str, "K", "classes of the head"},
        {"weights", XFER_OPT_STRING, &s_str, "W.safetensors", "initial weights"},
        {"batch", XFER_OPT_STRING, &s_str, "B.safetensors", "images and labels"},
        {"out", XFER_OPT_STRING, &s_str, "O.safetensors", "output file"},
    };
    static const xfer_cmd_spec spec = {"step", "", "Run training steps on one batch and write logits, losses, gradients and parameters.", NULL, opts,
                                       (int)(sizeof opts / sizeof opts[0]), 0, 0};
    return xfer_cmd_not_implemented(&spec, argc, argv);
}
