/* `--shard I/N`: which sources each shard runs. Sources linked by `train.from` form one group (a
 * chain and its parent, or two sources built from one parent, share the build); each group goes
 * whole to one shard, largest estimated cost first, onto the least loaded shard. */
#include <stdlib.h>
#include <string.h>

#include "xfer/plan.h"

static int find(int *parent, int i) {
    while (parent[i] != i)
        i = parent[i] = parent[parent[i]];
    return i;
}

static int source_index(const xfer_config *cfg, const char *name) {
    for (int i = 0; name && i < cfg->n_sources; i++)
        if (strcmp(cfg->sources[i].name, name) == 0) return i;
    return -1;
}

typedef struct {
    int root, first; /* first: lowest config index of a selected member (the tie-break) */
    double cost;
} group;

static int by_cost(const void *a, const void *b) {
    const group *x = a, *y = b;
    if (x->cost != y->cost) return x->cost > y->cost ? -1 : 1;
    return x->first - y->first;
}

int xfer_shard_plan_make(const xfer_config *cfg, const int *selected, int n_shards,
                         xfer_shard_plan *p, xfer_err *err) {
    memset(p, 0, sizeof *p);
    if (n_shards < 1) return xfer_fail(err, XFER_EINPUT, "the number of shards must be >= 1");
    xfer_estimate e;
    int rc = xfer_estimate_make(cfg, &e, err);
    if (rc != XFER_OK) return rc;
    int n = cfg->n_sources;
    p->n_sources = n;
    p->n_shards = n_shards;
    p->mem_bytes = e.mem_bytes;
    p->shard = malloc(((size_t)n + 1) * sizeof *p->shard);
    p->load = calloc((size_t)n_shards, sizeof *p->load);
    int *parent = malloc(((size_t)n + 1) * sizeof *parent);
    char *needed = calloc((size_t)n + 1, 1);
    group *g = calloc((size_t)n + 1, sizeof *g);
    if (!p->shard || !p->load || !parent || !needed || !g) {
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        parent[i] = i;
        p->shard[i] = -1;
    }
    for (int i = 0; i < n; i++) {
        int f = cfg->sources[i].has_train ? source_index(cfg, cfg->sources[i].train_from) : -1;
        if (f >= 0) parent[find(parent, i)] = find(parent, f);
    }
    /* The built sources a selected source needs (itself and its ancestors), each counted once. */
    for (int i = 0; i < n; i++) {
        if (selected && !selected[i]) continue;
        for (int s = i, hops = 0; s >= 0 && cfg->sources[s].has_train && hops <= n; hops++) {
            needed[s] = 1;
            s = source_index(cfg, cfg->sources[s].train_from);
        }
    }
    int n_groups = 0;
    for (int i = 0; i < n; i++) {
        int r = find(parent, i), k = 0;
        int sel = !selected || selected[i];
        if (!sel && !needed[i]) continue;
        while (k < n_groups && g[k].root != r)
            k++;
        if (k == n_groups) g[n_groups++] = (group){r, n, 0.0};
        if (sel) {
            g[k].cost += e.own[i];
            if (i < g[k].first) g[k].first = i;
        }
        if (needed[i]) g[k].cost += e.build[i];
    }
    int kept = 0; /* groups with a selected source (a needed parent alone runs nothing) */
    for (int k = 0; k < n_groups; k++)
        if (g[k].first < n) g[kept++] = g[k];
    qsort(g, (size_t)kept, sizeof *g, by_cost);
    for (int k = 0; k < kept; k++) {
        int best = 0;
        for (int s = 1; s < n_shards; s++)
            if (p->load[s] < p->load[best]) best = s;
        p->load[best] += g[k].cost;
        p->total += g[k].cost;
        for (int i = 0; i < n; i++)
            if ((!selected || selected[i]) && find(parent, i) == g[k].root) p->shard[i] = best;
    }
done:
    free(parent);
    free(needed);
    free(g);
    xfer_estimate_free(&e);
    if (rc != XFER_OK) xfer_shard_plan_free(p);
    return rc;
}

void xfer_shard_plan_free(xfer_shard_plan *p) {
    free(p->shard);
    free(p->load);
    memset(p, 0, sizeof *p);
}

static double pct(const xfer_shard_plan *p, double v) {
    return p->total > 0 ? 100.0 * v / p->total : 0.0;
}

static void print_one(FILE *f, const xfer_config *cfg, const xfer_shard_plan *p, int s) {
    int count = 0;
    for (int i = 0; i < p->n_sources; i++)
        count += p->shard[i] == s;
    fprintf(f, "shard %d/%d: %d source%s (", s, p->n_shards, count, count == 1 ? "" : "s");
    const char *sep = "";
    for (int i = 0; i < p->n_sources; i++)
        if (p->shard[i] == s) {
            fprintf(f, "%s%s", sep, cfg->sources[i].name);
            sep = ", ";
        }
    double g = p->load[s]; /* GMAC */
    fprintf(f, "), estimated cost %.0f%% of the experiment (%.1f %s)\n", pct(p, g),
            g >= 1e3 ? g / 1e3 : g, g >= 1e3 ? "TMAC" : "GMAC");
}

void xfer_shard_plan_print(FILE *f, const xfer_config *cfg, const xfer_shard_plan *p, int which) {
    if (which >= 0) {
        print_one(f, cfg, p, which);
        return;
    }
    for (int s = 0; s < p->n_shards; s++)
        print_one(f, cfg, p, s);
}
