/* The first layer's input preparation on the GPU: from a uint8 NHWC image cache resident on the
 * device, random-resized-crop (boxes chosen on the host, so CPU and GPU crops agree), horizontal
 * flip and normalisation into the network's NHWC float input, in one kernel.
 *
 * Resampling is bilinear with align_corners = False and no antialiasing, on the uint8 values:
 *   sy = (oy + 0.5) * h / oh - 0.5, clamped below at 0; y0 = floor(sy), y1 = min(y0 + 1, h - 1),
 *   ly = sy - y0 (same for x over the box width), value = lerp rows of lerped columns,
 * then v / 255, then (v - mean[c]) / std[c]. A flip reads output column ow - 1 - ox. */
#include <math.h>

#include "common.cuh"

__global__ void k_crop(const uint8_t *cache, int H, int W, const xk_crop_box *boxes, int B, int oh,
                       int ow, float m0, float m1, float m2, float s0, float s1, float s2,
                       float *out) {
    size_t total = (size_t)B * oh * ow * 3;
    XK_GRID_STRIDE(i, total) {
        int ch = (int)(i % 3);
        size_t r = i / 3;
        int ox = (int)(r % ow);
        r /= ow;
        int oy = (int)(r % oh);
        int b = (int)(r / oh);
        xk_crop_box bx = boxes[b];
        if (bx.flip) ox = ow - 1 - ox;
        float sy = ((float)oy + 0.5f) * ((float)bx.h / (float)oh) - 0.5f;
        float sx = ((float)ox + 0.5f) * ((float)bx.w / (float)ow) - 0.5f;
        if (sy < 0.0f) sy = 0.0f;
        if (sx < 0.0f) sx = 0.0f;
        int y0 = (int)sy, x0 = (int)sx;
        if (y0 > bx.h - 1) y0 = bx.h - 1;
        if (x0 > bx.w - 1) x0 = bx.w - 1;
        int y1 = y0 + 1 < bx.h ? y0 + 1 : bx.h - 1, x1 = x0 + 1 < bx.w ? x0 + 1 : bx.w - 1;
        float ly = sy - (float)y0, lx = sx - (float)x0;
        const uint8_t *img = cache + (size_t)bx.index * H * W * 3;
        int Y0 = bx.y0 + y0, Y1 = bx.y0 + y1, X0 = bx.x0 + x0, X1 = bx.x0 + x1;
        float p00 = img[((size_t)Y0 * W + X0) * 3 + ch], p01 = img[((size_t)Y0 * W + X1) * 3 + ch];
        float p10 = img[((size_t)Y1 * W + X0) * 3 + ch], p11 = img[((size_t)Y1 * W + X1) * 3 + ch];
        float top = (1.0f - lx) * p00 + lx * p01, bot = (1.0f - lx) * p10 + lx * p11;
        float v = ((1.0f - ly) * top + ly * bot) / 255.0f;
        float mean = ch == 0 ? m0 : ch == 1 ? m1 : m2, sd = ch == 0 ? s0 : ch == 1 ? s1 : s2;
        out[i] = (v - mean) / sd;
    }
}

extern "C" cudaError_t xk_crop_resize_normalize(cudaStream_t s, const uint8_t *cache, int H, int W,
                                                const xk_crop_box *boxes, int B, int oh, int ow,
                                                float m0, float m1, float m2, float s0, float s1,
                                                float s2, float *out) {
    size_t t = (size_t)B * oh * ow * 3;
    if (t)
        k_crop<<<xk_blocks(t), XK_THREADS, 0, s>>>(cache, H, W, boxes, B, oh, ow, m0, m1, m2, s0,
                                                   s1, s2, out);
    return cudaGetLastError();
}
