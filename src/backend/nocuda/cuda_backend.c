/* CPU-only build: the CUDA extras (include/xfer/cuda_backend.h) all fail with XFER_EINPUT. */
#include "xfer/cuda_backend.h"

#define NONE(err) xfer_fail(err, XFER_EINPUT, "CUDA is not available in this build")

int xfer_cuda_set_precision(xfer_backend *b, xfer_precision p, xfer_err *err) {
    (void)b;
    (void)p;
    return NONE(err);
}

void xfer_cuda_set_batch_hint(xfer_backend *b, int batch) {
    (void)b;
    (void)batch;
}

const char *xfer_cuda_device_name(const xfer_backend *b) {
    (void)b;
    return "";
}

int xfer_cuda_softmax_max(xfer_backend *b, int n, int k, const float *logits, float *probs_out,
                          double *rowmax, xfer_err *err) {
    (void)b, (void)n, (void)k, (void)logits, (void)probs_out, (void)rowmax;
    return NONE(err);
}

int xfer_cuda_emd_onehot(xfer_backend *b, int n, int S, int T, const float *theta, const double *D,
                         const int32_t *labels, double *out, xfer_err *err) {
    (void)b, (void)n, (void)S, (void)T, (void)theta, (void)D, (void)labels, (void)out;
    return NONE(err);
}

int xfer_cuda_sinkhorn(xfer_backend *b, int B, int S, int T, const double *a, const double *bh,
                       const double *D, double eps, int iters, double *out, xfer_err *err) {
    (void)b, (void)B, (void)S, (void)T, (void)a, (void)bh, (void)D, (void)eps, (void)iters,
        (void)out;
    return NONE(err);
}

int xfer_cuda_feature_stats(xfer_backend *b, int n, int F, const float *feats, int K,
                            const int32_t *labels, double *mean, double *cov, double *class_sums,
                            int *counts, xfer_err *err) {
    (void)b, (void)n, (void)F, (void)feats, (void)K, (void)labels, (void)mean, (void)cov,
        (void)class_sums, (void)counts;
    return NONE(err);
}

int xfer_cuda_cache_upload(xfer_backend *b, const uint8_t *images, int n, int h, int w,
                           xfer_cuda_image_cache **out, xfer_err *err) {
    (void)b, (void)images, (void)n, (void)h, (void)w;
    *out = 0;
    return NONE(err);
}

void xfer_cuda_cache_free(xfer_backend *b, xfer_cuda_image_cache *c) {
    (void)b;
    (void)c;
}

int xfer_cuda_crop_batch(xfer_backend *b, const xfer_cuda_image_cache *c,
                         const xfer_crop_box *boxes, int nb, int oh, int ow, const float mean[3],
                         const float std[3], float *out, xfer_err *err) {
    (void)b, (void)c, (void)boxes, (void)nb, (void)oh, (void)ow, (void)mean, (void)std, (void)out;
    return NONE(err);
}

int xfer_cuda_augment_batch(xfer_backend *b, const xfer_cuda_image_cache *c,
                            const xfer_aug_box *boxes, const int32_t *labels_host, int nb, int T,
                            const float mean[3], const float std[3], float *out,
                            int32_t *labels_out, xfer_err *err) {
    (void)b, (void)c, (void)boxes, (void)labels_host, (void)nb, (void)T, (void)mean, (void)std,
        (void)out, (void)labels_out;
    return NONE(err);
}

int xfer_cuda_timer_create(xfer_backend *b, xfer_cuda_timer **out, xfer_err *err) {
    (void)b;
    *out = 0;
    return NONE(err);
}

void xfer_cuda_timer_start(xfer_backend *b, xfer_cuda_timer *t) {
    (void)b;
    (void)t;
}

int xfer_cuda_timer_stop(xfer_backend *b, xfer_cuda_timer *t, double *seconds, xfer_err *err) {
    (void)b;
    (void)t;
    *seconds = 0;
    return NONE(err);
}

void xfer_cuda_timer_free(xfer_backend *b, xfer_cuda_timer *t) {
    (void)b;
    (void)t;
}
