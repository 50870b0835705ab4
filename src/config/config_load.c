/* Loading a config: read the file, build the libyaml document (yaml_parser_load), read the top
 * level into xfer_config, fill the defaults that depend on other keys, then check references. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_node.h"

/* A config is a few kilobytes; anything this big is a wrong file, not a config. */
#define CFG_MAX_FILE_BYTES (16u << 20)

static const char *const k_devices[] = {"auto", "cpu", "cuda", NULL};
static const char *const k_precisions[] = {"fp32", "tf32", "bf16", NULL};

/* Line and column (1-based, in bytes) of a byte offset: libyaml's reader errors (bad UTF-8,
 * control characters) give only the offset. */
static xfer_mark offset_mark(const char *text, size_t len, size_t off) {
    xfer_mark m = {1, 1};
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') {
            m.line++;
            m.col = 1;
        } else {
            m.col++;
        }
    }
    return m;
}

static int syntax_error(const yaml_parser_t *p, const char *text, size_t len, const char *name,
                        xfer_err *err) {
    if (p->error == YAML_MEMORY_ERROR)
        return xfer_fail(err, XFER_EINTERNAL, "%s: out of memory while parsing YAML", name);
    xfer_mark m;
    if (p->error == YAML_READER_ERROR) {
        m = offset_mark(text, len, p->problem_offset);
    } else {
        m.line = (int)p->problem_mark.line + 1;
        m.col = (int)p->problem_mark.column + 1;
    }
    const char *problem = p->problem ? p->problem : "unknown problem";
    if (p->context)
        return xfer_fail(err, XFER_EINPUT,
                         "%s:%d:%d: YAML syntax error: %s (%s that started at %d:%d)", name, m.line,
                         m.col, problem, p->context, (int)p->context_mark.line + 1,
                         (int)p->context_mark.column + 1);
    return xfer_fail(err, XFER_EINPUT, "%s:%d:%d: YAML syntax error: %s", name, m.line, m.col,
                     problem);
}

static void parse_top(cfg_ctx *c, yaml_node_t *root, xfer_config *cfg) {
    enum {
        EXPERIMENT,
        SEED,
        SEEDS,
        DEVICE,
        PRECISION,
        OUTPUT,
        DATASETS,
        SOURCES,
        TARGET,
        SCORES,
        WV,
        N
    };
    cfg_field f[N] = {{.key = "experiment"}, {.key = "seed"},        {.key = "seeds"},
                      {.key = "device"},     {.key = "precision"},   {.key = "output"},
                      {.key = "datasets"},   {.key = "sources"},     {.key = "target"},
                      {.key = "scores"},     {.key = "word_vectors"}};
    if (!root || root->type != YAML_MAPPING_NODE) {
        cfg_problem(c, root,
                    "the config is %s (expected a mapping with experiment, datasets, sources "
                    "and target)",
                    cfg_kind(root));
        return;
    }
    cfg_fields(c, root, "", f, N);
    for (int k = 0; k < N; k++) {
        bool required = k == EXPERIMENT || k == DATASETS || k == SOURCES || k == TARGET;
        if (required) cfg_require(c, root, "", &f[k]);
    }
    if (f[EXPERIMENT].val && cfg_string(c, f[EXPERIMENT].val, "experiment", &cfg->experiment))
        cfg_check_name(c, f[EXPERIMENT].val, "experiment", cfg->experiment);
    if (f[SEED].val) cfg_u64(c, f[SEED].val, "seed", &cfg->seed);
    cfg->n_seeds = 1;
    if (f[SEEDS].val) {
        cfg->seeds_mark = cfg_mark(f[SEEDS].val);
        cfg_int(c, f[SEEDS].val, "seeds", 1, XFER_MAX_SEEDS, &cfg->n_seeds);
    }
    int e;
    if (f[DEVICE].val && cfg_enum(c, f[DEVICE].val, "device", k_devices, &e))
        cfg->device = (xfer_device_kind)e;
    if (f[PRECISION].val && cfg_enum(c, f[PRECISION].val, "precision", k_precisions, &e))
        cfg->precision = (xfer_precision)e;
    if (f[OUTPUT].val) cfg->output_set = cfg_string(c, f[OUTPUT].val, "output", &cfg->output);
    if (f[DATASETS].val) cfg_parse_datasets(c, f[DATASETS].val, cfg);
    if (f[SOURCES].val) cfg_parse_sources(c, f[SOURCES].val, cfg);
    if (f[TARGET].val) cfg_parse_target(c, f[TARGET].val, cfg);
    if (cfg->n_seeds > 1 && cfg->target.prune.method != XFER_PRUNE_NONE)
        cfg_problem_at(c, cfg->seeds_mark,
                       "seeds: %d with target.finetune.prune is not supported (pruning ranks one "
                       "fine-tune per source): use seeds: 1 or prune method none",
                       cfg->n_seeds);
    if (f[SCORES].val) cfg_parse_scores(c, f[SCORES].val, cfg);
    if (f[WV].val) cfg_parse_word_vectors(c, f[WV].val, cfg);
}

