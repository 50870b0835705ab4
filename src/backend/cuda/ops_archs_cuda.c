/* The backend ops of the wider architectures on CUDA: ReLU6, the per-channel affine and average
 * pooling on own kernels (kernels/archs.cu); the strided copy of channel concatenation as one
 * cudaMemcpy2DAsync. Grouped convolution is cuDNN's group count (conv_cudnn.c). */
#include "archs_kernels.h"
#include "cuda_internal.h"

#define S(b) (xfer_cuda_ctx(b)->stream)

static void relu6_fwd(xfer_backend *b, size_t n, const float *x, float *y) {
    CU_LAUNCH(b, xk_relu6_fwd(S(b), n, x, y));
}

static void relu6_bwd(xfer_backend *b, size_t n, const float *y, const float *dy, float *dx) {
    CU_LAUNCH(b, xk_relu6_bwd(S(b), n, y, dy, dx));
}

static void channel_affine(xfer_backend *b, int m, int c, const float *x, const float *scale,
                           const float *shift, float *y) {
    CU_LAUNCH(b, xk_channel_affine(S(b), m, c, x, scale, shift, y));
}

static void copy_strided(xfer_backend *b, size_t rows, int cols, const float *src, int src_ld,
                         float *dst, int dst_ld) {
    if (!rows || cols <= 0) return;
    CU_RT(b, cudaMemcpy2DAsync(dst, sizeof(float) * (size_t)dst_ld, src,
                               sizeof(float) * (size_t)src_ld, sizeof(float) * (size_t)cols, rows,
                               cudaMemcpyDeviceToDevice, S(b)));
}

static void avgpool2d_fwd(xfer_backend *b, const xfer_pool2d_desc *d, const float *x, float *y) {
    CU_LAUNCH(b, xk_avgpool2d_fwd(S(b), d->n, d->h, d->w, d->c, d->k, d->stride, d->pad, d->oh,
                                  d->ow, d->count_include_pad, x, y));
}

static void avgpool2d_bwd(xfer_backend *b, const xfer_pool2d_desc *d, const float *dy, float *dx) {
    CU_LAUNCH(b, xk_avgpool2d_bwd(S(b), d->n, d->h, d->w, d->c, d->k, d->stride, d->pad, d->oh,
                                  d->ow, d->count_include_pad, dy, dx));
}

void xfer_cuda_install_archs_ops(xfer_backend *b) {
    b->relu6_forward = relu6_fwd;
    b->relu6_backward = relu6_bwd;
    b->channel_affine = channel_affine;
    b->copy_strided = copy_strided;
    b->avgpool2d_forward = avgpool2d_fwd;
    b->avgpool2d_backward = avgpool2d_bwd;
}
