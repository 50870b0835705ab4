/* The `scores` list and the `word_vectors` block (the class-name vectors of the EMD score). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_node.h"

/* Every transferability score xfer implements (one file each under src/scores/). */
const char *const xfer_known_scores[] = {"softmax_max", "emd",        "leep", "nce",       "logme",
                                         "hscore",      "hscore_reg", "gbc",  "transrate", "sfda",
                                         "nleep",       "parc",       "knn",  "tmi",       "etran",
                                         "pactran",     "ncti",       "emms", NULL};

static const char *const k_formats[] = {"vec", "bin", NULL};
static const char *const k_namevec[] = {"sum", "mean", NULL};
static const char *const k_classdist[] = {"wordvec", "wordnet", NULL};

bool xfer_score_is_known(const char *name) {
    for (int i = 0; xfer_known_scores[i]; i++)
        if (!strcmp(name, xfer_known_scores[i])) return true;
    return false;
}

static void known_list(char *buf, size_t size) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; xfer_known_scores[i] && len + 2 < size; i++) {
        int w = snprintf(buf + len, size - len, "%s%s", i ? ", " : "", xfer_known_scores[i]);
        if (w < 0) break;
        len += (size_t)w;
    }
}

/* A mapping of string -> string (score parameters, word synonyms) into two parallel arrays: keys
 * non-empty and unique, values strings. `pair` says what a pair is ("parameter: value"), `key_is`
 * what a key should be ("a parameter name"). */
