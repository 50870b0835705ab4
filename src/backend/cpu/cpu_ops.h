/* The CPU backend's ops (one file per op family); cpu.c puts them in the xfer_backend table.
 * Every result is bitwise the same for any thread count: elementwise loops write each element from
 * one thread, reductions sum fixed chunks combined in chunk order (reduce.h), GEMMs run over fixed
 * tiles (gemm.c). */
#ifndef XFER_BACKEND_CPU_OPS_H
#define XFER_BACKEND_CPU_OPS_H

#include "xfer/backend.h"

/* Row kernels built for AVX2 and the baseline, picked at run time. No FMA in either clone: the
 * same operations in the same order, so the results are bitwise the same on any x86-64 (only the
 * vector width differs, and each output is computed alone). Not under ThreadSanitizer (the ifunc
 * resolvers run before its runtime is up) nor off gcc/x86-64/Linux. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) &&       \
    !defined(__SANITIZE_THREAD__)
#define XFER_CPU_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define XFER_CPU_CLONES
#endif

/* Scratch memory owned by the backend (im2col patches), grown on demand. NULL on out of memory
 * (then recorded for check()). */
float *xfer_cpu_workspace(xfer_backend *b, size_t floats);
void xfer_cpu_record_oom(xfer_backend *b, size_t bytes, const char *what);

void xfer_cpu_conv2d_forward(xfer_backend *b, const xfer_conv2d_desc *d, const float *x,
                             const float *w, const float *bias, float *y);
void xfer_cpu_conv2d_backward_data(xfer_backend *b, const xfer_conv2d_desc *d, const float *dy,
                                   const float *w, float *dx);
void xfer_cpu_conv2d_backward_filter(xfer_backend *b, const xfer_conv2d_desc *d, const float *x,
                                     const float *dy, float *dw, float *dbias);

/* Depthwise convolution (groups == c == o), direct NHWC kernels (conv_depthwise.c). */
void xfer_cpu_dwconv_forward(xfer_backend *b, const xfer_conv2d_desc *d, const float *x,
                             const float *w, const float *bias, float *y);
void xfer_cpu_dwconv_backward_data(xfer_backend *b, const xfer_conv2d_desc *d, const float *dy,
                                   const float *w, float *dx);
void xfer_cpu_dwconv_backward_filter(xfer_backend *b, const xfer_conv2d_desc *d, const float *x,
                                     const float *dy, float *dw, float *dbias);

/* ReLU6, the per-channel affine and the strided copy (archs_ops.c); pooling with k / stride / pad
 * / ceil_mode / count_include_pad (avgpool.c). */
void xfer_cpu_relu6_forward(xfer_backend *b, size_t n, const float *x, float *y);
void xfer_cpu_relu6_backward(xfer_backend *b, size_t n, const float *y, const float *dy, float *dx);
void xfer_cpu_channel_affine(xfer_backend *b, int m, int c, const float *x, const float *scale,
                             const float *shift, float *y);
void xfer_cpu_copy_strided(xfer_backend *b, size_t rows, int cols, const float *src, int src_ld,
                           float *dst, int dst_ld);
void xfer_cpu_avgpool2d_forward(xfer_backend *b, const xfer_pool2d_desc *d, const float *x,
                                float *y);
void xfer_cpu_avgpool2d_backward(xfer_backend *b, const xfer_pool2d_desc *d, const float *dy,
                                 float *dx);

void xfer_cpu_bn_forward_train(xfer_backend *b, int m, int c, const float *x, const float *gamma,
                               const float *beta, float *running_mean, float *running_var,
                               float momentum, float eps, float *y, float *save_mean,
                               float *save_invstd);
void xfer_cpu_bn_forward_eval(xfer_backend *b, int m, int c, const float *x, const float *gamma,
                              const float *beta, const float *running_mean,
                              const float *running_var, float eps, float *y, float *save_mean,
                              float *save_invstd);
void xfer_cpu_bn_backward(xfer_backend *b, int m, int c, const float *x, const float *dy,
                          const float *gamma, const float *save_mean, const float *save_invstd,
                          int batch_stats, float *dx, float *dgamma, float *dbeta);
void xfer_cpu_bn_relu_backward(xfer_backend *b, int m, int c, const float *x, const float *relu_y,
                               float *dy, const float *gamma, const float *save_mean,
                               const float *save_invstd, int batch_stats, int accumulate, float *dx,
                               float *dgamma, float *dbeta);

