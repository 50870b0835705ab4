/* target.finetune.prune: successive halving over the sweep (docs/config.md). Parsed after the
 * recipe (it checks against epochs and eval_every); the checks against the sources and scores run
 * with the other cross-section checks. Also the canonical form of a config without its prune block,
 * which lets a results file be resumed with other pruning settings (docs/run.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_node.h"

static const char *const k_methods[] = {"none", "successive_halving", NULL};
static const char *const k_metrics[] = {"test_acc", "curve_auc", NULL};
static const char *const k_scopes[] = {"experiment", "shard", NULL};
/* Defaults (docs/config.md): Optuna's SuccessiveHalvingPruner also reduces by 3 per rung. */
#define CFG_PRUNE_ETA 3
#define CFG_PRUNE_MIN_EPOCHS 1
#define CFG_PRUNE_KEEP 1
#define CFG_PRUNE_MAX_ETA 1000
/* The canonical form is a copy of the document; anything longer is not a config (aliases can
 * multiply a small file). */
#define CFG_CANON_MAX (16u << 20)
#define CFG_CANON_DEPTH 256

const char *xfer_prune_method_name(xfer_prune_method m) {
    return (unsigned)m < 2 ? k_methods[m] : "unknown";
}
const char *xfer_prune_metric_name(xfer_prune_metric m) {
    return (unsigned)m < 2 ? k_metrics[m] : "unknown";
}
const char *xfer_prune_scope_name(xfer_prune_scope s) {
    return (unsigned)s < 2 ? k_scopes[s] : "unknown";
}

bool xfer_prune_same(const xfer_prune_cfg *a, const xfer_prune_cfg *b) {
    if (a->method == XFER_PRUNE_NONE && b->method == XFER_PRUNE_NONE) return true;
    return a->method == b->method && a->eta == b->eta && a->min_epochs == b->min_epochs &&
           a->metric == b->metric && a->keep_at_least == b->keep_at_least && a->scope == b->scope &&
           !a->seed_by == !b->seed_by && (!a->seed_by || !strcmp(a->seed_by, b->seed_by));
}

int xfer_prune_rungs(const xfer_prune_cfg *p, int epochs, int *rungs, int cap) {
    int n = 0;
    for (long long e = p->min_epochs; e > 0 && e < epochs && n < cap; e *= p->eta)
        rungs[n++] = (int)e;
    return n;
}

void cfg_parse_prune(cfg_ctx *c, yaml_node_t *n, const xfer_recipe_cfg *r, xfer_prune_cfg *p) {
    enum { METHOD, ETA, MIN_EPOCHS, METRIC, SEED_BY, KEEP, SCOPE, N };
    cfg_field f[N] = {{.key = "method"}, {.key = "eta"},     {.key = "min_epochs"},
                      {.key = "metric"}, {.key = "seed_by"}, {.key = "keep_at_least"},
                      {.key = "scope"}};
    const char *where = "target.finetune.prune";
    *p = (xfer_prune_cfg){0};
    p->eta = CFG_PRUNE_ETA;
    p->min_epochs = CFG_PRUNE_MIN_EPOCHS;
    p->keep_at_least = CFG_PRUNE_KEEP;
    if (!n) return;
    p->present = true;
    p->mark = p->method_mark = p->keep_mark = cfg_mark(n);
    if (!cfg_fields(c, n, where, f, N)) return;
    char what[CFG_WHERE_MAX];
#define WHAT(key) (cfg_join(what, sizeof what, where, key), what)
    int e;
    if (f[METHOD].val && cfg_enum(c, f[METHOD].val, WHAT("method"), k_methods, &e)) {
        p->method = (xfer_prune_method)e;
        p->method_mark = cfg_mark(f[METHOD].val);
    }
    if (f[ETA].val) cfg_int(c, f[ETA].val, WHAT("eta"), 2, CFG_PRUNE_MAX_ETA, &p->eta);
    if (f[MIN_EPOCHS].val &&
        cfg_int(c, f[MIN_EPOCHS].val, WHAT("min_epochs"), 1, 1 << 30, &p->min_epochs)) {
        if (p->min_epochs >= r->epochs)
            cfg_problem(c, f[MIN_EPOCHS].val,
                        "%s.min_epochs %d is not below epochs %d (expected fewer epochs than "
                        "the full fine-tune: the first rung)",
                        where, p->min_epochs, r->epochs);
        else if (p->min_epochs < r->eval_every)
            cfg_problem(c, f[MIN_EPOCHS].val,
                        "%s.min_epochs %d comes before the first evaluation (eval_every %d; "
                        "expected min_epochs >= eval_every)",
                        where, p->min_epochs, r->eval_every);
    }
    if (f[METRIC].val && cfg_enum(c, f[METRIC].val, WHAT("metric"), k_metrics, &e))
        p->metric = (xfer_prune_metric)e;
    if (f[SEED_BY].val && cfg_string(c, f[SEED_BY].val, WHAT("seed_by"), &p->seed_by))
        p->seed_by_mark = cfg_mark(f[SEED_BY].val);
    if (f[KEEP].val &&
        cfg_int(c, f[KEEP].val, WHAT("keep_at_least"), 1, 1 << 30, &p->keep_at_least))
        p->keep_mark = cfg_mark(f[KEEP].val);
    if (f[SCOPE].val && cfg_enum(c, f[SCOPE].val, WHAT("scope"), k_scopes, &e))
        p->scope = (xfer_prune_scope)e;
    if (!f[MIN_EPOCHS].val && p->method != XFER_PRUNE_NONE && p->min_epochs < r->eval_every)
        cfg_problem(c, n,
                    "%s.min_epochs (default %d) comes before the first evaluation (eval_every "
                    "%d; expected min_epochs >= eval_every)",
                    where, p->min_epochs, r->eval_every);
    if (!f[MIN_EPOCHS].val && p->method != XFER_PRUNE_NONE && p->min_epochs >= r->epochs)
        cfg_problem(c, n,
                    "%s.min_epochs (default %d) is not below epochs %d (expected fewer epochs "
                    "than the full fine-tune)",
                    where, p->min_epochs, r->epochs);
#undef WHAT
}

