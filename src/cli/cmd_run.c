/* xfer run CONFIG / xfer score CONFIG: the experiment runner (src/run/). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "xfer/cpus.h"
#include "xfer/log.h"
#include "xfer/run.h"

static int run_command(int argc, char **argv, int score_only) {
    const char *only = NULL, *shard = NULL, *output = NULL, *log_json = NULL;
    int no_plots = 0, threads = 0;
    const xfer_opt opts[] = {
        {"only", XFER_OPT_STRING, &only, "NAME,...", "run only these sources"},
        {"shard", XFER_OPT_STRING, &shard, "I/N",
         "run shard I (from 0) of N; default SLURM_ARRAY_TASK_ID/XFER_SHARDS in a job array"},
        {"output", XFER_OPT_STRING, &output, "PATH", "results file (default: the config's output)"},
        {"log-json", XFER_OPT_STRING, &log_json, "FILE", "append one JSON object per epoch"},
        {"no-plots", XFER_OPT_FLAG, &no_plots, NULL, "do not draw the plots at the end"},
        {"threads", XFER_OPT_INT, &threads, "N",
         "CPU threads (default: the CPUs this process may use, see docs/run.md)"},
    };
    const xfer_cmd_spec spec = {
        score_only ? "score" : "run",
        "CONFIG",
        score_only ? "Score every source on the target training split without training."
                   : "Run an experiment: prepare the datasets, build the sources, score them, "
                     "fine-tune them, write the results file, the report and the plots.",
        "Files go next to the results file: cache/ (decoded datasets), sources/ (sources built by\n"
        "training), checkpoints/ (fine-tuning), report.md and the PNG plots (a shard writes\n"
        "<stem>.report.md and no plots). Running again on the same output resumes. Exit status: 0 "
        "all done, 2 bad input, 4 some sources failed.",
        opts,
        (int)(sizeof opts / sizeof opts[0]),
        1,
        1};
    const char *pos[2];
    int npos = 0;
    int rc = xfer_cmd_parse(&spec, argc, argv, pos, &npos);
    if (rc == XFER_OPTS_HELP) return XFER_OK;
    if (rc != XFER_OK) return rc;

    xfer_err err;
    xfer_err_clear(&err);
    xfer_run_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.only = only;
    ro.output = output;
    ro.log_json = log_json;
    ro.score_only = score_only;
    ro.plots = !no_plots;
    ro.threads = threads > 0 ? threads : xfer_default_threads();
    ro.device = g_xfer_cli.device;
    ro.device_set = g_xfer_cli.device_set;
    char slurm[64];
    const char *tid = getenv("SLURM_ARRAY_TASK_ID"), *tcount = getenv("SLURM_ARRAY_TASK_COUNT");
    const char *nshards = getenv("XFER_SHARDS");
    if (!shard && tid && nshards && *nshards) { /* the array's indices are the shard indices */
        snprintf(slurm, sizeof slurm, "%d/%s", atoi(tid), nshards);
        shard = slurm;
    } else if (!shard && tid && tcount) {
        const char *tmin = getenv("SLURM_ARRAY_TASK_MIN");
        snprintf(slurm, sizeof slurm, "%d/%s", atoi(tid) - (tmin ? atoi(tmin) : 0), tcount);
        shard = slurm;
    }
    if (shard) rc = xfer_parse_shard(shard, &ro.shard_i, &ro.shard_n, &err);
    xfer_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (rc == XFER_OK) rc = xfer_config_load(pos[0], &cfg, &err);
    if (rc == XFER_OK) {
        rc = xfer_run(&cfg, &ro, &err);
        xfer_config_free(&cfg);
    }
    if (rc != XFER_OK)
        fprintf(stderr, "xfer: %s: %s\n", rc == XFER_EFAILED ? "failed" : "error", err.msg);
    return rc;
}

int cmd_run(int argc, char **argv) {
    return run_command(argc, argv, 0);
}

int cmd_score(int argc, char **argv) {
    return run_command(argc, argv, 1);
}
