/* Batches for training and evaluation on the CPU path: float32 NHWC, normalized, augmented from an
 * in-memory image set (cache.h). The next batch is prepared on a worker thread while the current
 * one is used.
 *
 * Augmentation (torchvision's, documented in docs/data.md):
 *  - training: RandomResizedCrop(image_size, scale=(crop_scale_min, 1), ratio=(3/4, 4/3)) with
 *    torchvision's algorithm (10 attempts, then the centre-crop fallback), taken from the S x S
 *    cached image, resized with the bilinear antialiased filter of image.h; then a horizontal flip
 *    with probability 1/2; then (x/255 - mean) / std.
 *  - evaluation: the centre image_size x image_size crop of the cached image (offset
 *    round((S - image_size) / 2)); when S < image_size the whole cached image is resized up to
 *    image_size instead.
 * Randomness is counter-based: image `idx` in epoch `e` draws from key (seed, e, idx), and the
 * epoch's order from key (seed, e), so batches do not depend on threads or timing. */
#ifndef XFER_BATCHER_H
#define XFER_BATCHER_H

#include <stdint.h>

#include "xfer/cache.h"
#include "xfer/error.h"

typedef struct {
    int batch_size;
    int image_size;
    int train;               /* 1: shuffled each epoch + augmentation; 0: in order, centre crop */
    int random_resized_crop; /* training: 1 = RandomResizedCrop, 0 = centre crop */
    double crop_scale_min;   /* RandomResizedCrop scale lower bound (0.08) */
    int hflip;               /* training: random horizontal flip */
    int drop_last;           /* training: drop the last partial batch (evaluation keeps it) */
    float mean[3], std[3];
    uint64_t seed;
    int prefetch; /* 1: prepare the next batch on a worker thread */
} xfer_batcher_opts;

/* Fills opts with the defaults: batch 32, 224, train, RRC 0.08, flip, keep last, ImageNet
 * mean/std, seed 0, prefetch on. */
void xfer_batcher_opts_default(xfer_batcher_opts *o);

typedef struct {
    int n;            /* images in this batch (<= batch_size) */
    int number;       /* batch number in the epoch, from 0 */
    float *x;         /* [n, image_size, image_size, 3] NHWC float32, normalized */
    int32_t *y;       /* [n] labels */
    const int *index; /* [n] indices into the image set */
} xfer_batch;

typedef struct xfer_batcher xfer_batcher;

/* indices: the images to draw from (e.g. a split's train list), copied. The image set must outlive
 * the batcher. */
int xfer_batcher_create(const xfer_imageset *set, const int *indices, int n,
                        const xfer_batcher_opts *opts, xfer_batcher **out, xfer_err *err);
/* Starts (or restarts) an epoch: a new order (training) and new random crops. */
void xfer_batcher_start_epoch(xfer_batcher *b, int epoch);
/* The next batch of the epoch: returns 1 and fills *batch (valid until the next call), or 0 at the
 * end of the epoch. */
int xfer_batcher_next(xfer_batcher *b, xfer_batch *batch);
int xfer_batcher_n_batches(const xfer_batcher *b);
void xfer_batcher_free(xfer_batcher *b);

/* torchvision's RandomResizedCrop.get_params on an H x W image, drawing from key: the crop's top
 * row i, left column j, height h, width w. */
void xfer_rrc_params(uint64_t key, int H, int W, double scale_min, int *i, int *j, int *h, int *w);

/* One image through the batcher's transform (uint8 S x S x 3 -> float image_size^2 x 3);
 * crop_out (may be NULL) receives {i, j, h, w, flipped}. */
int xfer_augment_image(const uint8_t *src, int S, const xfer_batcher_opts *o, int epoch, int idx,
                       float *dst, int crop_out[5]);

#endif
