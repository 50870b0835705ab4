/* Training recipes: `target.finetune` and a source's `train` block share these keys. */
#include <math.h>
#include <stdio.h>

#include "config_node.h"

/* The paper's fine-tuning recipe (Ueno, Azuma, Kondo: Model selection for efficient transfer
 * learning in image recognition): SGD lr 0.001 momentum 0.9, 30 epochs, StepLR 7 / 0.1. */
#define CFG_PAPER_EPOCHS 30
#define CFG_PAPER_LR 0.001
#define CFG_PAPER_MOMENTUM 0.9
#define CFG_PAPER_STEP_SIZE 7
#define CFG_PAPER_GAMMA 0.1
/* Not given by the paper: torchvision's transfer-learning tutorial values, which the paper's
 * recipe follows (batch 32 is our choice for memory on small GPUs). */
#define CFG_DEFAULT_BATCH_SIZE 32
#define CFG_DEFAULT_CROP_SCALE_MIN 0.08 /* torchvision RandomResizedCrop scale=(0.08, 1) */
#define CFG_DEFAULT_DROPOUT 0.5         /* torchvision AlexNet */
/* Upper bounds that catch typos before they allocate or loop for days. */
#define CFG_MAX_EPOCHS 100000
#define CFG_MAX_BATCH 65536

const char *const cfg_recipe_keys[CFG_R_N] = {"epochs",     "batch_size",   "optimizer",
                                              "schedule",   "augmentation", "drop_last",
                                              "eval_every", "dropout",      "accuracy"};
static const char *const k_schedules[] = {"step", "cosine", NULL};
static const char *const k_accuracies[] = {"top1", "mean_per_class", NULL};

void xfer_recipe_defaults(xfer_recipe_cfg *r) {
    xfer_mark m = r->mark;
    *r = (xfer_recipe_cfg){0};
    r->mark = m;
    r->epochs = CFG_PAPER_EPOCHS;
    r->batch_size = CFG_DEFAULT_BATCH_SIZE;
    r->lr = CFG_PAPER_LR;
    r->momentum = CFG_PAPER_MOMENTUM;
    r->weight_decay = 0;
    r->nesterov = false;
    r->step_size = CFG_PAPER_STEP_SIZE;
    r->gamma = CFG_PAPER_GAMMA;
    r->random_resized_crop = true;
    r->crop_scale_min = CFG_DEFAULT_CROP_SCALE_MIN;
    r->hflip = true;
    r->drop_last = false;
    r->eval_every = 1;
    r->dropout = CFG_DEFAULT_DROPOUT;
}

static void parse_sgd(cfg_ctx *c, yaml_node_t *n, const char *where, xfer_recipe_cfg *r,
                      yaml_node_t **nesterov_node) {
    enum { LR, MOMENTUM, WD, NESTEROV, N };
    cfg_field f[N] = {
        {.key = "lr"}, {.key = "momentum"}, {.key = "weight_decay"}, {.key = "nesterov"}};
    if (!cfg_fields(c, n, where, f, N)) return;
    char what[CFG_WHERE_MAX];
    const cfg_range positive = {0, INFINITY, true, false}, unit = {0, 1, false, true},
                    nonneg = {0, INFINITY, false, false};
    cfg_join(what, sizeof what, where, "lr");
    if (f[LR].val) cfg_double(c, f[LR].val, what, positive, &r->lr);
    cfg_join(what, sizeof what, where, "momentum");
    if (f[MOMENTUM].val) cfg_double(c, f[MOMENTUM].val, what, unit, &r->momentum);
    cfg_join(what, sizeof what, where, "weight_decay");
    if (f[WD].val) cfg_double(c, f[WD].val, what, nonneg, &r->weight_decay);
    cfg_join(what, sizeof what, where, "nesterov");
    if (f[NESTEROV].val && cfg_bool(c, f[NESTEROV].val, what, &r->nesterov))
        *nesterov_node = f[NESTEROV].val;
}

static void parse_optimizer(cfg_ctx *c, yaml_node_t *n, const char *where, xfer_recipe_cfg *r) {
    cfg_field f[1] = {{.key = "sgd"}};
    if (!cfg_fields(c, n, where, f, 1)) return;
    yaml_node_t *nesterov = NULL;
    char what[CFG_WHERE_MAX];
    cfg_join(what, sizeof what, where, "sgd");
    if (f[0].val) parse_sgd(c, f[0].val, what, r, &nesterov);
    if (nesterov && r->nesterov && r->momentum == 0)
        cfg_problem(c, nesterov, "%s.nesterov is true with momentum 0 (expected momentum > 0)",
                    what);
}

static void parse_cosine(cfg_ctx *c, yaml_node_t *n, const char *where, xfer_recipe_cfg *r) {
    cfg_field f[1] = {{.key = "eta_min"}};
    if (!cfg_fields(c, n, where, f, 1) || !f[0].val) return;
    char what[CFG_WHERE_MAX];
    cfg_join(what, sizeof what, where, "eta_min");
    if (cfg_double(c, f[0].val, what, (cfg_range){0, INFINITY, false, false}, &r->eta_min) &&
        r->eta_min > r->lr)
        cfg_problem(c, f[0].val,
                    "%s %g is larger than the learning rate %g (expected 0 <= eta_min <= "
                    "optimizer.sgd.lr)",
                    what, r->eta_min, r->lr);
}

