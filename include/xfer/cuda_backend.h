/* CUDA-specific entry points beside the generic backend table (include/xfer/backend.h): the
 * precision mode, GPU score kernels for the metrics, and the GPU data path (uint8 cache resident
 * on the device + crop/flip/normalise kernel). Every function here needs a backend made by
 * xfer_backend_cuda_create() (b->kind == XFER_DEVICE_CUDA) and fails with XFER_EINPUT otherwise;
 * in a build without CUDA they all fail with XFER_EINPUT ("not available in this build").
 *
 * Pointer arguments marked "host or device" may be either: the wrappers ask the CUDA runtime
 * (cudaPointerGetAttributes) and copy host data to the device themselves. Results are written to
 * HOST memory unless stated otherwise. */
#ifndef XFER_CUDA_BACKEND_H
#define XFER_CUDA_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "xfer/backend.h"
#include "xfer/config.h"
#include "xfer/error.h"

/* ---- precision ------------------------------------------------------------------------------ */
/* fp32: no TF32 anywhere (cuDNN CUDNN_FMA_MATH only, cuBLAS CUBLAS_COMPUTE_32F with the handle in
 * CUBLAS_DEFAULT_MATH, which uses TF32 only where a FAST_TF32 compute type asks for it);
 * tf32: TF32 tensor cores for convolutions and GEMMs; bf16: convolutions on bf16 copies of their
 * operands with fp32 accumulation, GEMMs in CUBLAS_COMPUTE_32F_FAST_16BF; parameters, gradients,
 * BN statistics, loss and the optimiser stay fp32 (master weights). Default fp32. Changing the
 * precision invalidates recorded CUDA graphs (they are recorded again). */
int xfer_cuda_set_precision(xfer_backend *b, xfer_precision p, xfer_err *err);
/* Tells the backend the batch size being run so an out-of-memory error can say what would fit
 * (0: unknown). */
void xfer_cuda_set_batch_hint(xfer_backend *b, int batch);
/* Card name, e.g. "NVIDIA H200" (empty string for a non-CUDA backend). */
const char *xfer_cuda_device_name(const xfer_backend *b);

/* ---- score kernels ----------------------------------------------------------------------- */
/* probs_out [n][k] (host, may be NULL) = softmax(logits); rowmax [n] (host) = max_j probs[i][j].
 * logits [n][k]: host or device. */
int xfer_cuda_softmax_max(xfer_backend *b, int n, int k, const float *logits, float *probs_out,
                          double *rowmax, xfer_err *err);
/* One-hot EMD closed form for all images: out[i] = sum_s theta[i][s] * D[s][labels[i]].
 * theta [n][S] (source-class probabilities), D [S][T] (double, ground cost), labels [n] in [0, T):
 * host or device. out [n] host. */
int xfer_cuda_emd_onehot(xfer_backend *b, int n, int S, int T, const float *theta, const double *D,
                         const int32_t *labels, double *out, xfer_err *err);
/* Batched log-domain Sinkhorn (entropic OT, regulariser eps > 0, fixed iteration count):
 * for each problem p, a[p] [S] and bh[p] [T] histograms (each summing to 1), cost D [S][T];
 * out[p] = sum_st P_st D_st with P = exp((f_s + g_t - D_st) / eps) after `iters` alternating
 * updates f_s = eps log a_s - eps LSE_t((g_t - D_st)/eps), g_t likewise, from f = g = 0.
 * Inputs host or device; out [B] host. */
int xfer_cuda_sinkhorn(xfer_backend *b, int B, int S, int T, const double *a, const double *bh,
                       const double *D, double eps, int iters, double *out, xfer_err *err);
/* Feature statistics of feats [n][F] (host or device) with labels [n] (host or device, may be
 * NULL when K == 0): mean [F], cov [F][F] = Xc^T Xc / (n - 1) (Xc centred, double, one cuBLAS
 * DGEMM; NULL to skip), class_sums [K][F] and counts [K] (NULL to skip). All outputs host. */
