/* Batches for the runner: the CPU batcher + upload, or the GPU batch path (gpu_batch.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_batch.h"
#include "xfer/data.h"
#include "xfer/log.h"

/* The CPU batcher's constants (src/data/batcher.c, src/data/augment.c); tests/cuda's plan test
 * fails if they drift. */
#define PLAN_SHUFFLE_STREAM 0x5f0ffULL
#define PLAN_FLIP_COUNTER 1000

/* ---- plan ------------------------------------------------------------------------------- */
void run_batch_plan_box(const xfer_batcher_opts *o, int S, int epoch, int idx, xfer_aug_box *bx) {
    const int T = o->image_size;
    uint64_t key = xfer_rng_key(o->seed, (uint64_t)epoch + 1, (uint64_t)idx);
    memset(bx, 0, sizeof *bx);
    bx->index = idx;
    if (o->train && o->random_resized_crop) {
        int ci, cj, ch, cw;
        xfer_rrc_params(key, S, S, o->crop_scale_min, &ci, &cj, &ch, &cw);
        bx->x0 = cj, bx->y0 = ci, bx->w = cw, bx->h = ch;
    } else if (S >= T) {
        bx->copy = 1;
        bx->x0 = bx->y0 = (int)nearbyint((S - T) / 2.0);
        bx->w = bx->h = T;
    } else {
        bx->w = bx->h = S;
    }
    bx->flip = o->train && o->hflip && xfer_rng_uniform(key, PLAN_FLIP_COUNTER) < 0.5;
}

int run_batch_plan_init(run_batch_plan *p, const xfer_imageset *set, const int *indices, int n,
                        const xfer_batcher_opts *o, xfer_err *err) {
    memset(p, 0, sizeof *p);
    if (o->batch_size <= 0 || o->image_size <= 0)
        return xfer_fail(err, XFER_EINPUT, "batches: batch_size and image_size must be > 0");
    for (int i = 0; i < n; i++)
        if (indices[i] < 0 || indices[i] >= set->n)
            return xfer_fail(err, XFER_EINPUT, "batches: index %d outside the %d images",
                             indices[i], set->n);
    p->o = *o;
    p->set = set;
    p->n = n;
    p->indices = malloc((size_t)(n ? n : 1) * sizeof(int));
    p->order = malloc((size_t)(n ? n : 1) * sizeof(int));
    p->boxes = malloc((size_t)o->batch_size * sizeof *p->boxes);
    p->labels = malloc((size_t)o->batch_size * sizeof *p->labels);
    p->index = malloc((size_t)o->batch_size * sizeof *p->index);
    if (!p->indices || !p->order || !p->boxes || !p->labels || !p->index) {
        run_batch_plan_free(p);
        return xfer_fail(err, XFER_EINTERNAL, "out of memory for a batch plan of %d images", n);
    }
    if (n) memcpy(p->indices, indices, (size_t)n * sizeof(int));
    int B = o->batch_size;
    p->n_batches = (o->train && o->drop_last) ? n / B : (n + B - 1) / B;
    run_batch_plan_epoch(p, 0);
    return XFER_OK;
}

void run_batch_plan_epoch(run_batch_plan *p, int epoch) {
    p->epoch = epoch;
    for (int i = 0; i < p->n; i++)
        p->order[i] = i;
    if (!p->o.train) return;
    uint64_t key = xfer_rng_key(p->o.seed, PLAN_SHUFFLE_STREAM, (uint64_t)epoch);
    for (int i = p->n - 1; i > 0; i--) {
        int j = (int)(xfer_rng_u64(key, (uint64_t)i) % (uint64_t)(i + 1));
        int t = p->order[i];
        p->order[i] = p->order[j];
        p->order[j] = t;
    }
}

int run_batch_plan_fill(run_batch_plan *p, int number) {
    int B = p->o.batch_size, start = number * B;
    int n = p->n - start < B ? p->n - start : B;
    for (int k = 0; k < n; k++) {
        int idx = p->indices[p->order[start + k]];
        p->index[k] = idx;
        p->labels[k] = p->set->labels[idx];
        run_batch_plan_box(&p->o, p->set->size, p->epoch, idx, &p->boxes[k]);
    }
    return n;
}

void run_batch_plan_free(run_batch_plan *p) {
    free(p->indices);
    free(p->order);
    free(p->boxes);
    free(p->labels);
    free(p->index);
    memset(p, 0, sizeof *p);
}

