/* Internal to the config module: a parse context that collects every problem with its position,
 * and typed readers of libyaml document nodes. Each reader reports its own problem (naming the key
 * path and what was expected) and returns false, so that parsing goes on and all problems of a
 * file are reported in one run. */
#ifndef XFER_CONFIG_NODE_H
#define XFER_CONFIG_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include <yaml.h>

#include "xfer/config.h"

/* Past this many problems the rest are only counted (a garbage file could yield thousands). */
#define CFG_MAX_PROBLEMS 200
/* Longest excerpt of a user's value quoted in a message. */
#define CFG_QUOTE_MAX 40
/* Longest key path ("datasets.caltech101.split.train_fraction") kept in messages. */
#define CFG_WHERE_MAX 256
/* Where Debian's wordnet-base installs the WordNet database. */
#define CFG_DEFAULT_WORDNET_DIR "/usr/share/wordnet"

typedef struct {
    xfer_mark mark;
    int seq; /* order of discovery: ties at one position keep it */
    char *text;
} cfg_problem_rec;

typedef struct {
    const char *name; /* the file name in messages */
    yaml_document_t *doc;
    cfg_problem_rec *probs;
    int n_probs, cap_probs, n_dropped;
    bool oom;
} cfg_ctx;

/* One key of a mapping: the caller names the keys, cfg_fields() finds their nodes. */
typedef struct {
    const char *key;
    yaml_node_t *key_node, *val; /* NULL when the key is absent */
} cfg_field;

typedef struct {
    double lo, hi;
    bool lo_open, hi_open;
} cfg_range;

xfer_mark cfg_mark(const yaml_node_t *n);
yaml_node_t *cfg_node(const cfg_ctx *c, int index);
void cfg_problem_at(cfg_ctx *c, xfer_mark m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cfg_problem(cfg_ctx *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes the problems, sorted by position, into err ("FILE:LINE:COL: text" per line). */
void cfg_problems_to_err(cfg_ctx *c, xfer_err *err);
void cfg_ctx_free(cfg_ctx *c);

/* A printable excerpt of s (control bytes replaced, cut at CFG_QUOTE_MAX); buf >= 64 bytes. */
const char *cfg_quote(const char *s, char *buf, size_t size);
/* "a mapping", "a list", "null", "a string" */
const char *cfg_kind(const yaml_node_t *n);
bool cfg_is_null(const yaml_node_t *n);
const char *cfg_scalar(const yaml_node_t *n); /* NULL unless a scalar */
char *cfg_strdup(cfg_ctx *c, const char *s);
/* Appends "where.key" (or "where[i]") into out. */
void cfg_join(char *out, size_t size, const char *where, const char *key);
void cfg_index(char *out, size_t size, const char *where, int i);

/* Fills fields[i].val for each named key of the mapping `map`; unknown and duplicate keys are
 * problems (the first of duplicates is kept). A null node counts as an empty mapping. Returns
 * false when map is not a mapping (reported). */
bool cfg_fields(cfg_ctx *c, yaml_node_t *map, const char *where, cfg_field *fields, int n);
/* Reports a missing required key at the mapping's position; returns whether it is present. */
bool cfg_require(cfg_ctx *c, const yaml_node_t *map, const char *where, const cfg_field *f);

/* Typed readers: on success store into *out and return true; else report and return false. */
bool cfg_string(cfg_ctx *c, const yaml_node_t *n, const char *what, char **out);
bool cfg_int(cfg_ctx *c, const yaml_node_t *n, const char *what, long long lo, long long hi,
             int *out);
bool cfg_u64(cfg_ctx *c, const yaml_node_t *n, const char *what, uint64_t *out);
bool cfg_double(cfg_ctx *c, const yaml_node_t *n, const char *what, cfg_range r, double *out);
bool cfg_bool(cfg_ctx *c, const yaml_node_t *n, const char *what, bool *out);
/* names is NULL-terminated; *out is the index. */
bool cfg_enum(cfg_ctx *c, const yaml_node_t *n, const char *what, const char *const *names,
              int *out);
bool cfg_string_list(cfg_ctx *c, const yaml_node_t *n, const char *what, char ***out, int *count);
/* Names used in paths and HDF5 groups: letters, digits, '_', '-', '.', not starting with '.'. */
bool cfg_check_name(cfg_ctx *c, const yaml_node_t *n, const char *what, const char *name);

void cfg_free_strings(char **v, int n);

/* The sections, each in its own file. */
void cfg_parse_datasets(cfg_ctx *c, yaml_node_t *n, xfer_config *cfg);
void cfg_parse_sources(cfg_ctx *c, yaml_node_t *n, xfer_config *cfg);
void cfg_parse_target(cfg_ctx *c, yaml_node_t *n, xfer_config *cfg);
void cfg_parse_scores(cfg_ctx *c, yaml_node_t *n, xfer_config *cfg);
void cfg_parse_word_vectors(cfg_ctx *c, yaml_node_t *n, xfer_config *cfg);
/* Reads the recipe keys among fields (indexed by cfg_recipe_key) into r, defaults first. */
enum {
    CFG_R_EPOCHS,
    CFG_R_BATCH_SIZE,
    CFG_R_OPTIMIZER,
    CFG_R_SCHEDULE,
    CFG_R_AUGMENTATION,
    CFG_R_DROP_LAST,
    CFG_R_EVAL_EVERY,
    CFG_R_DROPOUT,
    CFG_R_ACCURACY,
    CFG_R_N
};
extern const char *const cfg_recipe_keys[CFG_R_N];
void cfg_parse_recipe(cfg_ctx *c, const cfg_field *fields, const char *where, xfer_recipe_cfg *r);
/* Checks between sections: names referenced, train.from cycles, emd's word vectors. */
void cfg_crossref(cfg_ctx *c, xfer_config *cfg);
/* target.finetune.prune (config_prune.c): the block (n may be NULL: the defaults) after the recipe
 * r it belongs to; its checks against the sources and scores; the canonical document without it
 * (heap string, NULL when too large). */
void cfg_parse_prune(cfg_ctx *c, yaml_node_t *n, const xfer_recipe_cfg *r, xfer_prune_cfg *p);
void cfg_check_prune(cfg_ctx *c, const xfer_config *cfg);
char *cfg_canon_sans_prune(cfg_ctx *c, yaml_node_t *root);

#endif
