/* Launchers for the own CUDA kernels (kernels/ (*.cu)), callable from C. Each enqueues its work on
 * `s` and returns cudaGetLastError() (the launch check); none synchronises. Pointers are device
 * memory. Reductions are deterministic: fixed partitions summed in double in a fixed order. */
#ifndef XFER_CUDA_KERNELS_H
#define XFER_CUDA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "../../../kernels/augment_pil.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- elementwise (kernels/elementwise.cu) ----------------------------------------------- */
cudaError_t xk_relu_fwd(cudaStream_t s, size_t n, const float *x, float *y);
cudaError_t xk_relu_bwd(cudaStream_t s, size_t n, const float *y, const float *dy, float *dx);
cudaError_t xk_add(cudaStream_t s, size_t n, const float *a, const float *c, float *y);
cudaError_t xk_dropout_fwd(cudaStream_t s, size_t n, float p, uint64_t seed, uint64_t offset,
                           const float *x, float *y, uint8_t *mask);
cudaError_t xk_dropout_bwd(cudaStream_t s, size_t n, float p, const uint8_t *mask, const float *dy,
                           float *dx);
/* y[r][j] = bias[j] for every row r */
cudaError_t xk_fill_rows(cudaStream_t s, size_t rows, int cols, const float *bias, float *y);
/* y[r][j] += bias[j] */
cudaError_t xk_add_rows(cudaStream_t s, size_t rows, int cols, const float *bias, float *y);
/* out[j] += sum_r a[r][j]; scratch holds xk_colsum_scratch(rows, cols) doubles */
size_t xk_colsum_scratch(size_t rows, int cols);
cudaError_t xk_colsum_add(cudaStream_t s, size_t rows, int cols, const float *a, float *out,
                          double *scratch);
/* bf16 conversions (round to nearest even); acc: dst[i] += (float)src[i] */
cudaError_t xk_f32_to_bf16(cudaStream_t s, size_t n, const float *src, void *dst);
cudaError_t xk_bf16_to_f32(cudaStream_t s, size_t n, const void *src, float *dst, int acc);
cudaError_t xk_sgd(cudaStream_t s, size_t n, float *params, const float *grads, float *buf,
                   float lr, float momentum, float wd, int nesterov, int first_step);
/* xk_sgd with the learning rate read from device memory lr[0] when the kernel runs */
cudaError_t xk_sgd_dev(cudaStream_t s, size_t n, float *params, const float *grads, float *buf,
                       const float *lr, float momentum, float wd, int nesterov, int first_step);
/* y[i] += alpha * x[i] */
cudaError_t xk_axpy(cudaStream_t s, size_t n, float alpha, const float *x, float *y);
cudaError_t xk_nchw_to_nhwc(cudaStream_t s, int n, int c, int h, int w, const float *src,
                            float *dst);
cudaError_t xk_nhwc_to_nchw(cudaStream_t s, int n, int c, int h, int w, const float *src,
                            float *dst);

/* ---- batch norm (kernels/norm.cu); scratch holds xk_bn_scratch(m, c) doubles ------------- */
size_t xk_bn_scratch(int m, int c);
cudaError_t xk_bn_fwd_train(cudaStream_t s, int m, int c, const float *x, const float *gamma,
                            const float *beta, float *rmean, float *rvar, float momentum, float eps,
                            float *y, float *smean, float *sinv, double *scratch);
cudaError_t xk_bn_fwd_eval(cudaStream_t s, int m, int c, const float *x, const float *gamma,
                           const float *beta, const float *rmean, const float *rvar, float eps,
                           float *y, float *smean, float *sinv);
cudaError_t xk_bn_bwd(cudaStream_t s, int m, int c, const float *x, const float *dy,
                      const float *gamma, const float *smean, const float *sinv, int batch_stats,
                      float *dx, float *dgamma, float *dbeta, double *scratch);

/* ---- pooling (kernels/pool.cu); NHWC, the CPU backend's exact semantics ------------------ */
cudaError_t xk_maxpool_fwd(cudaStream_t s, int n, int h, int w, int c, int k, int stride, int pad,
                           int oh, int ow, const float *x, float *y);
