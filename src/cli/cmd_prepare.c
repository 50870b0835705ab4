/* xfer prepare CONFIG [--only NAME,...]: decodes each dataset of the config once into its HDF5
 * cache (reused while valid, rebuilt when stale). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "xfer/cache.h"
#include "xfer/config.h"
#include "xfer/log.h"

/* 1 when name is one of the comma-separated names in list */
static int in_list(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

int cmd_prepare(int argc, char **argv) {
    static const char *only;
    static int force;
    static const xfer_opt opts[] = {
        {"only", XFER_OPT_STRING, &only, "NAME,...", "prepare only these datasets"},
        {"force", XFER_OPT_FLAG, &force, NULL, "rebuild the caches even when they are valid"},
    };
    static const xfer_cmd_spec spec = {
        "prepare",
        "CONFIG",
        "Decode the config's datasets once into their caches (reused while valid).",
        "Each dataset is decoded into an HDF5 cache: its `cache:` path, or\n"
        "<folder of the config's output>/cache/<dataset>.h5. Bad images are warned about and\n"
        "skipped (on_bad_image: error stops with exit 2).",
        opts,
        (int)(sizeof opts / sizeof opts[0]),
        1,
        1};
    only = NULL;
    force = 0;
    const char *pos[4];
    int npos = 0;
    int rc = xfer_cmd_parse(&spec, argc > 64 ? 64 : argc, argv, pos, &npos);
    if (rc == XFER_OPTS_HELP) return XFER_OK;
    if (rc != XFER_OK) return rc;
    xfer_err err;
    xfer_err_clear(&err);
    xfer_config cfg;
    rc = xfer_config_load(pos[0], &cfg, &err);
    if (rc != XFER_OK) {
        fprintf(stderr, "xfer: error: %s\n", err.msg);
        return rc;
    }
    if (only) {
        /* every name in --only must be a dataset */
        char *copy = strdup(only);
        for (char *t = copy ? strtok(copy, ",") : NULL; t; t = strtok(NULL, ","))
            if (!xfer_config_dataset(&cfg, t)) {
                fprintf(stderr, "xfer: error: --only: no dataset named '%s' in %s\n", t, pos[0]);
                rc = XFER_EINPUT;
            }
        free(copy);
    }
    for (int i = 0; rc == XFER_OK && i < cfg.n_datasets; i++) {
        const xfer_dataset_cfg *d = &cfg.datasets[i];
        if (only && !in_list(only, d->name)) continue;
        char *path = xfer_cache_path(d, cfg.output);
        if (!path) {
            rc = XFER_EINTERNAL;
            break;
        }
        xfer_prepare_opts po = {-1, force, 0};
        xfer_prepare_result res;
        rc = xfer_prepare_dataset(d, path, &po, &res, &err);
        if (rc != XFER_OK) fprintf(stderr, "xfer: error: %s\n", err.msg);
        free(path);
    }
    xfer_config_free(&cfg);
    return rc;
}
