/* The CPU batcher's transform on the GPU, bit for bit (the pixel function is shared with the host
 * test: kernels/augment_pil.h). One thread per output pixel, all three channels. */
#include "augment_pil.h"
#include "common.cuh"

__global__ void k_augment_pil(const uint8_t *cache, int S, const xk_aug_box *boxes,
                              const int32_t *labels_in, int B, int T, float sc0, float sc1,
                              float sc2, float sh0, float sh1, float sh2, float *out,
                              int32_t *labels_out) {
    const float scale[3] = {sc0, sc1, sc2}, shift[3] = {sh0, sh1, sh2};
    size_t total = (size_t)B * T * T;
    XK_GRID_STRIDE(i, total) {
        int ox = (int)(i % T);
        size_t r = i / T;
        int oy = (int)(r % T);
        int b = (int)(r / T);
        xk_aug_box bx = boxes[b];
        float v[3];
        xk_aug_pixel(cache + (size_t)bx.index * S * S * 3, S, &bx, T, oy, ox, scale, shift, v);
        float *o = out + i * 3;
        o[0] = v[0];
        o[1] = v[1];
        o[2] = v[2];
        if (labels_out && oy == 0 && ox == 0) labels_out[b] = labels_in[b];
    }
}

extern "C" cudaError_t xk_augment_pil(cudaStream_t s, const uint8_t *cache, int S,
                                      const xk_aug_box *boxes, const int32_t *labels_in, int B,
                                      int T, const float scale[3], const float shift[3], float *out,
                                      int32_t *labels_out) {
    size_t t = (size_t)B * T * T;
    if (t)
        k_augment_pil<<<xk_blocks(t), XK_THREADS, 0, s>>>(cache, S, boxes, labels_in, B, T,
                                                          scale[0], scale[1], scale[2], shift[0],
                                                          shift[1], shift[2], out, labels_out);
    return cudaGetLastError();
}
