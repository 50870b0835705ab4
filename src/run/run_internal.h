/* Shared state of one `xfer run`. */
#ifndef XFER_RUN_INTERNAL_H
#define XFER_RUN_INTERNAL_H

#include <stdio.h>

#include "xfer/backend.h"
#include "xfer/cache.h"
#include "xfer/data.h"
#include "xfer/nn.h"
#include "xfer/results.h"
#include "xfer/run.h"

typedef struct {
    const xfer_dataset_cfg *cfg;
    char *cache_path;
    xfer_imageset set;
    xfer_split split;
    int loaded;
    struct xfer_cuda_image_cache *gpu_cache; /* the images on the GPU (gpu_batch.c), or NULL */
} run_dataset;

typedef struct {
    const xfer_config *cfg;
    const xfer_run_opts *opts;
    xfer_backend *b;
    char *output;    /* results file */
    char *outdir;    /* its folder: caches, built sources, checkpoints, report, plots */
    run_dataset *ds; /* [cfg->n_datasets] */
    xfer_results *res;
    FILE *log_json;
    int finetune_until; /* > 0: fine-tunes stop after this epoch (a pruning rung, prune.c) */
} run_ctx;

/* ---- datasets (datasets.c) ---- */
/* Prepares (or reuses) the cache of dataset `name`, loads it and makes its split. */
int run_dataset_get(run_ctx *c, const char *name, run_dataset **out, xfer_err *err);
void run_datasets_free(run_ctx *c);

/* ---- paths (paths.c) ---- */
char *run_path(const run_ctx *c, const char *sub, const char *name, const char *suffix);
int run_mkdirs(const char *dir, xfer_err *err);
/* <outdir>/checkpoints/<results file stem>/<name>, with room to append a 32-byte suffix. */
char *run_ckpt_path(const run_ctx *c, const char *name);
int run_file_exists(const char *path);

/* ---- training loop (fit.c) ---- */
typedef struct {
    const char *what;   /* "build caltech256" / "finetune resnet18_imagenet", for progress */
    const char *source; /* results source name when epochs go to the results file, else NULL */
    const xfer_recipe_cfg *recipe;
    run_dataset *data;
    uint64_t seed;
    const char *last_ckpt;          /* resume checkpoint, written after every epoch */
    const char *best_ckpt;          /* best test accuracy so far */
    const char *const *class_names; /* stored in the checkpoints */
    int stop_epoch;                 /* > 0: stop after this epoch (before the recipe's last) */
    int seed_index; /* which of the source's fine-tunes (the config's `seeds`), 0 first */
} run_fit_spec;

typedef struct {
    double best_acc;
    int best_epoch;
    int failed; /* 1: stopped by a NaN/Inf loss; reason in the error */
} run_fit_result;

/* Trains m (already initialised, or restored from last_ckpt when it exists) for the recipe's
 * epochs. A NaN/Inf loss sets result->failed and returns XFER_EFAILED with the reason. */
int run_fit(run_ctx *c, xfer_model *m, const run_fit_spec *s, run_fit_result *r, xfer_err *err);

/* ---- sources (sources.c) ---- */
/* The weights file a source starts from ("" for random), building it first when it has a `train`
 * block (recursively, with a lock so shards build it once). */
int run_source_weights(run_ctx *c, const xfer_source_cfg *src, char **path, xfer_err *err);
/* A model of the source as it is (its own head): for scoring. Source class names into *names
 * (NULL when unknown), count into *n_names. */
int run_source_model(run_ctx *c, const xfer_source_cfg *src, const char *weights, xfer_model **m,
                     char ***names, int *n_names, xfer_err *err);
/* "imagenet>caltech256"-style chain of a source. Heap string. */
char *run_source_chain(const run_ctx *c, const xfer_source_cfg *src);

/* ---- scoring (score.c) and fine-tuning (finetune.c) ---- */
int run_score_source(run_ctx *c, const xfer_source_cfg *src, const char *weights, xfer_err *err);
/* Fine-tune `index` (0 .. seeds-1) of a source: batches from the seed `seed + index`, the new
 * head from `init_seed + index` (index 0: as a run with one seed). */
int run_finetune_source(run_ctx *c, const xfer_source_cfg *src, const char *weights, int index,
                        run_fit_result *r, xfer_err *err);
/* Removes a finished fine-tune's resume checkpoint (the best one stays). */
void run_finetune_cleanup(run_ctx *c, const xfer_source_cfg *src, int index);
/* Whether fine-tune `index` of a source still has a resume checkpoint. */
int run_finetune_has_resume(run_ctx *c, const xfer_source_cfg *src, int index);

/* Records a source's failure (status failed with the reason, a warning, the counters: bad input
 * or failed). Returns the results file's error, or XFER_OK. */
int run_record_failure(run_ctx *c, const xfer_source_cfg *s, int src_rc, const xfer_err *se,
                       int *n_failed, int *n_bad_input, xfer_err *err);

/* ---- successive halving over the sweep (prune.c) ---- */
/* Whether a results file written with config text old_text may be resumed by c's config: the same
 * but for target.finetune.prune, and pruning either off now or set alike. */
int run_prune_resumable(const xfer_config *cfg, const char *old_text);
/* Fine-tunes the selected sources (sel) rung by rung, pruning per target.finetune.prune; in_exp
 * marks the sources of the whole experiment (every shard's). old: the results file as it was. */
int run_prune_sweep(run_ctx *c, const int *sel, const int *in_exp, const xfer_results_data *old,
                    int *n_failed, int *n_bad_input, xfer_err *err);

/* ---- progress (progress.c) ---- */
void run_progress_batch(const char *what, int epoch, int epochs, int batch, int n_batches,
                        double img_per_s, double loss, double eta_s);
void run_progress_epoch(run_ctx *c, const char *what, const char *source, int epoch, int epochs,
                        double lr, double train_loss, double train_acc, double test_loss,
                        double test_acc, double seconds, double img_per_s);
void run_progress_clear(void);

/* Frees a list of strings. */
void run_free_strings(char **s, int n);
double run_now(void);
void run_sleep_ms(int ms);

#endif