cudaError_t xk_maxpool_bwd(cudaStream_t s, int n, int h, int w, int c, int k, int stride, int pad,
                           int oh, int ow, const float *x, const float *dy, float *dx);
cudaError_t xk_avgpool_fwd(cudaStream_t s, int n, int h, int w, int c, int oh, int ow,
                           const float *x, float *y);
cudaError_t xk_avgpool_bwd(cudaStream_t s, int n, int h, int w, int c, int oh, int ow,
                           const float *dy, float *dx);

/* ---- loss and row ops (kernels/loss.cu); scratch: n doubles ------------------------------ */
cudaError_t xk_softmax_xent(cudaStream_t s, int n, int k, const float *logits,
                            const int32_t *labels, float *loss, float *dlogits, double *scratch);
cudaError_t xk_softmax(cudaStream_t s, int n, int k, const float *logits, float *probs);
cudaError_t xk_argmax(cudaStream_t s, int n, int k, const float *logits, int32_t *pred);
cudaError_t xk_count_correct(cudaStream_t s, int n, int k, const float *logits,
                             const int32_t *labels, float *correct);

/* ---- score kernels (kernels/score.cu) ------------------------------------------------------ */
/* probs[n][k] (may be NULL) = softmax(logits); rowmax[n] = max_j probs[i][j] (double) */
cudaError_t xk_softmax_rowmax(cudaStream_t s, int n, int k, const float *logits, float *probs,
                              double *rowmax);
/* out[i] = sum_s theta[i][s] * D[s][labels[i]] (D is [S][T]), in double */
cudaError_t xk_emd_onehot(cudaStream_t s, int n, int S, int T, const float *theta, const double *D,
                          const int32_t *labels, double *out);
/* Batched log-domain Sinkhorn: for problem b, histograms a[b][S], bh[b][T] (each summing to 1),
 * cost D[S][T], regulariser eps, iters iterations; out[b] = sum P*D. work: B*(S+T) doubles. */
cudaError_t xk_sinkhorn_log(cudaStream_t s, int B, int S, int T, const double *a, const double *bh,
                            const double *D, double eps, int iters, double *out, double *work);
/* sums[k][f] = sum of feats rows with label k (double), counts[k]; xc[n][f] = feats - mean
 * (double) after xk_feature_mean filled mean[f]. */
cudaError_t xk_feature_mean(cudaStream_t s, int n, int F, const float *feats, double *mean);
cudaError_t xk_class_sums(cudaStream_t s, int n, int F, int K, const float *feats,
                          const int32_t *labels, double *sums, int *counts);
cudaError_t xk_center(cudaStream_t s, int n, int F, const float *feats, const double *mean,
                      double *xc);

/* ---- data (kernels/augment.cu) ----------------------------------------------------------- */
/* One crop per output image: source image idx in a uint8 NHWC cache of n_img images [H][W][3];
 * box (x0, y0, w, h) in source pixels; flip mirrors horizontally. */
typedef struct {
    int32_t index, x0, y0, w, h, flip;
} xk_crop_box;
cudaError_t xk_crop_resize_normalize(cudaStream_t s, const uint8_t *cache, int H, int W,
                                     const xk_crop_box *boxes, int B, int oh, int ow, float m0,
                                     float m1, float m2, float s0, float s1, float s2, float *out);
/* The CPU batcher's transform bit for bit (kernels/augment_pil.cu, pixel function in
 * kernels/augment_pil.h): B boxes over a uint8 cache of S x S x 3 images into out [B][T][T][3];
 * labels_out[b] = labels_in[b] when labels_out is not NULL. */
cudaError_t xk_augment_pil(cudaStream_t s, const uint8_t *cache, int S, const xk_aug_box *boxes,
                           const int32_t *labels_in, int B, int T, const float scale[3],
                           const float shift[3], float *out, int32_t *labels_out);

#ifdef __cplusplus
}
#endif

#endif
