/* PNG decoding through libpng's progressive-free "low-level" read API from memory. libpng reports
 * fatal errors by longjmp to the png_jmpbuf set here; warnings are silenced. Output is always
 * 8-bit RGB, converted the way PIL's convert("RGB") does: palette expanded, grey replicated,
 * 16-bit reduced to its high byte, alpha and tRNS transparency dropped. */
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "decode_internal.h"

typedef struct {
    const uint8_t *buf;
    size_t len, pos;
} png_mem;

typedef struct {
    char msg[256];
} png_errbox;

static void on_read(png_structp png, png_bytep data, png_size_t n) {
    png_mem *m = png_get_io_ptr(png);
    if (m->len - m->pos < n) png_error(png, "unexpected end of file (truncated PNG)");
    memcpy(data, m->buf + m->pos, n);
    m->pos += n;
}

static void on_error(png_structp png, png_const_charp msg) {
    png_errbox *e = png_get_error_ptr(png);
    strncpy(e->msg, msg, sizeof e->msg - 1);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

int xfer_decode_png(const uint8_t *buf, size_t len, xfer_rgb *out, xfer_err *err) {
    png_errbox ebox;
    memset(&ebox, 0, sizeof ebox);
    png_mem mem = {buf, len, 0};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ebox, on_error, on_warning);
    if (!png) return xfer_fail(err, XFER_EINTERNAL, "out of memory (libpng)");
    png_infop info = png_create_info_struct(png);
    uint8_t *volatile px = NULL;
    png_bytep *volatile rows = NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return xfer_fail(err, XFER_EINTERNAL, "out of memory (libpng)");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(px);
        free(rows);
        return xfer_fail(err, XFER_EINPUT, "corrupt PNG: %s", ebox.msg);
    }
    png_set_read_fn(png, &mem, on_read);
    /* our own limit below gives a clearer message than libpng's */
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if ((long long)w * h > XFER_IMAGE_MAX_PIXELS) {
        png_destroy_read_struct(&png, &info, NULL);
        return xfer_fail(err, XFER_EINPUT, "PNG header declares %ux%u, more than %lld pixels",
                         (unsigned)w, (unsigned)h, XFER_IMAGE_MAX_PIXELS);
    }
    int color = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_strip_16(png);
    if (color & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA)
        png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)w * 3) png_error(png, "unexpected row layout");
    px = malloc((size_t)w * h * 3);
    rows = malloc((size_t)h * sizeof(png_bytep));
    if (!px || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++)
        rows[y] = px + (size_t)y * w * 3;
    /* no png_read_end: chunks after the pixel data do not matter (PIL ignores them too) */
    png_read_image(png, rows);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    out->px = px;
    out->w = (int)w;
    out->h = (int)h;
    out->dct_scale = 8;
    return XFER_OK;
}
