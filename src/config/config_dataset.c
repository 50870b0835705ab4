/* The `datasets` section: a mapping from dataset name to its description. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_node.h"

/* Normalisation of torchvision's ImageNet-pretrained models (their documented mean and std). */
static const float k_imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
static const float k_imagenet_std[3] = {0.229f, 0.224f, 0.225f};
/* torchvision's ImageNet evaluation: resize to 256, centre crop 224; the cache keeps that ratio. */
#define CFG_DEFAULT_IMAGE_SIZE 224
#define CFG_CACHE_RATIO_NUM 256
#define CFG_CACHE_RATIO_DEN 224
#define CFG_DEFAULT_TRAIN_FRACTION 0.8 /* the paper's random 80/20 split of Caltech-101 */
#define CFG_MAX_IMAGE_SIDE 4096        /* larger is a typo, and would exhaust memory */

static const char *const k_kinds[] = {"image_folder", "idx", "synthetic", "image_list", NULL};
static const char *const k_bad_image[] = {"warn", "error", NULL};

enum {
    D_KIND,
    D_ROOT,
    D_IMAGES,
    D_LABELS,
    D_CLASS_NAMES,
    D_EXCLUDE,
    D_INCLUDE,
    D_MAX_PER_CLASS,
    D_SPLIT,
    D_IMAGE_SIZE,
    D_CACHE_SIZE,
    D_MEAN,
    D_STD,
    D_CACHE,
    D_ON_BAD_IMAGE,
    D_SYNTHETIC,
    D_LIST,
    D_N
};

static void dataset_defaults(xfer_dataset_cfg *d) {
    d->train_fraction = CFG_DEFAULT_TRAIN_FRACTION;
    d->image_size = CFG_DEFAULT_IMAGE_SIZE;
    for (int i = 0; i < 3; i++) {
        d->mean[i] = k_imagenet_mean[i];
        d->std[i] = k_imagenet_std[i];
    }
}

static void parse_split(cfg_ctx *c, yaml_node_t *n, const char *where, xfer_dataset_cfg *d) {
    enum { FRACTION, TRAIN_PC, TEST_PC, SEED, N };
    cfg_field f[N] = {{.key = "train_fraction"},
                      {.key = "train_per_class"},
                      {.key = "test_per_class"},
                      {.key = "seed"}};
    if (!cfg_fields(c, n, where, f, N)) return;
    char what[CFG_WHERE_MAX];
    if (f[FRACTION].val && f[TRAIN_PC].val) {
        const cfg_field *later =
            cfg_mark(f[FRACTION].key_node).line > cfg_mark(f[TRAIN_PC].key_node).line
                ? &f[FRACTION]
                : &f[TRAIN_PC];
        cfg_problem(c, later->key_node,
                    "%s has both train_fraction and train_per_class (expected one of them)", where);
    }
    if (f[FRACTION].val) {
        cfg_join(what, sizeof what, where, "train_fraction");
        cfg_double(c, f[FRACTION].val, what, (cfg_range){0, 1, true, true}, &d->train_fraction);
    }
    if (f[TRAIN_PC].val) {
        d->train_fraction = 0;
        cfg_join(what, sizeof what, where, "train_per_class");
        cfg_int(c, f[TRAIN_PC].val, what, 1, INT32_MAX, &d->train_per_class);
    }
    if (f[TEST_PC].val) {
        cfg_join(what, sizeof what, where, "test_per_class");
        cfg_int(c, f[TEST_PC].val, what, 1, INT32_MAX, &d->test_per_class);
        if (!f[TRAIN_PC].val)
            cfg_problem(c, f[TEST_PC].key_node,
                        "%s has test_per_class without train_per_class (expected both, or "
                        "train_fraction)",
                        where);
    }
    if (f[SEED].val) {
        cfg_join(what, sizeof what, where, "seed");
        d->split_seed_set = cfg_u64(c, f[SEED].val, what, &d->split_seed);
    }
}

static void parse_synthetic(cfg_ctx *c, yaml_node_t *n, const char *where, xfer_dataset_cfg *d) {
    enum { CLASSES, PER_CLASS, SIZE, SEED, N };
    cfg_field f[N] = {{.key = "classes"}, {.key = "per_class"}, {.key = "size"}, {.key = "seed"}};
    if (!cfg_fields(c, n, where, f, N)) return;
    char what[CFG_WHERE_MAX];
    cfg_join(what, sizeof what, where, "classes");
    if (cfg_require(c, n, where, &f[CLASSES]))
        cfg_int(c, f[CLASSES].val, what, 1, INT32_MAX, &d->synthetic_classes);
    cfg_join(what, sizeof what, where, "per_class");
    if (cfg_require(c, n, where, &f[PER_CLASS]))
        cfg_int(c, f[PER_CLASS].val, what, 1, INT32_MAX, &d->synthetic_per_class);
    cfg_join(what, sizeof what, where, "size");
    if (f[SIZE].val) cfg_int(c, f[SIZE].val, what, 1, CFG_MAX_IMAGE_SIDE, &d->synthetic_size);
    cfg_join(what, sizeof what, where, "seed");
    if (f[SEED].val) d->synthetic_seed_set = cfg_u64(c, f[SEED].val, what, &d->synthetic_seed);
}