/* ---- batches ----------------------------------------------------------------------------- */
struct run_batches {
    xfer_backend *b;
    int size;
    /* CPU path */
    xfer_batcher *cpu;
    /* GPU path */
    run_batch_plan plan;
    xfer_cuda_image_cache *cache; /* the dataset's, borrowed */
    int gpu, next;
};

static int gpu_wanted(const xfer_backend *b) {
    if (b->kind != XFER_DEVICE_CUDA) return 0;
    const char *v = getenv("XFER_GPU_BATCHES");
    return !(v && strcmp(v, "0") == 0);
}

int run_batches_create(run_ctx *c, run_dataset *d, const int *indices, int n,
                       const xfer_batcher_opts *o, run_batches **out, xfer_err *err) {
    *out = NULL;
    run_batches *r = calloc(1, sizeof *r);
    if (!r) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    r->b = c->b;
    r->size = o->image_size;
    int rc;
    if (gpu_wanted(c->b)) {
        if (!d->gpu_cache) {
            double t0 = run_now();
            rc = xfer_cuda_cache_upload(c->b, d->set.images, d->set.n, d->set.size, d->set.size,
                                        &d->gpu_cache, err);
            if (rc != XFER_OK) {
                free(r);
                return xfer_err_prefix(err, "dataset %s on the GPU: ", d->cfg->name);
            }
            xfer_note("dataset %s: %d images of %dx%d uploaded to the GPU (%.0f MiB, %.2fs)",
                      d->cfg->name, d->set.n, d->set.size, d->set.size,
                      (double)d->set.n * d->set.size * d->set.size * 3 / 1048576.0, run_now() - t0);
        }
        r->cache = d->gpu_cache;
        r->gpu = 1;
        rc = run_batch_plan_init(&r->plan, &d->set, indices, n, o, err);
    } else {
        rc = xfer_batcher_create(&d->set, indices, n, o, &r->cpu, err);
    }
    if (rc != XFER_OK) {
        run_batches_free(r);
        return rc;
    }
    *out = r;
    return XFER_OK;
}

int run_batches_n(const run_batches *r) {
    return r->gpu ? r->plan.n_batches : xfer_batcher_n_batches(r->cpu);
}

int run_batches_on_gpu(const run_batches *r) {
    return r->gpu;
}

void run_batches_start_epoch(run_batches *r, int epoch) {
    if (r->gpu) {
        run_batch_plan_epoch(&r->plan, epoch);
        r->next = 0;
    } else {
        xfer_batcher_start_epoch(r->cpu, epoch);
    }
}

int run_batches_next(run_batches *r, float *x, int32_t *y, int *n, int *number,
                     const int32_t **labels, xfer_err *err) {
    xfer_backend *b = r->b;
    if (!r->gpu) {
        xfer_batch bt;
        if (!xfer_batcher_next(r->cpu, &bt)) return 0;
        b->upload(b, x, bt.x, (size_t)bt.n * r->size * r->size * 3 * sizeof(float));
        b->upload(b, y, bt.y, (size_t)bt.n * sizeof(int32_t));
        *n = bt.n;
        *number = bt.number;
        *labels = bt.y;
        return 1;
    }
    if (r->next >= r->plan.n_batches) return 0;
    int k = r->next++;
    int nb = run_batch_plan_fill(&r->plan, k);
    const xfer_batcher_opts *o = &r->plan.o;
    if (xfer_cuda_augment_batch(b, r->cache, r->plan.boxes, r->plan.labels, nb, o->image_size,
                                o->mean, o->std, x, y, err) != XFER_OK)
        return -1;
    *n = nb;
    *number = k;
    *labels = r->plan.labels;
    return 1;
}

void run_batches_free(run_batches *r) {
    if (!r) return;
    xfer_batcher_free(r->cpu);
    run_batch_plan_free(&r->plan);
    free(r);
}

void run_gpu_caches_free(run_ctx *c) {
    if (!c->ds || !c->cfg) return;
    for (int i = 0; i < c->cfg->n_datasets; i++) {
        if (c->ds[i].gpu_cache) xfer_cuda_cache_free(c->b, c->ds[i].gpu_cache);
        c->ds[i].gpu_cache = NULL;
    }
}
