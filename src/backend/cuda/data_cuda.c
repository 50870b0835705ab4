/* The GPU data path: a uint8 NHWC image cache uploaded once, and the crop + flip + normalise
 * kernel that turns boxes drawn on the host into the network's input (include/xfer/cuda_backend.h).
 */
#include <stdlib.h>

#include "cuda_internal.h"
#include "cuda_kernels.h"
#include "xfer/cuda_backend.h"

struct xfer_cuda_image_cache {
    uint8_t *images; /* device [n][h][w][3] */
    int n, h, w;
    xk_crop_box *boxes; /* device, grow-only */
    int boxes_cap;
    xk_aug_box *aug_boxes; /* device, grow-only: xfer_cuda_augment_batch's boxes then labels */
    int aug_cap;
};

int xfer_cuda_cache_upload(xfer_backend *b, const uint8_t *images, int n, int h, int w,
                           xfer_cuda_image_cache **out, xfer_err *err) {
    *out = NULL;
    if (!b || b->kind != XFER_DEVICE_CUDA)
        return xfer_fail(err, XFER_EINPUT, "image cache upload: needs the CUDA backend");
    if (n <= 0 || h <= 0 || w <= 0)
        return xfer_fail(err, XFER_EINPUT, "image cache upload: empty cache %dx%dx%d", n, h, w);
    xfer_cuda_image_cache *c = calloc(1, sizeof *c);
    if (!c) return xfer_fail(err, XFER_EINTERNAL, "out of memory (image cache)");
    size_t bytes = (size_t)n * h * w * 3;
    c->images = xfer_cuda_malloc(b, bytes, "the uint8 image cache", err);
    if (!c->images) {
        free(c);
        return err ? err->code : XFER_EINTERNAL;
    }
    c->n = n;
    c->h = h;
    c->w = w;
    CU_RT(b, cudaMemcpyAsync(c->images, images, bytes, cudaMemcpyHostToDevice,
                             xfer_cuda_ctx(b)->stream));
    int s = b->sync(b, err);
    if (s != XFER_OK) {
        xfer_cuda_cache_free(b, c);
        return s;
    }
    *out = c;
    return XFER_OK;
}

void xfer_cuda_cache_free(xfer_backend *b, xfer_cuda_image_cache *c) {
    if (!c) return;
    if (b && b->kind == XFER_DEVICE_CUDA) cudaStreamSynchronize(xfer_cuda_ctx(b)->stream);
    cudaFree(c->images);
    cudaFree(c->boxes);
    cudaFree(c->aug_boxes);
    free(c);
}

int xfer_cuda_crop_batch(xfer_backend *b, const xfer_cuda_image_cache *cc,
                         const xfer_crop_box *boxes, int nb, int oh, int ow, const float mean[3],
                         const float std[3], float *out, xfer_err *err) {
    if (!b || b->kind != XFER_DEVICE_CUDA || !cc)
        return xfer_fail(err, XFER_EINPUT, "crop batch: needs the CUDA backend and a cache");
    if (nb <= 0 || oh <= 0 || ow <= 0)
        return xfer_fail(err, XFER_EINPUT, "crop batch: empty batch %d of %dx%d", nb, oh, ow);
    for (int i = 0; i < 3; i++)
        if (!(std[i] != 0.0f)) return xfer_fail(err, XFER_EINPUT, "crop batch: std[%d] is zero", i);
    for (int i = 0; i < nb; i++) {
        const xfer_crop_box *x = &boxes[i];
        if (x->index < 0 || x->index >= cc->n || x->w <= 0 || x->h <= 0 || x->x0 < 0 || x->y0 < 0 ||
            x->x0 + x->w > cc->w || x->y0 + x->h > cc->h)
            return xfer_fail(err, XFER_EINPUT,
                             "crop batch: box %d (image %d, x0 %d y0 %d w %d h %d) is outside the "
                             "cache of %d images of %dx%d",
                             i, x->index, x->x0, x->y0, x->w, x->h, cc->n, cc->w, cc->h);
    }
    xfer_cuda_image_cache *c = (xfer_cuda_image_cache *)cc; /* the box buffer is scratch */
    cuda_ctx *ctx = xfer_cuda_ctx(b);
    if (nb > c->boxes_cap) {
        cudaStreamSynchronize(ctx->stream);
        cudaFree(c->boxes);
        c->boxes_cap = 0;
        c->boxes = xfer_cuda_malloc(b, sizeof(xk_crop_box) * nb, "crop boxes", err);
        if (!c->boxes) return err ? err->code : XFER_EINTERNAL;
        c->boxes_cap = nb;
    }
    _Static_assert(sizeof(xk_crop_box) == sizeof(xfer_crop_box), "crop box layouts must agree");
    /* through the pinned ring (stage_cuda.c): the caller may reuse the boxes at once */
    if (xfer_cuda_upload_staged(b, c->boxes, boxes, sizeof(xk_crop_box) * nb) ||
        CU_LAUNCH(b,
                  xk_crop_resize_normalize(ctx->stream, c->images, c->h, c->w, c->boxes, nb, oh, ow,
                                           mean[0], mean[1], mean[2], std[0], std[1], std[2], out)))
        return b->check(b, err);
    return XFER_OK;
}