void xfer_cpu_relu_forward(xfer_backend *b, size_t n, const float *x, float *y);
void xfer_cpu_relu_backward(xfer_backend *b, size_t n, const float *y, const float *dy, float *dx);
void xfer_cpu_add(xfer_backend *b, size_t n, const float *a, const float *c, float *y);
void xfer_cpu_dropout_forward(xfer_backend *b, size_t n, float p, uint64_t seed, uint64_t offset,
                              const float *x, float *y, uint8_t *mask);
void xfer_cpu_dropout_backward(xfer_backend *b, size_t n, float p, const uint8_t *mask,
                               const float *dy, float *dx);

void xfer_cpu_maxpool_forward(xfer_backend *b, const xfer_pool2d_desc *d, const float *x, float *y);
void xfer_cpu_maxpool_backward(xfer_backend *b, const xfer_pool2d_desc *d, const float *x,
                               const float *y, const float *dy, float *dx);
void xfer_cpu_avgpool_forward(xfer_backend *b, int n, int h, int w, int c, int oh, int ow,
                              const float *x, float *y);
void xfer_cpu_avgpool_backward(xfer_backend *b, int n, int h, int w, int c, int oh, int ow,
                               const float *dy, float *dx);

void xfer_cpu_linear_forward(xfer_backend *b, int n, int in, int out, const float *x,
                             const float *w, const float *bias, float *y);
void xfer_cpu_linear_backward(xfer_backend *b, int n, int in, int out, const float *x,
                              const float *w, const float *dy, float *dx, float *dw, float *dbias);

void xfer_cpu_softmax_xent(xfer_backend *b, int n, int k, const float *logits,
                           const int32_t *labels, float *loss, float *dlogits);
void xfer_cpu_softmax(xfer_backend *b, int n, int k, const float *logits, float *probs);
void xfer_cpu_argmax(xfer_backend *b, int n, int k, const float *logits, int32_t *pred);
void xfer_cpu_count_correct(xfer_backend *b, int n, int k, const float *logits,
                            const int32_t *labels, float *correct);

void xfer_cpu_sgd_update(xfer_backend *b, size_t n, float *params, const float *grads,
                         float *momentum_buf, float lr, float momentum, float weight_decay,
                         int nesterov, int first_step);
void xfer_cpu_sgd_update_dev(xfer_backend *b, size_t n, float *params, const float *grads,
                             float *momentum_buf, const float *lr, float momentum,
                             float weight_decay, int nesterov, int first_step);
void xfer_cpu_axpy(xfer_backend *b, size_t n, float alpha, const float *x, float *y);

void xfer_cpu_nchw_to_nhwc(xfer_backend *b, int n, int c, int h, int w, const float *src,
                           float *dst);
void xfer_cpu_nhwc_to_nchw(xfer_backend *b, int n, int c, int h, int w, const float *src,
                           float *dst);

/* Row-major C = alpha * op(A) op(B) + beta * C, parallel over tiles of C that depend only on the
 * shape, each one single-threaded OpenBLAS call (gemm.c). */
void xfer_cpu_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                    int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* Sum of columns: out[j] += sum_i a[i*cols + j] over rows, in double over fixed chunks of rows
 * (reduce.h), independent of the thread count. */
void xfer_cpu_colsum_add(size_t rows, int cols, const float *a, float *out);

/* The input rows (or columns) [*lo, *hi) under output position o of a k-wide pooling window with
 * this stride and padding, clipped to the input; returns the window's extent within the padded
 * input (what count_include_pad divides by). Max and average pooling share it. */
static inline int xfer_cpu_pool_window(int o, int stride, int pad, int k, int size, int *lo,
                                       int *hi) {
    int s = o * stride - pad, e = s + k;
    *lo = s < 0 ? 0 : s;
    *hi = e > size ? size : e;
    return (e > size + pad ? size + pad : e) - s;
}

/* The output position that input position `in` reaches through kernel tap `tap` of a convolution
 * with this padding and stride, or -1 when none does (the backward passes' gather). */
static inline int xfer_cpu_conv_out_of(int in, int pad, int tap, int stride, int out_size) {
    int t = in + pad - tap;
    if (t < 0 || t % stride) return -1;
    t /= stride;
    return t < out_size ? t : -1;
}

#endif
