/* Format decoders behind xfer_image_decode_mem (not a public API). */
#ifndef XFER_DECODE_INTERNAL_H
#define XFER_DECODE_INTERNAL_H

#include "xfer/image.h"

int xfer_decode_jpeg(const uint8_t *buf, size_t len, int min_short_side, xfer_rgb *out,
                     xfer_err *err);
int xfer_decode_png(const uint8_t *buf, size_t len, xfer_rgb *out, xfer_err *err);

#endif
