/* Bilinear resampling with antialiasing, PIL's algorithm (Pillow's Resample.c, described in
 * docs/data.md): for output pixel i of an axis resampling the source interval [b0, b1) to n pixels,
 * scale = (b1 - b0) / n, centre = b0 + (i + 0.5) * scale, the triangle filter is widened by
 * max(scale, 1) (antialiasing when shrinking), taps are normalised to sum 1 and converted to fixed
 * point with 22 fractional bits. Horizontal pass first into uint8 rows, then vertical. Only the
 * requested output window is computed, which gives the same pixels as resizing fully and cropping
 * (each output pixel depends only on its own taps). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xfer/image.h"

#define PRECISION_BITS 22 /* Pillow's 8-bit path: 32 - 8 - 2 */

typedef struct {
    int *first, *count; /* per output pixel: first source index, number of taps */
    int32_t *k;         /* [n * ksize] fixed-point taps */
    int ksize;
} taps;

static double triangle(double x) {
    if (x < 0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

static void taps_free(taps *t) {
    free(t->first);
    free(t->count);
    free(t->k);
}

/* Taps for output pixels [o0, o0+on) of an axis of out_size resampling [b0, b1) of in_size. */
static int taps_make(int in_size, double b0, double b1, int out_size, int o0, int on, taps *t) {
    double scale = (b1 - b0) / out_size;
    double fscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * fscale;
    int ksize = (int)ceil(support) * 2 + 1;
    t->ksize = ksize;
    t->first = malloc((size_t)on * sizeof(int));
    t->count = malloc((size_t)on * sizeof(int));
    t->k = calloc((size_t)on * ksize, sizeof(int32_t));
    double *w = malloc((size_t)ksize * sizeof(double));
    if (!t->first || !t->count || !t->k || !w) {
        free(w);
        taps_free(t);
        return -1;
    }
    for (int i = 0; i < on; i++) {
        double center = b0 + (o0 + i + 0.5) * scale;
        double ss = 1.0 / fscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        if (xmax > ksize) xmax = ksize;
        if (xmax < 0) xmax = 0;
        double ww = 0;
        for (int x = 0; x < xmax; x++) {
            w[x] = triangle((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        int32_t *k = t->k + (size_t)i * ksize;
        for (int x = 0; x < xmax; x++) {
            double v = ww != 0.0 ? w[x] / ww : w[x];
            k[x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PRECISION_BITS))
                         : (int32_t)(0.5 + v * (1 << PRECISION_BITS));
        }
        t->first[i] = xmin;
        t->count[i] = xmax;
    }
    free(w);
    return 0;
}

static inline uint8_t clip8(int32_t v) {
    if (v <= 0) return 0;
    if (v >= (255 << PRECISION_BITS)) return 255;
    return (uint8_t)(v >> PRECISION_BITS);
}

int xfer_resample_rgb(const uint8_t *src, int sw, int sh, double x0, double y0, double x1,
                      double y1, int ow, int oh, int cx, int cy, int cw, int ch, uint8_t *dst) {
    taps th, tv;
    if (taps_make(sw, x0, x1, ow, cx, cw, &th) != 0) return XFER_EINTERNAL;
    if (taps_make(sh, y0, y1, oh, cy, ch, &tv) != 0) {
        taps_free(&th);
        return XFER_EINTERNAL;
    }
    int r0 = tv.first[0];
    int r1 = tv.first[ch - 1] + tv.count[ch - 1];
    for (int i = 0; i < ch; i++) {
        if (tv.first[i] < r0) r0 = tv.first[i];
        if (tv.first[i] + tv.count[i] > r1) r1 = tv.first[i] + tv.count[i];
    }
    int nrows = r1 - r0;
    uint8_t *tmp = malloc((size_t)(nrows > 0 ? nrows : 1) * cw * 3);
    if (!tmp) {
        taps_free(&th);
        taps_free(&tv);
        return XFER_EINTERNAL;
    }
    const int32_t half = 1 << (PRECISION_BITS - 1);
    for (int y = 0; y < nrows; y++) {
        const uint8_t *in = src + (size_t)(r0 + y) * sw * 3;
        uint8_t *o = tmp + (size_t)y * cw * 3;
        for (int x = 0; x < cw; x++) {
            const int32_t *k = th.k + (size_t)x * th.ksize;
            const uint8_t *p = in + (size_t)th.first[x] * 3;
            int32_t s0 = half, s1 = half, s2 = half;
            for (int j = 0; j < th.count[x]; j++) {
                s0 += p[3 * j + 0] * k[j];
                s1 += p[3 * j + 1] * k[j];
                s2 += p[3 * j + 2] * k[j];
            }
            o[3 * x + 0] = clip8(s0);
            o[3 * x + 1] = clip8(s1);
            o[3 * x + 2] = clip8(s2);
        }
    }
    size_t stride = (size_t)cw * 3;
    int32_t *acc = malloc(stride * sizeof(int32_t));
    if (!acc) {
        free(tmp);
        taps_free(&th);
        taps_free(&tv);
        return XFER_EINTERNAL;
    }
    /* vertical pass row by row: acc += tap * source row, a loop the compiler vectorizes */
    for (int y = 0; y < ch; y++) {
        const int32_t *k = tv.k + (size_t)y * tv.ksize;
        const uint8_t *base = tmp + (size_t)(tv.first[y] - r0) * stride;
        uint8_t *o = dst + (size_t)y * stride;
        for (size_t x = 0; x < stride; x++)
            acc[x] = half;
        for (int j = 0; j < tv.count[y]; j++) {
            const uint8_t *row = base + (size_t)j * stride;
            int32_t kj = k[j];
            for (size_t x = 0; x < stride; x++)
                acc[x] += row[x] * kj;
        }
        for (size_t x = 0; x < stride; x++)
            o[x] = clip8(acc[x]);
    }
    free(acc);
    free(tmp);
    taps_free(&th);
    taps_free(&tv);
    return XFER_OK;
}

int xfer_image_square(const xfer_rgb *img, int size, uint8_t *dst) {
    int w = img->w, h = img->h;
    int nw, nh;
    /* torchvision Resize(size): the shorter side becomes size, the longer int(size*long/short) */
    if (w <= h) {
        nw = size;
        nh = (int)((long long)size * h / w);
    } else {
        nh = size;
        nw = (int)((long long)size * w / h);
    }
    /* torchvision CenterCrop: offset int(round((n - size) / 2)), Python rounds half to even */
    int cx = (int)nearbyint((nw - size) / 2.0);
    int cy = (int)nearbyint((nh - size) / 2.0);
    return xfer_resample_rgb(img->px, w, h, 0, 0, w, h, nw, nh, cx, cy, size, size, dst);
}
