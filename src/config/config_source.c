/* The `sources` list and the `target` block. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_node.h"

static const char *const k_archs[] = {"alexnet",      "resnet18",    "resnet34",     "resnet50",
                                      "resnet101",    "resnet152",   "mobilenet_v2", "mnasnet1_0",
                                      "densenet121",  "densenet169", "densenet201",  "googlenet",
                                      "inception_v3", NULL};
/* Width multipliers beyond this are typos (a 8x-wide ResNet-18 would not fit a GPU anyway). */
#define CFG_MAX_WIDTH 8.0
/* `weights: random` and `train.from: random` mean random initialisation; no source may take it. */
#define CFG_RANDOM "random"

enum { T_FROM = CFG_R_N, T_DATASET, T_N };

static void parse_train(cfg_ctx *c, yaml_node_t *n, const char *where, xfer_source_cfg *s) {
    cfg_field f[T_N];
    for (int i = 0; i < CFG_R_N; i++)
        f[i].key = cfg_recipe_keys[i];
    f[T_FROM].key = "from";
    f[T_DATASET].key = "dataset";
    s->has_train = true;
    s->train_mark = cfg_mark(n);
    xfer_recipe_defaults(&s->train);
    if (!cfg_fields(c, n, where, f, T_N)) return;
    s->train.mark = cfg_mark(n);
    char what[CFG_WHERE_MAX];
    cfg_join(what, sizeof what, where, "from");
    if (f[T_FROM].val && cfg_string(c, f[T_FROM].val, what, &s->train_from)) {
        s->train_from_mark = cfg_mark(f[T_FROM].val);
        if (!strcmp(s->train_from, CFG_RANDOM)) {
            free(s->train_from);
            s->train_from = NULL;
        }
    }
    cfg_join(what, sizeof what, where, "dataset");
    if (cfg_require(c, n, where, &f[T_DATASET]) &&
        cfg_string(c, f[T_DATASET].val, what, &s->train_dataset))
        s->train_dataset_mark = cfg_mark(f[T_DATASET].val);
    cfg_parse_recipe(c, f, where, &s->train);
}

static void parse_source(cfg_ctx *c, yaml_node_t *n, const char *where, xfer_source_cfg *s,
                         const xfer_config *cfg) {
    enum { NAME, ARCH, WIDTH, WEIGHTS, CLASSES, INIT_SEED, TRAIN, PRIOR, GT_NAME, N };
    cfg_field f[N] = {{.key = "name"},    {.key = "arch"},    {.key = "width"},
                      {.key = "weights"}, {.key = "classes"}, {.key = "init_seed"},
                      {.key = "train"},   {.key = "prior"},   {.key = "ground_truth_name"}};
    s->width = 1.0;
    s->mark = cfg_mark(n);
    if (!cfg_fields(c, n, where, f, N)) return;
    char what[CFG_WHERE_MAX];
#define WHAT(key) (cfg_join(what, sizeof what, where, key), what)
    if (cfg_require(c, n, where, &f[NAME])) {
        char *name = NULL;
        if (cfg_string(c, f[NAME].val, WHAT("name"), &name) &&
            cfg_check_name(c, f[NAME].val, WHAT("name"), name)) {
            const xfer_source_cfg *prev = xfer_config_source(cfg, name);
            if (prev) {
                cfg_problem(c, f[NAME].val, "duplicate source name '%s' (first at %d:%d)", name,
                            prev->mark.line, prev->mark.col);
            } else if (!strcmp(name, CFG_RANDOM)) {
                cfg_problem(c, f[NAME].val,
                            "bad name for %s: '%s' is reserved for random initialisation "
                            "(expected another name)",
                            WHAT("name"), name);
            } else {
                s->name = name;
                name = NULL;
                s->mark = cfg_mark(f[NAME].val);
            }
        }
        free(name);
    }
    if (cfg_require(c, n, where, &f[ARCH]) &&
        cfg_enum(c, f[ARCH].val, WHAT("arch"), k_archs, &(int){0})) {
        s->arch = cfg_strdup(c, cfg_scalar(f[ARCH].val));
        s->arch_mark = cfg_mark(f[ARCH].val);
    }
    if (f[WIDTH].val)
        cfg_double(c, f[WIDTH].val, WHAT("width"), (cfg_range){0, CFG_MAX_WIDTH, true, false},
                   &s->width);
    if (f[WEIGHTS].val && cfg_string(c, f[WEIGHTS].val, WHAT("weights"), &s->weights))
        s->weights_mark = cfg_mark(f[WEIGHTS].val);
    if (f[CLASSES].val && cfg_string(c, f[CLASSES].val, WHAT("classes"), &s->classes))
        s->classes_mark = cfg_mark(f[CLASSES].val);
    if (f[INIT_SEED].val)
        s->init_seed_set = cfg_u64(c, f[INIT_SEED].val, WHAT("init_seed"), &s->init_seed);
    if (f[TRAIN].val) parse_train(c, f[TRAIN].val, WHAT("train"), s);
    if (f[PRIOR].val) {
        s->prior_mark = cfg_mark(f[PRIOR].val);
        s->has_prior = cfg_double(c, f[PRIOR].val, WHAT("prior"),
                                  (cfg_range){-INFINITY, INFINITY, true, true}, &s->prior);
    }
    if (f[GT_NAME].val &&
        cfg_string(c, f[GT_NAME].val, WHAT("ground_truth_name"), &s->ground_truth_name))
        s->ground_truth_name_mark = cfg_mark(f[GT_NAME].val);
    if (f[WEIGHTS].val && f[TRAIN].val)
        cfg_problem(c, f[TRAIN].key_node,
                    "%s has both weights and train (expected exactly one: load weights, or "
                    "build the source by training)",
                    where);
    else if (!f[WEIGHTS].val && !f[TRAIN].val)
        cfg_problem(c, n,
                    "missing required key 'weights' or 'train' in %s (expected exactly one: a "
                    ".safetensors path or 'random', or a train block)",
                    where);
#undef WHAT
}

