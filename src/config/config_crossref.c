/* Checks across sections: every dataset and source a config names exists, `train.from` chains end
 * at a loaded (or random) source without cycles, and `emd` has its class-name distances. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_node.h"

static void dataset_names(const xfer_config *cfg, char *buf, size_t size) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < cfg->n_datasets && len + 2 < size; i++) {
        if (!cfg->datasets[i].name) continue;
        int w = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", cfg->datasets[i].name);
        if (w < 0) break;
        len += (size_t)w;
    }
}

static void source_names(const xfer_config *cfg, char *buf, size_t size) {
    size_t len = 0;
    int w = snprintf(buf, size, "random");
    len = w > 0 ? (size_t)w : 0;
    for (int i = 0; i < cfg->n_sources && len + 2 < size; i++) {
        if (!cfg->sources[i].name) continue;
        w = snprintf(buf + len, size - len, ", %s", cfg->sources[i].name);
        if (w < 0) break;
        len += (size_t)w;
    }
}

static void check_dataset_ref(cfg_ctx *c, const xfer_config *cfg, const char *name, xfer_mark m,
                              const char *what) {
    if (!name || xfer_config_dataset(cfg, name)) return;
    char q[64], names[512];
    dataset_names(cfg, names, sizeof names);
    cfg_problem_at(c, m, "%s names no dataset: '%s' (expected one of: %s)", what,
                   cfg_quote(name, q, sizeof q), names);
}

static int source_index(const xfer_config *cfg, const char *name) {
    for (int i = 0; i < cfg->n_sources; i++)
        if (cfg->sources[i].name && !strcmp(cfg->sources[i].name, name)) return i;
    return -1;
}

/* Follows train.from from source i; reports a cycle once, at the first of its members in file
 * order (the lowest index, since sources are a list). */
static void check_chain(cfg_ctx *c, const xfer_config *cfg, int i) {
    int n = cfg->n_sources, at = i, steps = 0, lowest = i;
    while (steps <= n) {
        const xfer_source_cfg *s = &cfg->sources[at];
        if (!s->has_train || !s->train_from) return;
        int next = source_index(cfg, s->train_from);
        if (next < 0) return; /* reported as an unknown name */
        at = next;
        steps++;
        if (at == i) break;
        if (at < lowest) lowest = at;
    }
    if (at != i || lowest != i) return; /* i leads into a cycle but is not on it, or not first */
    char path[1024];
    size_t len = 0;
    at = i;
    do {
        const xfer_source_cfg *s = &cfg->sources[at];
        int w = snprintf(path + len, sizeof path - len, "%s > ", s->name);
        if (w > 0 && (size_t)w < sizeof path - len) len += (size_t)w;
        at = source_index(cfg, s->train_from);
    } while (at != i && at >= 0);
    snprintf(path + len, sizeof path - len, "%s", cfg->sources[i].name);
    cfg_problem_at(c, cfg->sources[i].train_from_mark,
                   "train.from of source '%s' forms a cycle: %s (expected a chain that starts "
                   "from loaded weights or random)",
                   cfg->sources[i].name, path);
}

void cfg_crossref(cfg_ctx *c, xfer_config *cfg) {
    check_dataset_ref(c, cfg, cfg->target.dataset, cfg->target.dataset_mark, "target.dataset");
    for (int i = 0; i < cfg->n_sources; i++) {
        const xfer_source_cfg *s = &cfg->sources[i];
        if (!s->has_train) continue;
        char what[CFG_WHERE_MAX];
        snprintf(what, sizeof what, "sources[%d].train.dataset", i);
        check_dataset_ref(c, cfg, s->train_dataset, s->train_dataset_mark, what);
        if (!s->train_from) continue;
        int from = source_index(cfg, s->train_from);
        if (from < 0) {
            char q[64], names[512];
            source_names(cfg, names, sizeof names);
            cfg_problem_at(c, s->train_from_mark,
                           "sources[%d].train.from names no source: '%s' (expected one of: %s)", i,
                           cfg_quote(s->train_from, q, sizeof q), names);
            continue;
        }
        const xfer_source_cfg *p = &cfg->sources[from];
        if (s->arch && p->arch && strcmp(s->arch, p->arch))
            cfg_problem_at(c, s->train_from_mark,
                           "sources[%d].train.from '%s' is a %s, this source a %s (expected "
                           "the same arch)",
                           i, p->name, p->arch, s->arch);
        else if (s->width != p->width)
            cfg_problem_at(c, s->train_from_mark,
                           "sources[%d].train.from '%s' has width %g, this source %g (expected "
                           "the same width)",
                           i, p->name, p->width, s->width);
        if (from != i) check_chain(c, cfg, i);
    }
    for (int i = 0; i < cfg->n_sources; i++) {
        const xfer_source_cfg *s = &cfg->sources[i];
        if (s->has_train && s->train_from && s->name && !strcmp(s->train_from, s->name))
            cfg_problem_at(c, s->train_from_mark,
                           "train.from of source '%s' names itself (expected another source or "
                           "random)",
                           s->name);
    }
    /* the prior baseline ranks all sources or none: a partial one would be correlated over a
     * different set of sources than the metrics */
    int first_prior = -1;
    for (int i = 0; i < cfg->n_sources && first_prior < 0; i++)
        if (cfg->sources[i].prior_mark.line) first_prior = i;
    for (int i = 0; first_prior >= 0 && i < cfg->n_sources; i++)
        if (!cfg->sources[i].prior_mark.line)
            cfg_problem_at(c, cfg->sources[i].mark,
                           "sources[%d] has no prior, sources[%d] has one at %d:%d (expected a "
                           "prior on every source or on none)",
                           i, first_prior, cfg->sources[first_prior].prior_mark.line,
                           cfg->sources[first_prior].prior_mark.col);
    cfg_check_prune(c, cfg);
    const xfer_score_cfg *emd = xfer_config_score(cfg, "emd");
    const xfer_wordvec_cfg *w = &cfg->word_vectors;
    if (emd && !w->present)
        cfg_problem_at(c, emd->mark,
                       "score 'emd' needs class-name distances (expected a word_vectors block "
                       "with a path, or with class_distance: wordnet)");
    const xfer_score_cfg *emms = xfer_config_score(cfg, "emms");
    if (emms && (!w->present || !w->path))
        cfg_problem_at(c, emms->mark,
                       "score 'emms' needs the target classes' word vectors (expected a "
                       "word_vectors block with a path)");
}
