/* xfer: entry point. Parses the global options, dispatches to one command, maps its status to the
 * exit status (0 ok, 1 internal error, 2 bad input, 3 not implemented, 4 some sources failed). */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "xfer/log.h"
#include "xfer/version.h"

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command k_commands[] = {
    {"run", cmd_run, "run an experiment: prepare data, build sources, score, fine-tune, report"},
    {"validate", cmd_validate, "check a config file and list missing files"},
    {"prepare", cmd_prepare, "decode the config's datasets into their caches"},
    {"score", cmd_score, "score every source on the target without training"},
    {"report", cmd_report, "print the Table-1-style report of a results file"},
    {"merge", cmd_merge, "combine shard results files and recompute correlations"},
    {"metrics", cmd_metrics, "compute transferability metrics from features in an HDF5 file"},
    {"step", cmd_step, "run training steps on one batch (comparison with other frameworks)"},
    {"bench", cmd_bench, "measure training and inference throughput"},
    {"info", cmd_info, "print versions, backends and CUDA devices"},
};
enum { N_COMMANDS = sizeof k_commands / sizeof k_commands[0] };

static void usage(FILE *f) {
    fprintf(f, "usage: xfer [--device auto|cpu|cuda] [--quiet] <command> [options]\n\n"
               "Ranks pretrained source models for transfer learning on a target dataset,\n"
               "then checks the ranking by fine-tuning every source.\n\ncommands:\n");
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", k_commands[i].name, k_commands[i].summary);
    fprintf(f, "\n'xfer <command> --help' describes a command's options.\n"
               "exit status: 0 ok, 1 internal error, 2 bad input, 3 not implemented,\n"
               "             4 some sources failed (xfer run)\n");
}

int main(int argc, char **argv) {
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return XFER_OK;
        }
        if (strcmp(a, "--version") == 0) {
            printf("xfer %s\n", XFER_VERSION);
            return XFER_OK;
        }
        if (strcmp(a, "--quiet") == 0) {
            g_xfer_cli.quiet = 1;
            xfer_log_set_level(XFER_LOG_QUIET);
        } else if (strcmp(a, "--verbose") == 0) {
            g_xfer_cli.verbose = 1;
            xfer_log_set_level(XFER_LOG_VERBOSE);
        } else if (strcmp(a, "--device") == 0 || strncmp(a, "--device=", 9) == 0) {
            const char *v = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v || xfer_parse_device(v, &g_xfer_cli.device) != XFER_OK) {
                fprintf(stderr, "xfer: error: --device takes auto, cpu or cuda\n");
                return XFER_EINPUT;
            }
            g_xfer_cli.device_set = 1;
        } else {
            fprintf(stderr, "xfer: error: unknown option '%s'\n", a);
            usage(stderr);
            return XFER_EINPUT;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return XFER_EINPUT;
    }
    for (int k = 0; k < N_COMMANDS; k++)
        if (strcmp(argv[i], k_commands[k].name) == 0) return k_commands[k].fn(argc - i, argv + i);
    fprintf(stderr, "xfer: error: unknown command '%s' (see 'xfer --help')\n", argv[i]);
    return XFER_EINPUT;
}
