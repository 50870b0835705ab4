/* Image decoding (JPEG via libjpeg-turbo's jpeglib.h, PNG via libpng) and resampling.
 *
 * Resampling filter (documented in docs/data.md): bilinear (triangle) with antialiasing when
 * shrinking — the filter support widens by the scale factor, exactly as PIL's Image.resize(...,
 * BILINEAR) and torchvision's Resize(antialias=True) do — computed in fixed point with 22
 * fractional bits, horizontal pass first then vertical, each rounded to uint8 (PIL's order and
 * precision, so results match PIL to within rounding). */
#ifndef XFER_IMAGE_H
#define XFER_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "xfer/error.h"

/* Images larger than this (width*height from the header) are rejected before decoding. */
#define XFER_IMAGE_MAX_PIXELS 100000000LL

typedef struct {
    uint8_t *px; /* RGB interleaved, h rows of w*3 bytes; heap, freed by xfer_rgb_free */
    int w, h;
    int dct_scale; /* JPEG only: the libjpeg scale_num used (of 8); 8 = full size */
} xfer_rgb;

void xfer_rgb_free(xfer_rgb *img);

/* Decodes a JPEG or PNG held in memory (the format is taken from the magic bytes, not the name)
 * to RGB. min_short_side > 0 lets a JPEG be downscaled in the DCT domain (scale_num/8) as long as
 * its shorter side stays >= min_short_side; 0 decodes at full size. Grayscale, CMYK/YCCK,
 * palette, 16-bit and alpha inputs all come out as 3 channels (alpha is dropped, 16-bit keeps the
 * high byte — PIL's convert("RGB")). XFER_EINPUT with a reason (truncated, corrupt, not an image,
 * too large) on bad input; never crashes on any input. */
int xfer_image_decode_mem(const uint8_t *buf, size_t len, int min_short_side, xfer_rgb *out,
                          xfer_err *err);

/* Reads and decodes a file; messages name the path. */
int xfer_image_decode_file(const char *path, int min_short_side, xfer_rgb *out, xfer_err *err);

/* Resamples the box [x0,x1)x[y0,y1) (source pixels, may be fractional) of an RGB image to
 * ow x oh and writes only the output window [cx, cx+cw) x [cy, cy+ch) to dst (cw*ch*3 bytes,
 * tightly packed). Equivalent to PIL's im.resize((ow, oh), BILINEAR, box).crop(window).
 * Returns XFER_EINTERNAL only on out of memory. */
int xfer_resample_rgb(const uint8_t *src, int sw, int sh, double x0, double y0, double x1,
                      double y1, int ow, int oh, int cx, int cy, int cw, int ch, uint8_t *dst);

/* The cache transform: resize so the shorter side is `size` (the longer becomes
 * floor(size * long / short), torchvision's Resize(size)), then centre-crop size x size with the
 * offset round((long' - size) / 2) (torchvision's CenterCrop). dst holds size*size*3 bytes. */
int xfer_image_square(const xfer_rgb *img, int size, uint8_t *dst);

#endif