int xfer_cuda_feature_stats(xfer_backend *b, int n, int F, const float *feats, int K,
                            const int32_t *labels, double *mean, double *cov, double *class_sums,
                            int *counts, xfer_err *err);

/* ---- data on the GPU ------------------------------------------------------------------------ */
typedef struct xfer_cuda_image_cache xfer_cuda_image_cache;

/* Uploads n images of h x w x 3 uint8 (NHWC, host) once. */
int xfer_cuda_cache_upload(xfer_backend *b, const uint8_t *images, int n, int h, int w,
                           xfer_cuda_image_cache **out, xfer_err *err);
void xfer_cuda_cache_free(xfer_backend *b, xfer_cuda_image_cache *c);

/* One output image: source index, crop box in source pixels (x0, y0, w, h, inside the image),
 * flip 1 = mirror horizontally. Boxes are drawn on the host with the data module's RNG, so the
 * CPU and the GPU crop alike. */
typedef struct {
    int32_t index, x0, y0, w, h, flip;
} xfer_crop_box;

/* out (device, [nb][oh][ow][3] float NHWC) = normalise(flip(bilinear-resize(crop))) for each box:
 * bilinear with align_corners=False and no antialiasing on the uint8 values, then /255, then
 * (v - mean[c]) / std[c]. Boxes are validated (XFER_EINPUT naming the box). Asynchronous. */
int xfer_cuda_crop_batch(xfer_backend *b, const xfer_cuda_image_cache *c,
                         const xfer_crop_box *boxes, int nb, int oh, int ow, const float mean[3],
                         const float std[3], float *out, xfer_err *err);

/* ---- the CPU batcher's transform on the GPU -------------------------------------------------- */
/* One output image of xfer_cuda_augment_batch: source image index; copy = 1 takes the T x T
 * window at (x0, y0) unchanged (evaluation's centre crop), copy = 0 resamples the box (x0, y0, w,
 * h) to T x T with the CPU's filter (RandomResizedCrop, or the whole image when S < T); flip = 1
 * mirrors horizontally after the resize. Host memory. */
typedef struct {
    int32_t index, copy, x0, y0, w, h, flip, pad_;
} xfer_aug_box;

/* out (device, [nb][T][T][3] float NHWC) and, when labels_out is not NULL, labels_out (device,
 * [nb] int32) = labels_host[i]: the batcher's transform (include/xfer/batcher.h) bit for bit —
 * PIL's antialiased bilinear filter in fixed point (src/data/resize.c) computed per output pixel,
 * the flip, then v * (1 / (255 std[c])) - mean[c] / std[c] in float without contraction. Boxes
 * are validated (XFER_EINPUT naming the box). Asynchronous: boxes and labels are staged before
 * the call returns, so the caller may reuse them. */
int xfer_cuda_augment_batch(xfer_backend *b, const xfer_cuda_image_cache *c,
                            const xfer_aug_box *boxes, const int32_t *labels_host, int nb, int T,
                            const float mean[3], const float std[3], float *out,
                            int32_t *labels_out, xfer_err *err);

/* ---- timing on the device's stream ---------------------------------------------------------- */
/* CUDA events recorded on the backend's stream: start() marks the stream, stop() marks it again,
 * waits for that mark and gives the seconds between the two marks (the GPU time of the work
 * enqueued in between, without the host's idle time after it). */
typedef struct xfer_cuda_timer xfer_cuda_timer;
int xfer_cuda_timer_create(xfer_backend *b, xfer_cuda_timer **out, xfer_err *err);
void xfer_cuda_timer_start(xfer_backend *b, xfer_cuda_timer *t);
int xfer_cuda_timer_stop(xfer_backend *b, xfer_cuda_timer *t, double *seconds, xfer_err *err);
void xfer_cuda_timer_free(xfer_backend *b, xfer_cuda_timer *t);

#endif