static void parse_triple(cfg_ctx *c, const yaml_node_t *n, const char *what, cfg_range r,
                         float out[3]) {
    int len = n && n->type == YAML_SEQUENCE_NODE
                  ? (int)(n->data.sequence.items.top - n->data.sequence.items.start)
                  : -1;
    if (len != 3) {
        if (len < 0)
            cfg_problem(c, n, "wrong type for %s: got %s (expected a list of 3 numbers, R G B)",
                        what, cfg_kind(n));
        else
            cfg_problem(c, n, "%s has %d values (expected a list of 3 numbers, R G B)", what, len);
        return;
    }
    for (int i = 0; i < 3; i++) {
        char item[CFG_WHERE_MAX];
        double v;
        cfg_index(item, sizeof item, what, i);
        if (cfg_double(c, cfg_node(c, n->data.sequence.items.start[i]), item, r, &v))
            out[i] = (float)v;
    }
}

/* Keys that only some kinds use: a key that the dataset's kind ignores is an error, because the
 * user surely meant something by it. */
static void check_kind_keys(cfg_ctx *c, const cfg_field *f, const char *where,
                            xfer_dataset_kind kind, yaml_node_t *map) {
    static const struct {
        int field;
        bool used[4]; /* image_folder, idx, synthetic, image_list */
        bool required[4];
    } rules[] = {
        {D_ROOT, {true, false, false, true}, {true, false, false, false}},
        {D_IMAGES, {false, true, false, false}, {false, true, false, false}},
        {D_LABELS, {false, true, false, false}, {false, true, false, false}},
        {D_CLASS_NAMES, {false, true, true, true}, {false, false, false, false}},
        {D_SYNTHETIC, {false, false, true, false}, {false, false, true, false}},
        {D_LIST, {false, false, false, true}, {false, false, false, true}},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const cfg_field *fi = &f[rules[i].field];
        if (fi->val && !rules[i].used[kind])
            cfg_problem(c, fi->key_node, "key '%s' is not used by kind %s in %s", fi->key,
                        xfer_dataset_kind_name(kind), where);
        if (!fi->val && rules[i].required[kind])
            cfg_problem(c, map, "missing required key '%s' in %s (kind %s needs it)", fi->key,
                        where, xfer_dataset_kind_name(kind));
    }
}

