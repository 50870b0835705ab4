/* Shared helpers for the own kernels: grid sizing and warp reductions. */
#ifndef XFER_KERNELS_COMMON_CUH
#define XFER_KERNELS_COMMON_CUH

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "../src/backend/cuda/cuda_kernels.h"

#define XK_THREADS 256

/* Blocks for a grid-stride loop over n elements (capped; the loop covers the rest). */
static inline unsigned xk_blocks(size_t n) {
    size_t b = (n + XK_THREADS - 1) / XK_THREADS;
    if (b < 1) b = 1;
    if (b > 65535u * 8u) b = 65535u * 8u;
    return (unsigned)b;
}

#define XK_GRID_STRIDE(i, n)                                                                       \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                        \
         i += (size_t)gridDim.x * blockDim.x)

__device__ __forceinline__ double xk_warp_sum(double v) {
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float xk_warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

#endif