int xfer_cuda_augment_batch(xfer_backend *b, const xfer_cuda_image_cache *cc,
                            const xfer_aug_box *boxes, const int32_t *labels_host, int nb, int T,
                            const float mean[3], const float std[3], float *out,
                            int32_t *labels_out, xfer_err *err) {
    if (!b || b->kind != XFER_DEVICE_CUDA || !cc)
        return xfer_fail(err, XFER_EINPUT, "augment batch: needs the CUDA backend and a cache");
    if (nb <= 0 || T <= 0)
        return xfer_fail(err, XFER_EINPUT, "augment batch: empty batch %d of %dx%d", nb, T, T);
    if (cc->h != cc->w)
        return xfer_fail(err, XFER_EINPUT,
                         "augment batch: the cache's images are %dx%d, not square", cc->w, cc->h);
    if (labels_out && !labels_host)
        return xfer_fail(err, XFER_EINPUT, "augment batch: labels_out without labels");
    const int S = cc->h;
    for (int i = 0; i < 3; i++)
        if (!(std[i] != 0.0f))
            return xfer_fail(err, XFER_EINPUT, "augment batch: std[%d] is zero", i);
    for (int i = 0; i < nb; i++) {
        const xfer_aug_box *x = &boxes[i];
        int w = x->copy ? T : x->w, h = x->copy ? T : x->h;
        if (x->index < 0 || x->index >= cc->n || w <= 0 || h <= 0 || x->x0 < 0 || x->y0 < 0 ||
            x->x0 + w > S || x->y0 + h > S)
            return xfer_fail(err, XFER_EINPUT,
                             "augment batch: box %d (image %d, %s x0 %d y0 %d w %d h %d) is "
                             "outside the cache of %d images of %dx%d",
                             i, x->index, x->copy ? "copy" : "resample", x->x0, x->y0, w, h, cc->n,
                             S, S);
    }
    _Static_assert(sizeof(xk_aug_box) == sizeof(xfer_aug_box), "augment box layouts must agree");
    _Static_assert(sizeof(xk_aug_box) % sizeof(int32_t) == 0, "labels follow the boxes");
    xfer_cuda_image_cache *c = (xfer_cuda_image_cache *)cc; /* the box buffer is scratch */
    cuda_ctx *ctx = xfer_cuda_ctx(b);
    if (nb > c->aug_cap) {
        cudaStreamSynchronize(ctx->stream);
        cudaFree(c->aug_boxes);
        c->aug_cap = 0;
        /* boxes, then the labels right after them */
        c->aug_boxes =
            xfer_cuda_malloc(b, (sizeof(xk_aug_box) + sizeof(int32_t)) * nb, "augment boxes", err);
        if (!c->aug_boxes) return err ? err->code : XFER_EINTERNAL;
        c->aug_cap = nb;
    }
    int32_t *dlabels = (int32_t *)(c->aug_boxes + c->aug_cap);
    /* the batcher's float constants, computed by the same expressions (src/data/augment.c) */
    float scale[3], shift[3];
    for (int i = 0; i < 3; i++) {
        scale[i] = 1.0f / (255.0f * std[i]);
        shift[i] = -mean[i] / std[i];
    }
    /* through the pinned ring (stage_cuda.c): the caller may reuse boxes and labels at once */
    if (xfer_cuda_upload_staged(b, c->aug_boxes, boxes, sizeof(xk_aug_box) * nb) ||
        (labels_out && xfer_cuda_upload_staged(b, dlabels, labels_host, sizeof(int32_t) * nb)) ||
        CU_LAUNCH(b, xk_augment_pil(ctx->stream, c->images, S, c->aug_boxes, dlabels, nb, T, scale,
                                    shift, out, labels_out)))
        return b->check(b, err);
    return XFER_OK;
}

/* ---- timing ----------------------------------------------------------------------------- */
struct xfer_cuda_timer {
    cudaEvent_t start, stop;
};

int xfer_cuda_timer_create(xfer_backend *b, xfer_cuda_timer **out, xfer_err *err) {
    *out = NULL;
    if (!b || b->kind != XFER_DEVICE_CUDA)
        return xfer_fail(err, XFER_EINPUT, "CUDA timer: needs the CUDA backend");
    xfer_cuda_timer *t = calloc(1, sizeof *t);
    if (!t) return xfer_fail(err, XFER_EINTERNAL, "out of memory (CUDA timer)");
    if (CU_RT(b, cudaEventCreate(&t->start)) || CU_RT(b, cudaEventCreate(&t->stop))) {
        xfer_cuda_timer_free(b, t);
        return b->check(b, err);
    }
    *out = t;
    return XFER_OK;
}

void xfer_cuda_timer_start(xfer_backend *b, xfer_cuda_timer *t) {
    if (b && t) CU_RT(b, cudaEventRecord(t->start, xfer_cuda_ctx(b)->stream));
}

int xfer_cuda_timer_stop(xfer_backend *b, xfer_cuda_timer *t, double *seconds, xfer_err *err) {
    *seconds = 0;
    if (!b || !t) return xfer_fail(err, XFER_EINPUT, "CUDA timer: no timer");
    float ms = 0;
    if (CU_RT(b, cudaEventRecord(t->stop, xfer_cuda_ctx(b)->stream)) ||
        CU_RT(b, cudaEventSynchronize(t->stop)) ||
        CU_RT(b, cudaEventElapsedTime(&ms, t->start, t->stop)))
        return b->check(b, err);
    *seconds = ms * 1e-3;
    return b->check(b, err);
}

void xfer_cuda_timer_free(xfer_backend *b, xfer_cuda_timer *t) {
    (void)b;
    if (!t) return;
    if (t->start) cudaEventDestroy(t->start);
    if (t->stop) cudaEventDestroy(t->stop);
    free(t);
}
