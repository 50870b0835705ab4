/* xfer validate CONFIG [--strict]: parse and check a config; every problem is printed as
 * FILE:LINE:COL; files the config names but that do not exist are warnings (errors with
 * --strict). */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "xfer/config.h"
#include "xfer/plan.h"

/* Prints each line of a multi-line message with the error prefix. */
static void print_lines(const char *msg) {
    const char *p = msg;
    while (*p) {
        const char *nl = strchr(p, '\n');
        int n = nl ? (int)(nl - p) : (int)strlen(p);
        fprintf(stderr, "xfer: error: %.*s\n", n, p);
        p += n + (nl ? 1 : 0);
    }
}

int cmd_validate(int argc, char **argv) {
    static int s_strict, s_shards;
    static const xfer_opt opts[] = {
        {"strict", XFER_OPT_FLAG, &s_strict, NULL, "treat missing files as errors"},
        {"shards", XFER_OPT_INT, &s_shards, "N",
         "also print how --shard I/N splits the sources, and the memory estimate"},
    };
    static const xfer_cmd_spec spec = {
        "validate",
        "CONFIG",
        "Check a config file: every problem is reported as FILE:LINE:COL; missing files are "
        "warnings.",
        "Relative paths in the config are relative to the current directory; docs/config.md\n"
        "describes every key. With --shards N, one line per shard (its sources and estimated\n"
        "cost), then 'estimate: memory_mb=M device=D' (docs/slurm.md, cost model).\n"
        "Exit status: 0 valid, 2 invalid (with --strict, also when a file it names is missing).",
        opts,
        (int)(sizeof opts / sizeof opts[0]),
        1,
        1};
    const char *pos[256];
    int npos = 0;
    if (argc > 256) argc = 256; /* pos holds at most argc entries */
    s_strict = 0;
    s_shards = 0;
    int rc = xfer_cmd_parse(&spec, argc, argv, pos, &npos);
    if (rc == XFER_OPTS_HELP) return XFER_OK;
    if (rc != XFER_OK) return rc;

    xfer_config cfg;
    xfer_err err;
    rc = xfer_config_load(pos[0], &cfg, &err);
    if (rc != XFER_OK) {
        print_lines(err.msg);
        return rc;
    }
    rc = xfer_config_check_files(&cfg, s_strict != 0, &err);
    if (rc != XFER_OK) {
        print_lines(err.msg);
        xfer_config_free(&cfg);
        return rc;
    }
    if (s_shards < 0 || (s_shards > 0 && cfg.n_sources == 0)) {
        fprintf(stderr, "xfer: error: --shards must be a positive number of shards\n");
        xfer_config_free(&cfg);
        return XFER_EINPUT;
    }
    if (s_shards > 0) {
        xfer_shard_plan p;
        rc = xfer_shard_plan_make(&cfg, NULL, s_shards, &p, &err);
        if (rc != XFER_OK) {
            print_lines(err.msg);
            xfer_config_free(&cfg);
            return rc;
        }
        xfer_shard_plan_print(stdout, &cfg, &p, -1);
        printf("estimate: memory_mb=%.0f device=%s\n", p.mem_bytes / 1e6 + 0.5,
               xfer_device_name(cfg.device));
        xfer_shard_plan_free(&p);
    }
    printf("ok: %d dataset%s, %d source%s, %d score%s\n", cfg.n_datasets,
           cfg.n_datasets == 1 ? "" : "s", cfg.n_sources, cfg.n_sources == 1 ? "" : "s",
           cfg.n_scores, cfg.n_scores == 1 ? "" : "s");
    xfer_config_free(&cfg);
    return XFER_OK;
}
