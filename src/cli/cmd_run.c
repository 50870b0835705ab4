/* xfer run: not implemented yet (see the issue that fills it in); options are parsed so that
 * --help and typos behave already. */
#include "commands.h"

int cmd_run(int argc, char **argv) {
    static const char *s_str;
    static int s_flag;
    (void)s_str;
    (void)s_flag;
    static const xfer_opt opts[] = {
        {"only", XFER_OPT_STRING, &s_str, "NAME,...", "run only these sources"},
        {"shard", XFER_OPT_STRING, &s_str, "I/N", "run shard I of N (default from SLURM_ARRAY_TASK_ID)"},
        {"output", XFER_OPT_STRING, &s_str, "PATH", "results file (default: the config's output)"},
        {"log-json", XFER_OPT_STRING, &s_str, "FILE", "write one JSON object per epoch"},
    };
    static const xfer_cmd_spec spec = {"run", "CONFIG", "Run an experiment: prepare the datasets, build the sources, score them, fine-tune them and report.", NULL, opts,
                                       (int)(sizeof opts / sizeof opts[0]), 1, 1};
    return xfer_cmd_not_implemented(&spec, argc, argv);
}
