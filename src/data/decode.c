/* Image file reading and format dispatch by magic bytes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "decode_internal.h"

void xfer_rgb_free(xfer_rgb *img) {
    if (!img) return;
    free(img->px);
    memset(img, 0, sizeof *img);
}

int xfer_image_decode_mem(const uint8_t *buf, size_t len, int min_short_side, xfer_rgb *out,
                          xfer_err *err) {
    memset(out, 0, sizeof *out);
    if (len == 0) return xfer_fail(err, XFER_EINPUT, "empty file (0 bytes)");
    if (len >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF)
        return xfer_decode_jpeg(buf, len, min_short_side, out, err);
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (len >= 8 && memcmp(buf, png_sig, 8) == 0) return xfer_decode_png(buf, len, out, err);
    return xfer_fail(err, XFER_EINPUT, "not a JPEG or PNG image (unknown signature)");
}

int xfer_image_decode_file(const char *path, int min_short_side, xfer_rgb *out, xfer_err *err) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return xfer_fail(err, XFER_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return xfer_fail(err, XFER_EINPUT, "%s: not a regular file", path);
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        fclose(f);
        return xfer_fail(err, XFER_EINTERNAL, "%s: out of memory (%zu bytes)", path, len);
    }
    size_t got = len ? fread(buf, 1, len, f) : 0;
    int read_err = ferror(f);
    fclose(f);
    if (got != len || read_err) {
        free(buf);
        return xfer_fail(err, XFER_EINPUT, "%s: read error", path);
    }
    int rc = xfer_image_decode_mem(buf, len, min_short_side, out, err);
    free(buf);
    if (rc != XFER_OK) xfer_err_prefix(err, "%s: ", path);
    return rc;
}