/* Defaults that depend on other keys (the experiment seed and name). */
static void fill_derived(cfg_ctx *c, xfer_config *cfg) {
    if (!cfg->output && cfg->experiment) {
        size_t n = strlen(cfg->experiment) + 32;
        cfg->output = malloc(n);
        if (!cfg->output) {
            c->oom = true;
            return;
        }
        snprintf(cfg->output, n, "results/%s/results.h5", cfg->experiment);
    }
    for (int i = 0; i < cfg->n_datasets; i++) {
        xfer_dataset_cfg *d = &cfg->datasets[i];
        if (!d->split_seed_set) d->split_seed = cfg->seed;
        if (!d->synthetic_seed_set) d->synthetic_seed = cfg->seed;
    }
    if (!cfg->word_vectors.wordnet_dir)
        cfg->word_vectors.wordnet_dir = cfg_strdup(c, CFG_DEFAULT_WORDNET_DIR);
    for (int i = 0; i < cfg->n_sources; i++)
        if (!cfg->sources[i].init_seed_set) cfg->sources[i].init_seed = cfg->seed;
}

int xfer_config_load_string(const char *text, size_t len, const char *name, xfer_config *cfg,
                            xfer_err *err) {
    xfer_err_clear(err);
    memset(cfg, 0, sizeof *cfg);
    if (!name) name = "<config>";
    cfg->path = strdup(name);
    cfg->text = malloc(len + 1);
    if (!cfg->path || !cfg->text) {
        xfer_config_free(cfg);
        return xfer_fail(err, XFER_EINTERNAL, "%s: out of memory", name);
    }
    memcpy(cfg->text, text, len);
    cfg->text[len] = '\0';

    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        xfer_config_free(cfg);
        return xfer_fail(err, XFER_EINTERNAL, "%s: cannot initialise the YAML parser", name);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)cfg->text, len);
    yaml_document_t doc;
    if (!yaml_parser_load(&parser, &doc)) {
        int rc = syntax_error(&parser, cfg->text, len, name, err);
        yaml_parser_delete(&parser);
        xfer_config_free(cfg);
        return rc;
    }
    /* A second document, or a syntax error after the first, is a problem of this file too. */
    yaml_document_t extra;
    if (!yaml_parser_load(&parser, &extra)) {
        int rc = syntax_error(&parser, cfg->text, len, name, err);
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        xfer_config_free(cfg);
        return rc;
    }
    yaml_parser_delete(&parser);

    cfg_ctx c = {.name = name, .doc = &doc};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *root2 = yaml_document_get_root_node(&extra);
    if (!root) {
        cfg_problem_at(&c, (xfer_mark){1, 1},
                       "the config is empty (expected a mapping with experiment, datasets, "
                       "sources and target)");
    } else {
        parse_top(&c, root, cfg);
        cfg->canon_sans_prune = cfg_canon_sans_prune(&c, root);
        if (root2)
            cfg_problem_at(&c, cfg_mark(root2),
                           "a second YAML document (expected one document per config)");
        fill_derived(&c, cfg);
        if (!c.oom) cfg_crossref(&c, cfg);
    }
    yaml_document_delete(&extra);
    yaml_document_delete(&doc);

    int rc = XFER_OK;
    if (c.oom) {
        rc = xfer_fail(err, XFER_EINTERNAL, "%s: out of memory while reading the config", name);
    } else if (c.n_probs || c.n_dropped) {
        cfg_problems_to_err(&c, err);
        rc = XFER_EINPUT;
    }
    cfg_ctx_free(&c);
    if (rc != XFER_OK) xfer_config_free(cfg);
    return rc;
}

int xfer_config_load(const char *path, xfer_config *cfg, xfer_err *err) {
    memset(cfg, 0, sizeof *cfg);
    xfer_err_clear(err);
    FILE *f = fopen(path, "rb");
    if (!f) return xfer_fail(err, XFER_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    int rc = XFER_OK;
    while (buf) {
        if (len == cap) {
            if (cap >= CFG_MAX_FILE_BYTES) {
                rc = xfer_fail(err, XFER_EINPUT, "%s: larger than %u bytes: not a config", path,
                               CFG_MAX_FILE_BYTES);
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                rc = xfer_fail(err, XFER_EINTERNAL, "%s: out of memory", path);
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f))
                rc = xfer_fail(err, XFER_EINPUT, "%s: cannot read: %s", path, strerror(errno));
            break;
        }
    }
    if (!buf && rc == XFER_OK) rc = xfer_fail(err, XFER_EINTERNAL, "%s: out of memory", path);
    fclose(f);
    if (rc == XFER_OK) rc = xfer_config_load_string(buf, len, path, cfg, err);
    free(buf);
    return rc;
}
