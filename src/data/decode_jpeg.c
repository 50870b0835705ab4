/* JPEG decoding through libjpeg-turbo's jpeglib.h API. libjpeg reports fatal errors through
 * error_exit, which must not return: ours longjmps back to the decoder, which frees everything and
 * returns an error value. A premature end of data (a truncated file) is only a warning to libjpeg
 * (it pads with grey); we treat it as an error, as PIL does. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "decode_internal.h"

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int truncated;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err_mgr;

static void on_error_exit(j_common_ptr cinfo) {
    jpeg_err_mgr *e = (jpeg_err_mgr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jump, 1);
}

static void on_emit_message(j_common_ptr cinfo, int level) {
    jpeg_err_mgr *e = (jpeg_err_mgr *)cinfo->err;
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) e->truncated = 1;
    /* other warnings (extraneous bytes before a marker ...) are common in real photo collections
     * and harmless: ignored, like PIL does */
}

static void on_output_message(j_common_ptr cinfo) {
    (void)cinfo;
}

/* PIL's MULDIV255: a*b/255 rounded, in integers. */
static inline uint8_t muldiv255(int a, int b) {
    int t = a * b + 128;
    return (uint8_t)(((t >> 8) + t) >> 8);
}

/* DCT-domain downscaling is used only by powers of two (1/2, 1/4, 1/8: odd scales misplace chroma
 * enough to differ visibly from a full decode) and only while the scaled shorter side stays at
 * least this many times the size needed, so that the bilinear antialiased resize that follows
 * still does most of the shrinking: measured against PIL's full decode + resize on real photos,
 * the mean absolute difference stays below 2/255 (docs/data.md). */
#define DCT_MARGIN 2
int xfer_decode_jpeg(const uint8_t *buf, size_t len, int min_short_side, xfer_rgb *out,
                     xfer_err *err) {
    struct jpeg_decompress_struct cinfo;
    jpeg_err_mgr jerr;
    memset(&jerr, 0, sizeof jerr);
    /* volatile: modified between setjmp and longjmp */
    uint8_t *volatile px = NULL;
    uint8_t *volatile row = NULL;
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = on_error_exit;
    jerr.pub.emit_message = on_emit_message;
    jerr.pub.output_message = on_output_message;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(px);
        free(row);
        return xfer_fail(err, XFER_EINPUT, "corrupt JPEG: %s", jerr.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, buf, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    long long npix = (long long)cinfo.image_width * cinfo.image_height;
    if (npix > XFER_IMAGE_MAX_PIXELS) {
        int w = (int)cinfo.image_width, h = (int)cinfo.image_height;
        jpeg_destroy_decompress(&cinfo);
        return xfer_fail(err, XFER_EINPUT, "JPEG header declares %dx%d, more than %lld pixels", w,
                         h, XFER_IMAGE_MAX_PIXELS);
    }
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    int scale = 8;
    if (min_short_side > 0) {
        int s =
            (int)(cinfo.image_width < cinfo.image_height ? cinfo.image_width : cinfo.image_height);
        for (int m = 1; m < 8; m *= 2) {
            /* libjpeg rounds scaled sizes up */
            int scaled = (s * m + 7) / 8;
            if (scaled >= min_short_side * DCT_MARGIN) {
                scale = m;
                break;
            }
        }
    }
    cinfo.scale_num = (unsigned)scale;
    cinfo.scale_denom = 8;
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height;
    int nc = cinfo.output_components;
    px = malloc((size_t)w * h * 3);
    if (cmyk || nc != 3) row = malloc((size_t)w * nc);
    if (!px || ((cmyk || nc != 3) && !row)) {
        jpeg_destroy_decompress(&cinfo);
        free(px);
        free(row);
        return xfer_fail(err, XFER_EINTERNAL, "out of memory decoding a %dx%d JPEG", w, h);
    }
    int adobe = cinfo.saw_Adobe_marker;
    while ((int)cinfo.output_scanline < h) {
        int y = (int)cinfo.output_scanline;
        uint8_t *dst = px + (size_t)y * w * 3;
        JSAMPROW rows[1] = {row ? row : dst};
        jpeg_read_scanlines(&cinfo, rows, 1);
        if (jerr.truncated) break;
        if (!row) continue;
        for (int x = 0; x < w; x++) {
            const uint8_t *s = row + (size_t)x * nc;
            if (cmyk) {
                /* Adobe CMYK JPEGs store inverted values (PIL reads them as "CMYK;I");
                 * then PIL's cmyk2rgb: R = (255-K) - C*(255-K)/255 */
                int c = s[0], m = s[1], yy = s[2], k = s[3];
                if (adobe) c = 255 - c, m = 255 - m, yy = 255 - yy, k = 255 - k;
                int nk = 255 - k;
                dst[3 * x + 0] = (uint8_t)(nk - muldiv255(c, nk));
                dst[3 * x + 1] = (uint8_t)(nk - muldiv255(m, nk));
                dst[3 * x + 2] = (uint8_t)(nk - muldiv255(yy, nk));
            } else {
                dst[3 * x + 0] = dst[3 * x + 1] = dst[3 * x + 2] = s[0];
            }
        }
    }
    if (jerr.truncated) {
        jpeg_destroy_decompress(&cinfo);
        free(px);
        free(row);
        return xfer_fail(err, XFER_EINPUT, "truncated JPEG (premature end of data)");
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    out->px = px;
    out->w = w;
    out->h = h;
    out->dct_scale = scale;
    return XFER_OK;
}