void cfg_check_prune(cfg_ctx *c, const xfer_config *cfg) {
    const xfer_prune_cfg *p = &cfg->target.prune;
    if (p->seed_by && !xfer_config_score(cfg, p->seed_by)) {
        char names[512], q[64];
        size_t len = 0;
        names[0] = '\0';
        for (int i = 0; i < cfg->n_scores && len + 2 < sizeof names; i++) {
            int w = snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "",
                             cfg->scores[i].name ? cfg->scores[i].name : "");
            if (w < 0) break;
            len += (size_t)w;
        }
        cfg_problem_at(c, p->seed_by_mark,
                       "target.finetune.prune.seed_by names no score of this config: '%s' "
                       "(expected one of the scores: %s)",
                       cfg_quote(p->seed_by, q, sizeof q), names[0] ? names : "none listed");
    }
    if (p->method == XFER_PRUNE_NONE) return;
    if (cfg->n_sources == 1)
        cfg_problem_at(c, p->method_mark,
                       "target.finetune.prune.method %s with a single source (expected at least "
                       "two sources to prune among)",
                       xfer_prune_method_name(p->method));
    else if (cfg->n_sources > 1 && p->keep_at_least >= cfg->n_sources)
        cfg_problem_at(c, p->keep_mark,
                       "target.finetune.prune.keep_at_least %d keeps all %d sources (expected "
                       "fewer than the sources)",
                       p->keep_at_least, cfg->n_sources);
}

/* ---- canonical form ---------------------------------------------------------------------------
 * Every node in document order: scalars with their style class (plain or quoted: `30` and "30"
 * differ) and length, sequences and mappings bracketed; the value of target.finetune.prune is
 * left out. Comments, layout and flow/block style do not appear. */

typedef struct {
    char *buf;
    size_t len, cap;
    bool bad;
} canon_buf;

static void put(canon_buf *b, const char *s, size_t n) {
    if (b->bad) return;
    if (b->len + n + 1 > CFG_CANON_MAX) {
        b->bad = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb) {
            b->bad = true;
            return;
        }
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

/* level: 0 the root (looking for target), 1 target (finetune), 2 finetune (prune), 3 elsewhere */
static void canon_node(cfg_ctx *c, canon_buf *b, yaml_node_t *n, int level, int depth) {
    if (!n || depth > CFG_CANON_DEPTH) {
        b->bad = true;
        return;
    }
    char head[48];
    if (n->type == YAML_SCALAR_NODE) {
        int plain = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        int w = snprintf(head, sizeof head, "%c%zu:", plain ? 'p' : 'q', n->data.scalar.length);
        put(b, head, (size_t)w);
        put(b, (const char *)n->data.scalar.value, n->data.scalar.length);
    } else if (n->type == YAML_SEQUENCE_NODE) {
        put(b, "[", 1);
        for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top;
             i++)
            canon_node(c, b, cfg_node(c, *i), 3, depth + 1);
        put(b, "]", 1);
    } else if (n->type == YAML_MAPPING_NODE) {
        static const char *const want[3] = {"target", "finetune", "prune"};
        put(b, "{", 1);
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = cfg_node(c, p->key), *v = cfg_node(c, p->value);
            const char *ks = cfg_scalar(k);
            int next = 3;
            if (level < 3 && ks && !strcmp(ks, want[level])) {
                if (level == 2) continue; /* the prune block */
                next = level + 1;
            }
            canon_node(c, b, k, 3, depth + 1);
            canon_node(c, b, v, next, depth + 1);
        }
        put(b, "}", 1);
    } else {
        put(b, "?", 1);
    }
}

char *cfg_canon_sans_prune(cfg_ctx *c, yaml_node_t *root) {
    canon_buf b = {0};
    canon_node(c, &b, root, 0, 0);
    put(&b, "", 0);
    if (b.bad) {
        free(b.buf);
        return NULL;
    }
    return b.buf;
}