static void parse_dataset(cfg_ctx *c, yaml_node_t *n, const char *where, xfer_dataset_cfg *d) {
    cfg_field f[D_N] = {{.key = "kind"},       {.key = "root"},          {.key = "images"},
                        {.key = "labels"},     {.key = "class_names"},   {.key = "exclude"},
                        {.key = "include"},    {.key = "max_per_class"}, {.key = "split"},
                        {.key = "image_size"}, {.key = "cache_size"},    {.key = "mean"},
                        {.key = "std"},        {.key = "cache"},         {.key = "on_bad_image"},
                        {.key = "synthetic"},  {.key = "list"}};
    dataset_defaults(d);
    if (!cfg_fields(c, n, where, f, D_N)) return;
    char what[CFG_WHERE_MAX];
#define WHAT(key) (cfg_join(what, sizeof what, where, key), what)
    int e;
    if (cfg_require(c, n, where, &f[D_KIND])) {
        d->kind_mark = cfg_mark(f[D_KIND].val);
        if (cfg_enum(c, f[D_KIND].val, WHAT("kind"), k_kinds, &e)) {
            d->kind = (xfer_dataset_kind)e;
            check_kind_keys(c, f, where, d->kind, n);
        }
    }
    if (f[D_ROOT].val && cfg_string(c, f[D_ROOT].val, WHAT("root"), &d->root))
        d->root_mark = cfg_mark(f[D_ROOT].val);
    if (f[D_LIST].val && cfg_string(c, f[D_LIST].val, WHAT("list"), &d->list))
        d->list_mark = cfg_mark(f[D_LIST].val);
    if (f[D_IMAGES].val && cfg_string(c, f[D_IMAGES].val, WHAT("images"), &d->images))
        d->images_mark = cfg_mark(f[D_IMAGES].val);
    if (f[D_LABELS].val && cfg_string(c, f[D_LABELS].val, WHAT("labels"), &d->labels))
        d->labels_mark = cfg_mark(f[D_LABELS].val);
    yaml_node_t *cn = f[D_CLASS_NAMES].val;
    if (cn) {
        d->class_names_mark = cfg_mark(cn);
        if (cn->type == YAML_SEQUENCE_NODE)
            cfg_string_list(c, cn, WHAT("class_names"), &d->class_names, &d->n_class_names);
        else if (cn->type == YAML_SCALAR_NODE && !cfg_is_null(cn))
            cfg_string(c, cn, WHAT("class_names"), &d->class_names_file);
        else
            cfg_problem(c, cn,
                        "wrong type for %s: got %s (expected a file path or a list of class "
                        "names)",
                        WHAT("class_names"), cfg_kind(cn));
    }
    if (f[D_EXCLUDE].val)
        cfg_string_list(c, f[D_EXCLUDE].val, WHAT("exclude"), &d->exclude, &d->n_exclude);
    if (f[D_INCLUDE].val)
        cfg_string_list(c, f[D_INCLUDE].val, WHAT("include"), &d->include, &d->n_include);
    if (f[D_MAX_PER_CLASS].val)
        cfg_int(c, f[D_MAX_PER_CLASS].val, WHAT("max_per_class"), 1, INT32_MAX, &d->max_per_class);
    if (f[D_SPLIT].val) {
        d->split_set = true;
        d->split_mark = cfg_mark(f[D_SPLIT].key_node);
        parse_split(c, f[D_SPLIT].val, WHAT("split"), d);
    }
    if (f[D_IMAGE_SIZE].val)
        cfg_int(c, f[D_IMAGE_SIZE].val, WHAT("image_size"), 1, CFG_MAX_IMAGE_SIDE, &d->image_size);
    if (f[D_CACHE_SIZE].val)
        d->cache_size_set = cfg_int(c, f[D_CACHE_SIZE].val, WHAT("cache_size"), 1,
                                    CFG_MAX_IMAGE_SIDE, &d->cache_size);
    if (!d->cache_size_set)
        d->cache_size =
            (d->image_size * CFG_CACHE_RATIO_NUM + CFG_CACHE_RATIO_DEN / 2) / CFG_CACHE_RATIO_DEN;
    else if (d->image_size > d->cache_size)
        cfg_problem(c, f[D_CACHE_SIZE].val,
                    "%s.cache_size %d is smaller than image_size %d (expected cache_size >= "
                    "image_size: evaluation crops image_size from the cache)",
                    where, d->cache_size, d->image_size);
    if (f[D_MEAN].val)
        parse_triple(c, f[D_MEAN].val, WHAT("mean"), (cfg_range){-INFINITY, INFINITY, 0, 0},
                     d->mean);
    if (f[D_STD].val)
        parse_triple(c, f[D_STD].val, WHAT("std"), (cfg_range){0, INFINITY, true, false}, d->std);
    if (f[D_CACHE].val && cfg_string(c, f[D_CACHE].val, WHAT("cache"), &d->cache))
        d->cache_mark = cfg_mark(f[D_CACHE].val);
    if (f[D_ON_BAD_IMAGE].val &&
        cfg_enum(c, f[D_ON_BAD_IMAGE].val, WHAT("on_bad_image"), k_bad_image, &e))
        d->on_bad_image = (xfer_bad_image_policy)e;
    if (f[D_SYNTHETIC].val) parse_synthetic(c, f[D_SYNTHETIC].val, WHAT("synthetic"), d);
    if (!d->synthetic_size) d->synthetic_size = d->cache_size;
#undef WHAT
}

void cfg_parse_datasets(cfg_ctx *c, yaml_node_t *n, xfer_config *cfg) {
    if (!n || n->type != YAML_MAPPING_NODE) {
        cfg_problem(c, n,
                    "wrong type for datasets: got %s (expected a mapping from dataset name to "
                    "its description)",
                    cfg_kind(n));
        return;
    }
    int len = (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (len == 0) {
        cfg_problem(c, n, "datasets is empty (expected at least one dataset)");
        return;
    }
    cfg->datasets = calloc((size_t)len, sizeof *cfg->datasets);
    if (!cfg->datasets) {
        c->oom = true;
        return;
    }
    for (int i = 0; i < len; i++) {
        yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
        yaml_node_t *k = cfg_node(c, p->key), *v = cfg_node(c, p->value);
        const char *name = cfg_scalar(k);
        if (!name || cfg_is_null(k)) {
            cfg_problem(c, k, "a key in datasets is %s (expected a dataset name)", cfg_kind(k));
            continue;
        }
        const xfer_dataset_cfg *prev = xfer_config_dataset(cfg, name);
        if (prev) {
            char q[64];
            cfg_problem(c, k, "duplicate dataset name '%s' (first at %d:%d)",
                        cfg_quote(name, q, sizeof q), prev->mark.line, prev->mark.col);
            continue;
        }
        if (!cfg_check_name(c, k, "a dataset", name)) continue;
        xfer_dataset_cfg *d = &cfg->datasets[cfg->n_datasets++];
        d->name = cfg_strdup(c, name);
        d->mark = cfg_mark(k);
        char where[CFG_WHERE_MAX];
        cfg_join(where, sizeof where, "datasets", name);
        parse_dataset(c, v, where, d);
    }
}
