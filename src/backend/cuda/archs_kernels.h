/* Launchers of the own kernels for the wider architectures (kernels/archs.cu): ReLU6, the
 * per-channel affine and average pooling with k / stride / pad / ceil_mode / count_include_pad.
 * Same semantics as the CPU backend (src/backend/cpu/archs_ops.c, avgpool.c). */
#ifndef XFER_CUDA_ARCHS_KERNELS_H
#define XFER_CUDA_ARCHS_KERNELS_H

#include <stddef.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

cudaError_t xk_relu6_fwd(cudaStream_t s, size_t n, const float *x, float *y);
cudaError_t xk_relu6_bwd(cudaStream_t s, size_t n, const float *y, const float *dy, float *dx);
cudaError_t xk_channel_affine(cudaStream_t s, int m, int c, const float *x, const float *scale,
                              const float *shift, float *y);
/* pool: n, h, w, c, k, stride, pad, oh, ow, ceil_mode is in oh/ow, count_include_pad */
cudaError_t xk_avgpool2d_fwd(cudaStream_t s, int n, int h, int w, int c, int k, int stride, int pad,
                             int oh, int ow, int count_include_pad, const float *x, float *y);
cudaError_t xk_avgpool2d_bwd(cudaStream_t s, int n, int h, int w, int c, int k, int stride, int pad,
                             int oh, int ow, int count_include_pad, const float *dy, float *dx);

#ifdef __cplusplus
}
#endif

#endif