static void parse_string_map(cfg_ctx *c, yaml_node_t *n, const char *where, const char *pair,
                             const char *key_is, char ***keys, char ***values, int *count) {
    if (cfg_is_null(n)) return;
    if (!n || n->type != YAML_MAPPING_NODE) {
        cfg_problem(c, n, "wrong type for %s: got %s (expected a mapping of %s)", where,
                    cfg_kind(n), pair);
        return;
    }
    int len = (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    *keys = calloc(len ? (size_t)len : 1, sizeof **keys);
    *values = calloc(len ? (size_t)len : 1, sizeof **values);
    if (!*keys || !*values) {
        c->oom = true;
        return;
    }
    for (int i = 0; i < len; i++) {
        yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
        yaml_node_t *k = cfg_node(c, p->key), *v = cfg_node(c, p->value);
        const char *key = cfg_scalar(k);
        char q[64], what[CFG_WHERE_MAX];
        if (!key || cfg_is_null(k) || !key[0]) {
            cfg_problem(c, k, "a key in %s is %s (expected %s)", where,
                        key && !key[0] ? "empty" : cfg_kind(k), key_is);
            continue;
        }
        bool dup = false;
        for (int j = 0; j < *count && !dup; j++)
            dup = !strcmp((*keys)[j], key);
        if (dup) {
            cfg_problem(c, k, "duplicate key '%s' in %s", cfg_quote(key, q, sizeof q), where);
            continue;
        }
        cfg_join(what, sizeof what, where, key);
        char *value = NULL;
        if (!cfg_string(c, v, what, &value)) continue;
        (*keys)[*count] = cfg_strdup(c, key);
        (*values)[(*count)++] = value;
    }
}

static void parse_params(cfg_ctx *c, yaml_node_t *n, const char *where, xfer_score_cfg *s) {
    parse_string_map(c, n, where, "parameter: value", "a parameter name", &s->param_keys,
                     &s->param_values, &s->n_params);
}

void cfg_parse_scores(cfg_ctx *c, yaml_node_t *n, xfer_config *cfg) {
    if (!n || n->type != YAML_SEQUENCE_NODE) {
        cfg_problem(c, n, "wrong type for scores: got %s (expected a list of score names)",
                    cfg_kind(n));
        return;
    }
    int len = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    cfg->scores = calloc(len ? (size_t)len : 1, sizeof *cfg->scores);
    if (!cfg->scores) {
        c->oom = true;
        return;
    }
    for (int i = 0; i < len; i++) {
        yaml_node_t *item = cfg_node(c, n->data.sequence.items.start[i]), *name_node = item,
                    *params = NULL;
        char where[CFG_WHERE_MAX];
        cfg_index(where, sizeof where, "scores", i);
        if (item && item->type == YAML_MAPPING_NODE) {
            int np = (int)(item->data.mapping.pairs.top - item->data.mapping.pairs.start);
            if (np != 1) {
                cfg_problem(c, item,
                            "%s has %d keys (expected a score name, or one 'name: {param: "
                            "value}' entry)",
                            where, np);
                continue;
            }
            name_node = cfg_node(c, item->data.mapping.pairs.start[0].key);
            params = cfg_node(c, item->data.mapping.pairs.start[0].value);
        }
        const char *name = cfg_scalar(name_node);
        if (!name || cfg_is_null(name_node)) {
            cfg_problem(c, name_node,
                        "wrong type for %s: got %s (expected a score name, or 'name: {param: "
                        "value}')",
                        where, cfg_kind(name_node));
            continue;
        }
        char q[64], known[512];
        if (!xfer_score_is_known(name)) {
            known_list(known, sizeof known);
            cfg_problem(c, name_node, "unknown score '%s' (expected one of: %s)",
                        cfg_quote(name, q, sizeof q), known);
            continue;
        }
        const xfer_score_cfg *prev = xfer_config_score(cfg, name);
        if (prev) {
            cfg_problem(c, name_node, "duplicate score '%s' (first at %d:%d)", name,
                        prev->mark.line, prev->mark.col);
            continue;
        }
        xfer_score_cfg *s = &cfg->scores[cfg->n_scores++];
        s->name = cfg_strdup(c, name);
        s->mark = cfg_mark(name_node);
        if (params) {
            char pw[CFG_WHERE_MAX];
            cfg_join(pw, sizeof pw, where, name);
            parse_params(c, params, pw, s);
        }
    }
}

static void parse_synonyms(cfg_ctx *c, yaml_node_t *n, xfer_wordvec_cfg *w) {
    parse_string_map(c, n, "word_vectors.synonyms", "word: replacement", "a word", &w->synonym_from,
                     &w->synonym_to, &w->n_synonyms);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

void cfg_parse_word_vectors(cfg_ctx *c, yaml_node_t *n, xfer_config *cfg) {
    enum { PATH, FORMAT, NAME_VECTOR, CLASS_DISTANCE, WORDNET_DIR, SYNONYMS, N };
    cfg_field f[N] = {{.key = "path"},           {.key = "format"},      {.key = "name_vector"},
                      {.key = "class_distance"}, {.key = "wordnet_dir"}, {.key = "synonyms"}};
    xfer_wordvec_cfg *w = &cfg->word_vectors;
    w->present = true;
    w->mark = cfg_mark(n);
    if (!cfg_fields(c, n, "word_vectors", f, N)) return;
    int e;
    if (f[CLASS_DISTANCE].val &&
        cfg_enum(c, f[CLASS_DISTANCE].val, "word_vectors.class_distance", k_classdist, &e))
        w->class_distance = (xfer_class_distance)e;
    if (f[PATH].val && cfg_string(c, f[PATH].val, "word_vectors.path", &w->path))
        w->path_mark = cfg_mark(f[PATH].val);
    else if (!f[PATH].val && w->class_distance == XFER_CLASSDIST_WORDVEC)
        cfg_problem(c, n,
                    "missing required key 'path' in word_vectors (expected a fastText .bin or "
                    ".vec file, or class_distance: wordnet)");
    if (w->path && ends_with(w->path, ".bin")) w->format = XFER_WV_BIN;
    if (f[FORMAT].val && cfg_enum(c, f[FORMAT].val, "word_vectors.format", k_formats, &e))
        w->format = (xfer_wordvec_format)e;
    if (f[NAME_VECTOR].val &&
        cfg_enum(c, f[NAME_VECTOR].val, "word_vectors.name_vector", k_namevec, &e))
        w->name_vector = (xfer_namevec_mode)e;
    if (f[WORDNET_DIR].val &&
        cfg_string(c, f[WORDNET_DIR].val, "word_vectors.wordnet_dir", &w->wordnet_dir))
        w->wordnet_dir_mark = cfg_mark(f[WORDNET_DIR].val);
    if (f[SYNONYMS].val) parse_synonyms(c, f[SYNONYMS].val, w);
}
