/* Batches for the runner on either path: the CPU batcher (include/xfer/batcher.h) + one upload per
 * batch, or — with a CUDA backend — the GPU batch path: the dataset's uint8 cache resident on the
 * device (uploaded once per dataset) and the batcher's transform done by a kernel
 * (xfer_cuda_augment_batch), with the image order, labels and crop boxes chosen on the host
 * exactly as the CPU batcher chooses them (run_batch_plan below). The GPU batches equal the CPU
 * batches bit for bit by construction (tests/cuda checks the pixel function on the host and the
 * kernel on a GPU).
 *
 * XFER_GPU_BATCHES=0 in the environment keeps the CPU batcher with a CUDA backend (for
 * comparison). */
#ifndef XFER_RUN_GPU_BATCH_H
#define XFER_RUN_GPU_BATCH_H

#include "run_internal.h"
#include "xfer/batcher.h"
#include "xfer/cuda_backend.h"

/* ---- the host-side plan: pure C, the CPU batcher's choices ---- */
typedef struct {
    xfer_batcher_opts o;
    const xfer_imageset *set;
    int *indices, n;
    int *order; /* this epoch's order (positions into indices) */
    int epoch, n_batches;
    /* the batch last filled, [batch_size] each */
    xfer_aug_box *boxes;
    int32_t *labels;
    int *index;
} run_batch_plan;

int run_batch_plan_init(run_batch_plan *p, const xfer_imageset *set, const int *indices, int n,
                        const xfer_batcher_opts *o, xfer_err *err);
/* The epoch's order: xfer_batcher_start_epoch's shuffle. */
void run_batch_plan_epoch(run_batch_plan *p, int epoch);
/* Fills boxes/labels/index for batch `number` of the epoch; returns its image count. */
int run_batch_plan_fill(run_batch_plan *p, int number);
/* The box xfer_augment_image uses for image idx of the set in `epoch` (RandomResizedCrop or
 * centre crop, flip). */
void run_batch_plan_box(const xfer_batcher_opts *o, int S, int epoch, int idx, xfer_aug_box *box);
void run_batch_plan_free(run_batch_plan *p);

/* ---- batches for fit.c and score.c ---- */
typedef struct run_batches run_batches;

/* Over `indices` of dataset d with options o, on c's backend. */
int run_batches_create(run_ctx *c, run_dataset *d, const int *indices, int n,
                       const xfer_batcher_opts *o, run_batches **out, xfer_err *err);
int run_batches_n(const run_batches *r);
int run_batches_on_gpu(const run_batches *r);
void run_batches_start_epoch(run_batches *r, int epoch);
/* The next batch of the epoch into x [n][S][S][3] and y [n] (backend memory): returns 1 and sets
 * *n, *number and *labels (host labels, valid until the next call); 0 at the end of the epoch;
 * -1 with err filled on a failure. */
int run_batches_next(run_batches *r, float *x, int32_t *y, int *n, int *number,
                     const int32_t **labels, xfer_err *err);
void run_batches_free(run_batches *r);

/* Frees the device caches of c's datasets (run_datasets_free calls it). */
void run_gpu_caches_free(run_ctx *c);

#endif
