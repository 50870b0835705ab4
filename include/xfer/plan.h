/* Planning a sweep: what each source of an experiment costs (estimate.c), how `--shard I/N`
 * splits the sources into N shards of about equal cost with every chain kept in one shard
 * (shard_plan.c), and how much memory a run needs. The model is documented in docs/slurm.md. */
#ifndef XFER_PLAN_H
#define XFER_PLAN_H

#include <stdio.h>

#include "xfer/config.h"
#include "xfer/error.h"

/* Costs in GMAC (10^9 multiply-accumulates of the network's forward pass; a training step is
 * counted as 3 forward passes). Memory in bytes. */
typedef struct {
    int n_sources;
    double *own;      /* [n_sources] scoring + fine-tuning the source on the target */
    double *build;    /* [n_sources] building it by training (0 without a `train` block) */
    double mem_bytes; /* peak memory of one run of the whole config (an upper bound per shard) */
} xfer_estimate;

/* Lists every dataset of the config (image counts, split) and fills e. XFER_EINPUT when a dataset
 * cannot be listed (its message names it). */
int xfer_estimate_make(const xfer_config *cfg, xfer_estimate *e, xfer_err *err);
void xfer_estimate_free(xfer_estimate *e);

typedef struct {
    int n_sources, n_shards;
    int *shard;   /* [n_sources] shard of each source, -1 when not selected */
    double *load; /* [n_shards] estimated cost of each shard */
    double total; /* the sum of load */
    double mem_bytes;
} xfer_shard_plan;

/* Splits the selected sources (selected[i] != 0; NULL = all) into n_shards. Sources linked by
 * `train.from` (a chain, or two sources built from one) form a group that goes to one shard;
 * groups are placed largest first on the least loaded shard (ties: config order, lowest shard).
 * A pure function of the config, the selection, n_shards and the datasets' listings, so every
 * shard of a sweep computes the same plan. */
int xfer_shard_plan_make(const xfer_config *cfg, const int *selected, int n_shards,
                         xfer_shard_plan *p, xfer_err *err);
void xfer_shard_plan_free(xfer_shard_plan *p);

/* "shard I/N: K sources (a, b), estimated cost X% of the experiment" for one shard (which >= 0)
 * or one line per shard (which < 0). */
void xfer_shard_plan_print(FILE *f, const xfer_config *cfg, const xfer_shard_plan *p, int which);

#endif
