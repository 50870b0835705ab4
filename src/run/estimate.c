/* The cost and memory model of an experiment (docs/slurm.md, "Cost model"): every dataset the
 * sources and the target use is listed and split as the run will (xfer_dataset_scan,
 * xfer_split_make), and each network's work is counted from its published multiply-accumulates
 * per 224-pixel image, scaled by width^2 and (image_size / 224)^2. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xfer/data.h"
#include "xfer/plan.h"

/* Per image at 224x224, width 1: GMAC of one forward pass (torchvision's figures), parameters,
 * and the activations a training step keeps for the backward pass (floats). */
typedef struct {
    const char *name;
    double gmac, params, acts;
} arch_cost;

static const arch_cost k_archs[] = {
    {"alexnet", 0.71, 61.1e6, 2.0e6},
    {"resnet18", 1.81, 11.7e6, 9.0e6},
    {"resnet34", 3.66, 21.8e6, 14.0e6},
};

static const arch_cost *arch_of(const char *name) {
    for (size_t i = 0; i < sizeof k_archs / sizeof k_archs[0]; i++)
        if (name && strcmp(name, k_archs[i].name) == 0) return &k_archs[i];
    return &k_archs[1]; /* an architecture without figures counts as a ResNet-18 */
}

typedef struct {
    int used, n, n_train, n_test;
} ds_count;

static double scale(const xfer_source_cfg *s, int image_size) {
    double w = s->width > 0 ? s->width : 1.0, r = image_size / 224.0;
    return w * w * r * r;
}

/* One recipe on one dataset: epochs x 3 passes over train + the evaluations over test. */
static double recipe_cost(const xfer_recipe_cfg *r, const ds_count *d, double per_image) {
    int every = r->eval_every > 0 ? r->eval_every : 1;
    int evals = (r->epochs + every - 1) / every;
    return per_image * (3.0 * r->epochs * d->n_train + (double)evals * d->n_test);
}

static int count_dataset(const xfer_config *cfg, int k, ds_count *c, xfer_err *err) {
    const xfer_dataset_cfg *dc = &cfg->datasets[k];
    xfer_dataset ds;
    memset(&ds, 0, sizeof ds);
    int rc = xfer_dataset_scan(dc, &ds, err);
    if (rc != XFER_OK) return xfer_err_prefix(err, "estimating the cost: dataset %s: ", dc->name);
    xfer_split sp;
    memset(&sp, 0, sizeof sp);
    uint64_t seed = dc->split_seed_set ? dc->split_seed : cfg->seed;
    rc = ds.split ? xfer_split_given(ds.split, ds.n, &sp, err)
                  : xfer_split_make(dc, ds.labels, ds.n, ds.n_classes, seed, &sp, err);
    if (rc == XFER_OK) {
        c->n = ds.n;
        c->n_train = sp.n_train;
        c->n_test = sp.n_test;
        xfer_split_free(&sp);
    } else {
        xfer_err_prefix(err, "estimating the cost: dataset %s: ", dc->name);
    }
    xfer_dataset_free(&ds);
    return rc;
}

static int dataset_index(const xfer_config *cfg, const char *name) {
    for (int i = 0; name && i < cfg->n_datasets; i++)
        if (strcmp(cfg->datasets[i].name, name) == 0) return i;
    return -1;
}

int xfer_estimate_make(const xfer_config *cfg, xfer_estimate *e, xfer_err *err) {
    memset(e, 0, sizeof *e);
    int n = cfg->n_sources;
    e->n_sources = n;
    e->own = calloc((size_t)n + 1, sizeof *e->own);
    e->build = calloc((size_t)n + 1, sizeof *e->build);
    ds_count *dc = calloc((size_t)cfg->n_datasets + 1, sizeof *dc);
    if (!e->own || !e->build || !dc) {
        free(dc);
        xfer_estimate_free(e);
        return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    }
    int t = dataset_index(cfg, cfg->target.dataset);
    if (t >= 0) dc[t].used = 1;
    for (int i = 0; i < n; i++) {
        int d = cfg->sources[i].has_train ? dataset_index(cfg, cfg->sources[i].train_dataset) : -1;
        if (d >= 0) dc[d].used = 1;
    }
    int rc = XFER_OK;
    /* Base: the process, its libraries and the BLAS buffers. */
    double mem = 256e6, model_mem = 0;
    for (int k = 0; rc == XFER_OK && k < cfg->n_datasets; k++) {
        if (!dc[k].used) continue;
        rc = count_dataset(cfg, k, &dc[k], err);
        double side = cfg->datasets[k].cache_size;
        mem += (double)dc[k].n * side * side * 3.0; /* the decoded cache, held in memory */
    }
    for (int i = 0; rc == XFER_OK && i < n; i++) {
        const xfer_source_cfg *s = &cfg->sources[i];
        const arch_cost *a = arch_of(s->arch);
        if (t >= 0) {
            int size = cfg->datasets[t].image_size;
            double per = a->gmac * scale(s, size);
            e->own[i] = per * dc[t].n_train + recipe_cost(&cfg->target.finetune, &dc[t], per);
        }
        int d = s->has_train ? dataset_index(cfg, s->train_dataset) : -1;
        if (d >= 0)
            e->build[i] =
                recipe_cost(&s->train, &dc[d], a->gmac * scale(s, cfg->datasets[d].image_size));
        /* Parameters, gradients, momentum, the best copy and the loaded weights; activations of
         * the forward and backward pass of the largest batch that network trains with. */
        double w = s->width > 0 ? s->width : 1.0;
        int batch = cfg->target.finetune.batch_size,
            size = t >= 0 ? cfg->datasets[t].image_size : 224;
        if (d >= 0 && s->train.batch_size > batch) batch = s->train.batch_size;
        if (d >= 0 && cfg->datasets[d].image_size > size) size = cfg->datasets[d].image_size;
        double r = size / 224.0;
        double m = 5.0 * 4.0 * a->params * w * w + 2.0 * 4.0 * batch * a->acts * w * r * r;
        if (m > model_mem) model_mem = m;
    }
    free(dc);
    if (rc != XFER_OK) {
        xfer_estimate_free(e);
        return rc;
    }
    e->mem_bytes = 1.25 * (mem + model_mem);
    return XFER_OK;
}

void xfer_estimate_free(xfer_estimate *e) {
    free(e->own);
    free(e->build);
    memset(e, 0, sizeof *e);
}
