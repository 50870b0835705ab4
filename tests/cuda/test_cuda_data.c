/* The GPU crop + flip + normalise kernel against a host reference of the documented resampling
 * (include/xfer/cuda_backend.h: bilinear, align_corners = False, no antialiasing) in double, on
 * synthetic gradient-plus-noise images (no decoder dependency), including flips, a 1x1 box and
 * upsampling as well as downsampling. Tolerance 1e-5 relative. */
#include "cuda_test.h"

static double ref_pixel(const uint8_t *img, int W, const xfer_crop_box *b, int oh, int ow, int oy,
                        int ox, int ch) {
    if (b->flip) ox = ow - 1 - ox;
    double sy = (oy + 0.5) * ((double)b->h / oh) - 0.5, sx = (ox + 0.5) * ((double)b->w / ow) - 0.5;
    if (sy < 0) sy = 0;
    if (sx < 0) sx = 0;
    int y0 = (int)sy, x0 = (int)sx;
    if (y0 > b->h - 1) y0 = b->h - 1;
    if (x0 > b->w - 1) x0 = b->w - 1;
    int y1 = y0 + 1 < b->h ? y0 + 1 : b->h - 1, x1 = x0 + 1 < b->w ? x0 + 1 : b->w - 1;
    double ly = sy - y0, lx = sx - x0;
#define P(yy, xx) (double)img[((size_t)(b->y0 + (yy)) * W + b->x0 + (xx)) * 3 + ch]
    double top = (1 - lx) * P(y0, x0) + lx * P(y0, x1), bot = (1 - lx) * P(y1, x0) + lx * P(y1, x1);
#undef P
    return ((1 - ly) * top + ly * bot) / 255.0;
}

int main(void) {
    need_cuda_device();
    xfer_err e;
    xfer_err_clear(&e);
    xfer_backend *gpu = xfer_backend_get(XFER_DEVICE_CUDA, &e);
    if (!gpu) {
        fprintf(stderr, "backend: %s\n", e.msg);
        return 1;
    }
    const int N = 3, H = 40, W = 52, OH = 24, OW = 24, NB = 6;
    uint8_t *img = malloc((size_t)N * H * W * 3);
    for (int i = 0; i < N; i++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < 3; c++) {
                    double v = 40 * i + 3 * y + 2 * x + 30 * c + 20 * urand();
                    img[(((size_t)i * H + y) * W + x) * 3 + c] = (uint8_t)(v < 0     ? 0
                                                                           : v > 255 ? 255
                                                                                     : v);
                }
    xfer_crop_box boxes[6] = {{0, 0, 0, W, H, 0},   {1, 5, 3, 20, 30, 1}, {2, 30, 10, 22, 7, 0},
                              {0, 51, 39, 1, 1, 1}, {1, 0, 0, 13, 40, 1}, {2, 10, 20, 40, 20, 0}};
    const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
    xfer_cuda_image_cache *cache = NULL;
    CHECK(xfer_cuda_cache_upload(gpu, img, N, H, W, &cache, &e) == XFER_OK);
    size_t nout = (size_t)NB * OH * OW * 3;
    float *dout = put(gpu, NULL, nout * 4), *got = malloc(nout * 4), *ref = malloc(nout * 4);
    CHECK(xfer_cuda_crop_batch(gpu, cache, boxes, NB, OH, OW, mean, sd, dout, &e) == XFER_OK);
    get(gpu, got, dout, nout * 4);
    for (int b = 0; b < NB; b++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++)
                for (int c = 0; c < 3; c++) {
                    const uint8_t *src = img + (size_t)boxes[b].index * H * W * 3;
                    double v = ref_pixel(src, W, &boxes[b], OH, OW, oy, ox, c);
                    ref[(((size_t)b * OH + oy) * OW + ox) * 3 + c] = (float)((v - mean[c]) / sd[c]);
                }
    CHECK_REL("crop/flip/normalise", got, ref, nout, 1e-5);
    /* bad boxes are input errors naming the box */
    xfer_crop_box bad = {1, 40, 0, 20, 10, 0};
    CHECK(xfer_cuda_crop_batch(gpu, cache, &bad, 1, OH, OW, mean, sd, dout, &e) == XFER_EINPUT);
    CHECK_MSG(strstr(e.msg, "box 0") != NULL, "message: %s", e.msg);
    gpu->free(gpu, dout);
    xfer_cuda_cache_free(gpu, cache);
    free(img), free(got), free(ref);
    xfer_backend_release(gpu);
    return test_summary();
}