/* `schedule: step | cosine`, or a mapping with one of `step: {step_size, gamma}` and
 * `cosine: {eta_min}`. */
static void parse_schedule(cfg_ctx *c, yaml_node_t *n, const char *where, xfer_recipe_cfg *r) {
    if (n->type == YAML_SCALAR_NODE && !cfg_is_null(n)) {
        int e;
        if (cfg_enum(c, n, where, k_schedules, &e)) r->schedule = (xfer_schedule_kind)e;
        return;
    }
    cfg_field f[2] = {{.key = "step"}, {.key = "cosine"}};
    if (!cfg_fields(c, n, where, f, 2)) return;
    if (f[0].key_node && f[1].key_node) {
        cfg_problem(c, f[1].key_node, "%s has both step and cosine (expected one schedule)", where);
        return;
    }
    char step[CFG_WHERE_MAX], what[CFG_WHERE_MAX];
    if (f[1].key_node) {
        r->schedule = XFER_SCHED_COSINE;
        cfg_join(what, sizeof what, where, "cosine");
        if (f[1].val) parse_cosine(c, f[1].val, what, r);
        return;
    }
    if (!f[0].val) return;
    cfg_join(step, sizeof step, where, "step");
    enum { STEP_SIZE, GAMMA, N };
    cfg_field g[N] = {{.key = "step_size"}, {.key = "gamma"}};
    if (!cfg_fields(c, f[0].val, step, g, N)) return;
    cfg_join(what, sizeof what, step, "step_size");
    if (g[STEP_SIZE].val) cfg_int(c, g[STEP_SIZE].val, what, 1, CFG_MAX_EPOCHS, &r->step_size);
    cfg_join(what, sizeof what, step, "gamma");
    if (g[GAMMA].val) cfg_double(c, g[GAMMA].val, what, (cfg_range){0, 1, true, false}, &r->gamma);
}

static void parse_augmentation(cfg_ctx *c, yaml_node_t *n, const char *where, xfer_recipe_cfg *r) {
    enum { RRC, SCALE_MIN, HFLIP, N };
    cfg_field f[N] = {{.key = "random_resized_crop"}, {.key = "crop_scale_min"}, {.key = "hflip"}};
    if (!cfg_fields(c, n, where, f, N)) return;
    char what[CFG_WHERE_MAX];
    cfg_join(what, sizeof what, where, "random_resized_crop");
    if (f[RRC].val) cfg_bool(c, f[RRC].val, what, &r->random_resized_crop);
    cfg_join(what, sizeof what, where, "crop_scale_min");
    if (f[SCALE_MIN].val)
        cfg_double(c, f[SCALE_MIN].val, what, (cfg_range){0, 1, true, false}, &r->crop_scale_min);
    cfg_join(what, sizeof what, where, "hflip");
    if (f[HFLIP].val) cfg_bool(c, f[HFLIP].val, what, &r->hflip);
}

void cfg_parse_recipe(cfg_ctx *c, const cfg_field *f, const char *where, xfer_recipe_cfg *r) {
    xfer_recipe_defaults(r);
    char what[CFG_WHERE_MAX];
#define WHAT(key) (cfg_join(what, sizeof what, where, key), what)
    bool epochs_ok = !f[CFG_R_EPOCHS].val ||
                     cfg_int(c, f[CFG_R_EPOCHS].val, WHAT("epochs"), 1, CFG_MAX_EPOCHS, &r->epochs);
    if (f[CFG_R_BATCH_SIZE].val)
        cfg_int(c, f[CFG_R_BATCH_SIZE].val, WHAT("batch_size"), 1, CFG_MAX_BATCH, &r->batch_size);
    if (f[CFG_R_OPTIMIZER].val) parse_optimizer(c, f[CFG_R_OPTIMIZER].val, WHAT("optimizer"), r);
    if (f[CFG_R_SCHEDULE].val) parse_schedule(c, f[CFG_R_SCHEDULE].val, WHAT("schedule"), r);
    if (f[CFG_R_AUGMENTATION].val)
        parse_augmentation(c, f[CFG_R_AUGMENTATION].val, WHAT("augmentation"), r);
    if (f[CFG_R_DROP_LAST].val)
        cfg_bool(c, f[CFG_R_DROP_LAST].val, WHAT("drop_last"), &r->drop_last);
    if (f[CFG_R_EVAL_EVERY].val &&
        cfg_int(c, f[CFG_R_EVAL_EVERY].val, WHAT("eval_every"), 1, CFG_MAX_EPOCHS,
                &r->eval_every) &&
        epochs_ok && r->eval_every > r->epochs)
        cfg_problem(c, f[CFG_R_EVAL_EVERY].val,
                    "%s.eval_every %d is larger than epochs %d (expected at most epochs)", where,
                    r->eval_every, r->epochs);
    if (f[CFG_R_ACCURACY].val) {
        int e;
        if (cfg_enum(c, f[CFG_R_ACCURACY].val, WHAT("accuracy"), k_accuracies, &e))
            r->accuracy = (xfer_accuracy_kind)e;
    }
    if (f[CFG_R_DROPOUT].val)
        cfg_double(c, f[CFG_R_DROPOUT].val, WHAT("dropout"), (cfg_range){0, 1, false, true},
                   &r->dropout);
#undef WHAT
}
