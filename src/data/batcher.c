/* The batch iterator: double-buffered, the worker thread fills batch k+1 while the caller uses
 * batch k. Every batch's content is a pure function of (seed, epoch, batch number), so prefetching
 * changes only when the work happens, never the result. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "xfer/batcher.h"
#include "xfer/data.h"

#define SHUFFLE_STREAM 0x5f0ffULL

typedef struct {
    float *x;
    int32_t *y;
    int *index;
    int n;
    int number; /* batch number it holds, -1 = empty */
} slot;

struct xfer_batcher {
    const xfer_imageset *set;
    xfer_batcher_opts o;
    int *indices, n;
    int *order; /* this epoch's order (positions into indices) */
    int epoch, n_batches;
    slot slots[2];
    int next_out;     /* batch number next() returns next */
    int next_fill;    /* batch number the worker fills next */
    int held;         /* slot the caller holds, -1 none */
    int busy;         /* worker is filling a slot */
    int active, quit; /* an epoch is running; worker must exit */
    int failed;
    pthread_t thread;
    int has_thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

void xfer_batcher_opts_default(xfer_batcher_opts *o) {
    memset(o, 0, sizeof *o);
    o->batch_size = 32;
    o->image_size = 224;
    o->train = 1;
    o->random_resized_crop = 1;
    o->crop_scale_min = 0.08;
    o->hflip = 1;
    /* ImageNet statistics, torchvision's normalization for its pretrained models */
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    memcpy(o->mean, mean, sizeof mean);
    memcpy(o->std, std, sizeof std);
    o->prefetch = 1;
}

int xfer_batcher_n_batches(const xfer_batcher *b) {
    return b->n_batches;
}

static void fill(xfer_batcher *b, slot *s, int number) {
    int B = b->o.batch_size, T = b->o.image_size, S = b->set->size;
    int start = number * B;
    int n = b->n - start < B ? b->n - start : B;
    size_t img = (size_t)T * T * 3;
    for (int k = 0; k < n; k++) {
        int idx = b->indices[b->order[start + k]];
        s->index[k] = idx;
        s->y[k] = b->set->labels[idx];
        if (xfer_augment_image(b->set->images + (size_t)idx * S * S * 3, S, &b->o, b->epoch, idx,
                               s->x + (size_t)k * img, NULL) != XFER_OK)
            b->failed = 1;
    }
    s->n = n;
    s->number = number;
}

static void *worker(void *arg) {
    xfer_batcher *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->quit &&
               !(b->active && b->next_fill < b->n_batches && b->slots[b->next_fill % 2].number < 0))
            pthread_cond_wait(&b->cv, &b->mu);
        if (b->quit) break;
        int number = b->next_fill++;
        slot *s = &b->slots[number % 2];
        b->busy = 1;
        pthread_mutex_unlock(&b->mu);
        fill(b, s, number);
        pthread_mutex_lock(&b->mu);
        b->busy = 0;
        pthread_cond_broadcast(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

void xfer_batcher_free(xfer_batcher *b) {
    if (!b) return;
    if (b->has_thread) {
        pthread_mutex_lock(&b->mu);
        b->quit = 1;
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
        pthread_join(b->thread, NULL);
    }
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    for (int i = 0; i < 2; i++) {
        free(b->slots[i].x);
        free(b->slots[i].y);
        free(b->slots[i].index);
    }
    free(b->indices);
    free(b->order);
    free(b);
}

int xfer_batcher_create(const xfer_imageset *set, const int *indices, int n,
                        const xfer_batcher_opts *opts, xfer_batcher **out, xfer_err *err) {
    *out = NULL;
    if (opts->batch_size <= 0 || opts->image_size <= 0)
        return xfer_fail(err, XFER_EINPUT, "batcher: batch_size and image_size must be > 0");
    for (int i = 0; i < n; i++)
        if (indices[i] < 0 || indices[i] >= set->n)
            return xfer_fail(err, XFER_EINPUT, "batcher: index %d outside the %d images",
                             indices[i], set->n);
    xfer_batcher *b = calloc(1, sizeof *b);
    if (!b) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    b->set = set;
    b->o = *opts;
    b->n = n;
    b->held = -1;
    b->indices = malloc((size_t)(n ? n : 1) * sizeof(int));
    b->order = malloc((size_t)(n ? n : 1) * sizeof(int));
    size_t img = (size_t)opts->image_size * opts->image_size * 3;
    int ok = b->indices && b->order;
    for (int i = 0; i < 2 && ok; i++) {
        b->slots[i].x = malloc(img * opts->batch_size * sizeof(float));
        b->slots[i].y = malloc((size_t)opts->batch_size * sizeof(int32_t));
        b->slots[i].index = malloc((size_t)opts->batch_size * sizeof(int));
        b->slots[i].number = -1;
        ok = b->slots[i].x && b->slots[i].y && b->slots[i].index;
    }
    if (!ok) {
        xfer_batcher_free(b);
        return xfer_fail(err, XFER_EINTERNAL, "out of memory for batches of %d x %d^2",
                         opts->batch_size, opts->image_size);
    }
    if (n) memcpy(b->indices, indices, (size_t)n * sizeof(int));
    int B = opts->batch_size;
    b->n_batches = (opts->train && opts->drop_last) ? n / B : (n + B - 1) / B;
    if (opts->prefetch) {
        if (pthread_create(&b->thread, NULL, worker, b) != 0) {
            xfer_batcher_free(b);
            return xfer_fail(err, XFER_EINTERNAL, "cannot start the batch worker thread");
        }
        b->has_thread = 1;
    }
    *out = b;
    return XFER_OK;
}

void xfer_batcher_start_epoch(xfer_batcher *b, int epoch) {
    pthread_mutex_lock(&b->mu);
    b->active = 0;
    while (b->busy)
        pthread_cond_wait(&b->cv, &b->mu);
    b->epoch = epoch;
    for (int i = 0; i < b->n; i++)
        b->order[i] = i;
    if (b->o.train) {
        uint64_t key = xfer_rng_key(b->o.seed, SHUFFLE_STREAM, (uint64_t)epoch);
        for (int i = b->n - 1; i > 0; i--) {
            int j = (int)(xfer_rng_u64(key, (uint64_t)i) % (uint64_t)(i + 1));
            int t = b->order[i];
            b->order[i] = b->order[j];
            b->order[j] = t;
        }
    }
    b->slots[0].number = b->slots[1].number = -1;
    b->next_out = b->next_fill = 0;
    b->held = -1;
    b->active = 1;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

int xfer_batcher_next(xfer_batcher *b, xfer_batch *batch) {
    memset(batch, 0, sizeof *batch);
    pthread_mutex_lock(&b->mu);
    if (b->held >= 0) {
        b->slots[b->held].number = -1; /* the caller is done with the previous batch */
        b->held = -1;
        pthread_cond_broadcast(&b->cv);
    }
    if (!b->active || b->next_out >= b->n_batches) {
        pthread_mutex_unlock(&b->mu);
        return 0;
    }
    int number = b->next_out++;
    slot *s = &b->slots[number % 2];
    if (!b->has_thread) {
        pthread_mutex_unlock(&b->mu);
        fill(b, s, number);
        pthread_mutex_lock(&b->mu);
    } else {
        while (s->number != number)
            pthread_cond_wait(&b->cv, &b->mu);
    }
    b->held = number % 2;
    pthread_mutex_unlock(&b->mu);
    batch->n = s->n;
    batch->number = number;
    batch->x = s->x;
    batch->y = s->y;
    batch->index = s->index;
    return 1;
}
