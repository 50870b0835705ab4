/* libFuzzer target for image decoding (JPEG via libjpeg-turbo, PNG via libpng) through the
 * dataset reader's entry point xfer_image_decode_mem, with and without DCT downscaling, then the
 * cache transform on what decodes. Seeds: corpus/image/ (tiny JPEGs and PNGs of every colour
 * type made with PIL, and truncated/lying ones). */
#include "xfer/image.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    xfer_rgb img = {0};
    xfer_err err;
    int min_side = (size & 1) ? 8 : 0;
    if (xfer_image_decode_mem(data, size, min_side, &img, &err) != XFER_OK) return 0;
    if (img.w <= 0 || img.h <= 0 || !img.px) abort(); /* a success must give pixels */
    if ((long long)img.w * img.h <= 1 << 20) {
        uint8_t dst[16 * 16 * 3];
        (void)xfer_image_square(&img, 16, dst);
    }
    xfer_rgb_free(&img);
    return 0;
}
