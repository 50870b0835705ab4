/* Datasets of a run: prepared (or reused) caches loaded once into memory, with their splits. */
#include <stdlib.h>
#include <string.h>

#include "gpu_batch.h"
#include "run_internal.h"
#include "xfer/log.h"

int run_dataset_get(run_ctx *c, const char *name, run_dataset **out, xfer_err *err) {
    const xfer_config *cfg = c->cfg;
    for (int i = 0; i < cfg->n_datasets; i++) {
        if (strcmp(cfg->datasets[i].name, name) != 0) continue;
        run_dataset *d = &c->ds[i];
        if (d->loaded) {
            *out = d;
            return XFER_OK;
        }
        d->cfg = &cfg->datasets[i];
        d->cache_path = xfer_cache_path(d->cfg, c->output);
        if (!d->cache_path) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
        char *slash = strrchr(d->cache_path, '/');
        if (slash) {
            *slash = '\0';
            int rc = run_mkdirs(d->cache_path, err);
            *slash = '/';
            if (rc != XFER_OK) return rc;
        }
        xfer_prepare_opts po = {-1, 0, c->opts->threads};
        xfer_prepare_result pr;
        int rc = xfer_prepare_dataset(d->cfg, d->cache_path, &po, &pr, err);
        if (rc != XFER_OK) return xfer_err_prefix(err, "dataset %s: ", name);
        rc = xfer_imageset_load(d->cache_path, &d->set, err);
        if (rc != XFER_OK) return xfer_err_prefix(err, "dataset %s: ", name);
        uint64_t seed = d->cfg->split_seed_set ? d->cfg->split_seed : cfg->seed;
        rc = d->set.split ? xfer_split_given(d->set.split, d->set.n, &d->split, err)
                          : xfer_split_make(d->cfg, d->set.labels, d->set.n, d->set.n_classes, seed,
                                            &d->split, err);
        if (rc != XFER_OK) {
            xfer_imageset_free(&d->set);
            return xfer_err_prefix(err, "dataset %s: ", name);
        }
        d->loaded = 1;
        xfer_note("dataset %s: %d images, %d classes, %d train / %d test", name, d->set.n,
                  d->set.n_classes, d->split.n_train, d->split.n_test);
        *out = d;
        return XFER_OK;
    }
    return xfer_fail(err, XFER_EINPUT, "no dataset named '%s'", name);
}

void run_datasets_free(run_ctx *c) {
    if (!c->ds) return;
    run_gpu_caches_free(c);
    for (int i = 0; i < c->cfg->n_datasets; i++) {
        run_dataset *d = &c->ds[i];
        if (d->loaded) {
            xfer_split_free(&d->split);
            xfer_imageset_free(&d->set);
        }
        free(d->cache_path);
    }
    free(c->ds);
    c->ds = NULL;
}