void cfg_parse_sources(cfg_ctx *c, yaml_node_t *n, xfer_config *cfg) {
    if (!n || n->type != YAML_SEQUENCE_NODE) {
        cfg_problem(c, n, "wrong type for sources: got %s (expected a list of sources)",
                    cfg_kind(n));
        return;
    }
    int len = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (len == 0) {
        cfg_problem(c, n, "sources is empty (expected at least one source)");
        return;
    }
    cfg->sources = calloc((size_t)len, sizeof *cfg->sources);
    if (!cfg->sources) {
        c->oom = true;
        return;
    }
    for (int i = 0; i < len; i++) {
        char where[CFG_WHERE_MAX];
        cfg_index(where, sizeof where, "sources", i);
        xfer_source_cfg *s = &cfg->sources[cfg->n_sources++];
        parse_source(c, cfg_node(c, n->data.sequence.items.start[i]), where, s, cfg);
    }
}

void cfg_parse_target(cfg_ctx *c, yaml_node_t *n, xfer_config *cfg) {
    enum { DATASET, FINETUNE, N };
    cfg_field f[N] = {{.key = "dataset"}, {.key = "finetune"}};
    xfer_target_cfg *t = &cfg->target;
    t->mark = cfg_mark(n);
    xfer_recipe_defaults(&t->finetune);
    cfg_parse_prune(c, NULL, &t->finetune, &t->prune); /* the defaults */
    if (!cfg_fields(c, n, "target", f, N)) return;
    if (cfg_require(c, n, "target", &f[DATASET]) &&
        cfg_string(c, f[DATASET].val, "target.dataset", &t->dataset))
        t->dataset_mark = cfg_mark(f[DATASET].val);
    cfg_field r[CFG_R_N + 1]; /* the recipe keys and prune */
    for (int i = 0; i < CFG_R_N; i++)
        r[i].key = cfg_recipe_keys[i];
    r[CFG_R_N].key = "prune";
    if (f[FINETUNE].val) {
        t->finetune.mark = cfg_mark(f[FINETUNE].val);
        if (!cfg_fields(c, f[FINETUNE].val, "target.finetune", r, CFG_R_N + 1)) return;
    } else {
        for (int i = 0; i <= CFG_R_N; i++)
            r[i].val = r[i].key_node = NULL;
    }
    xfer_mark m = t->finetune.mark;
    cfg_parse_recipe(c, r, "target.finetune", &t->finetune);
    t->finetune.mark = m;
    cfg_parse_prune(c, r[CFG_R_N].val, &t->finetune, &t->prune);
}
