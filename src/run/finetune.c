/* Fine-tuning a source on the target with the recipe (defaults: the paper's), all layers trained,
 * a new head; every epoch appended to the results file; the best-epoch checkpoint kept. */
#include <stdlib.h>
#include <string.h>

#include "run_internal.h"
#include "xfer/log.h"

/* <outdir>/checkpoints/<stem>/<name> (fine-tune 0) or <name>.seed<i>, with room for a suffix. */
static char *ckpt_stem(run_ctx *c, const xfer_source_cfg *src, int index) {
    char *p = run_ckpt_path(c, src->name);
    if (p && index > 0) sprintf(p + strlen(p), ".seed%d", index);
    return p;
}

int run_finetune_source(run_ctx *c, const xfer_source_cfg *src, const char *weights, int index,
                        run_fit_result *r, xfer_err *err) {
    const xfer_config *cfg = c->cfg;
    run_dataset *t = NULL;
    int rc = run_dataset_get(c, cfg->target.dataset, &t, err);
    if (rc != XFER_OK) return rc;
    xfer_arch arch;
    rc = xfer_arch_parse(src->arch, &arch, err);
    if (rc != XFER_OK) return rc;
    xfer_model_config mc = {arch, t->set.n_classes, src->width, src->init_seed,
                            (float)cfg->target.finetune.dropout};
    xfer_model *m = NULL;
    rc = xfer_model_create(&mc, c->b, &m, err);
    if (rc == XFER_OK && weights[0]) rc = xfer_model_load_weights(m, weights, err);
    if (rc == XFER_OK && index > 0) /* a repeated fine-tune: the same source, another head */
        xfer_model_set_seed(m, src->init_seed + (uint64_t)index);
    if (rc == XFER_OK && (weights[0] || index > 0))
        xfer_model_reset_head(m); /* always a new head (the paper) */
    if (rc == XFER_OK && c->res)
        rc = xfer_results_add_seed(c->res, src->name, index, (int64_t)(cfg->seed + (uint64_t)index),
                                   err);
    /* Checkpoints are per results file (shards share an outdir but not their fine-tunes). */
    char *dir = run_ckpt_path(c, "");
    char *last = ckpt_stem(c, src, index), *best = NULL;
    if (last) {
        best = run_path(c, NULL, last, ".best.safetensors");
        strcat(last, ".last.safetensors");
    }
    char *what = malloc(strlen(src->name) + 48);
    if (rc == XFER_OK && (!dir || !last || !best || !what))
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
    if (rc == XFER_OK) rc = run_mkdirs(dir, err);
    if (rc == XFER_OK) {
        if (cfg->n_seeds > 1)
            sprintf(what, "finetune %s seed %d/%d", src->name, index + 1, cfg->n_seeds);
        else
            sprintf(what, "finetune %s", src->name);
        run_fit_spec spec = {what,
                             src->name,
                             &cfg->target.finetune,
                             t,
                             cfg->seed + (uint64_t)index,
                             last,
                             best,
                             (const char *const *)t->set.class_names,
                             c->finetune_until,
                             index};
        rc = run_fit(c, m, &spec, r, err);
    }
    free(what);
    free(dir);
    free(last);
    free(best);
    xfer_model_free(m);
    return rc;
}

int run_finetune_has_resume(run_ctx *c, const xfer_source_cfg *src, int index) {
    char *last = ckpt_stem(c, src, index);
    if (!last) return 0;
    strcat(last, ".last.safetensors");
    int has = run_file_exists(last);
    free(last);
    return has;
}

void run_finetune_cleanup(run_ctx *c, const xfer_source_cfg *src, int index) {
    char *last = ckpt_stem(c, src, index);
    if (!last) return;
    strcat(last, ".last.safetensors");
    char *state = run_path(c, NULL, last, ".state");
    remove(last);
    if (state) remove(state);
    free(state);
    free(last);
}
