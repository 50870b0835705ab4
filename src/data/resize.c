/* Bilinear resampling with antialiasing, PIL's algorithm (Pillow's Resample.c, described in
 * docs/data.md): for output pixel i of an axis resampling the source interval [b0, b1) to n pixels,
 * scale = (b1 - b0) / n, centre = b0 + (i + 0.5) * scale, the triangle filter is widened by
 * max(scale, 1) (antialiasing when shrinking), taps are normalised to sum 1 and converted to fixed
 * point with 22 fractional bits. Horizontal pass first into uint8 rows, then vertical. Only the
 * requested output window is computed, which gives the same pixels as resizing fully and cropping
 * (each output pixel depends only on its own taps).
 *
 * Speed (docs/perf.md "Decoding"): the integer arithmetic is PIL's, bit for bit, but every output
 * pixel of an axis gets the same number of taps K (shorter tap lists are shifted inside the image
 * and padded with zero coefficients, which add exactly nothing), so the inner loops have a
 * compile-time trip count for the common K. The horizontal pass handles the three interleaved
 * channels of a pixel as one 4-lane integer vector; the vertical pass is a plain loop over the
 * row that the compiler vectorises. Both are built for AVX2 and SSE4.1 besides the x86-64
 * baseline and picked at run time (target_clones). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xfer/image.h"

#define PRECISION_BITS 22 /* Pillow's 8-bit path: 32 - 8 - 2 */

/* not under ThreadSanitizer: the ifunc resolvers run before its runtime is up */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) &&       \
    !defined(__SANITIZE_THREAD__)
#define XFER_CLONES __attribute__((target_clones("avx2", "sse4.1", "default")))
#else
#define XFER_CLONES
#endif
#define XFER_INLINE static inline __attribute__((always_inline))

#if defined(__x86_64__) && defined(__GNUC__)
#define XFER_X86_SIMD 1
#include <immintrin.h>
#else
#define XFER_X86_SIMD 0
#endif

typedef struct {
    int *first; /* per output pixel: first source index (first + K <= in_size) */
    int32_t *k; /* [n * K] fixed-point taps, zero-padded */
    int K;
} taps;

static double triangle(double x) {
    if (x < 0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

static void taps_free(taps *t) {
    free(t->first);
    free(t->k);
}

/* Taps for output pixels [o0, o0+on) of an axis of out_size resampling [b0, b1) of in_size. */
static int taps_make(int in_size, double b0, double b1, int out_size, int o0, int on, taps *t) {
    double scale = (b1 - b0) / out_size;
    double fscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * fscale;
    int ksize = (int)ceil(support) * 2 + 1;
    int K = ksize < in_size ? ksize : in_size;
    t->K = K;
    t->first = malloc((size_t)on * sizeof(int));
    t->k = calloc((size_t)on * K, sizeof(int32_t));
    double *w = malloc((size_t)ksize * sizeof(double));
    if (!t->first || !t->k || !w) {
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
        /* xmax <= K: move the window inside the image and pad it with zero taps */
        int first = xmin + K > in_size ? in_size - K : xmin;
        int32_t *k = t->k + (size_t)i * K + (xmin - first);
        for (int x = 0; x < xmax; x++) {
            double v = ww != 0.0 ? w[x] / ww : w[x];
            k[x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PRECISION_BITS))
                         : (int32_t)(0.5 + v * (1 << PRECISION_BITS));
        }
        t->first[i] = first;
    }
    free(w);
    return 0;
}

static inline uint8_t clip8(int32_t v) {
    if (v <= 0) return 0;
    if (v >= (255 << PRECISION_BITS)) return 255;
    return (uint8_t)(v >> PRECISION_BITS);
}

/* One output pixel of the horizontal pass, scalar (used where a 4-byte load would leave the
 * source row). */
static void hpixel_scalar(const uint8_t *p, const int32_t *k, int K, uint8_t *o) {
    const int32_t half = 1 << (PRECISION_BITS - 1);
    int32_t s0 = half, s1 = half, s2 = half;
    for (int j = 0; j < K; j++) {
        s0 += p[3 * j + 0] * k[j];
        s1 += p[3 * j + 1] * k[j];
        s2 += p[3 * j + 2] * k[j];
    }
    o[0] = clip8(s0);
    o[1] = clip8(s1);
    o[2] = clip8(s2);
}

/* Horizontal pass over one row, portable: three channels per tap in scalar registers. */
XFER_INLINE void hrow_k(const uint8_t *in, const int *first, const int32_t *kk, int K, int cw,
                        uint8_t *o) {
    for (int x = 0; x < cw; x++)
        hpixel_scalar(in + (size_t)first[x] * 3, kk + (size_t)x * K, K, o + 3 * x);
}

static void hpass_generic(const uint8_t *src, int sw, int r0, int nrows, const taps *th, int cw,
                          uint8_t *tmp) {
    for (int y = 0; y < nrows; y++) {
        const uint8_t *in = src + (size_t)(r0 + y) * sw * 3;
        uint8_t *o = tmp + (size_t)y * cw * 3;
        switch (th->K) { /* constant K: the tap loop unrolls */
        case 3:
            hrow_k(in, th->first, th->k, 3, cw, o);
            break;
        default:
            hrow_k(in, th->first, th->k, th->K, cw, o);
            break;
        }
    }
}

#if XFER_X86_SIMD
/* SSE4.1: R, G, B (and one ignored byte) of a tap as one 4 x int32 vector, PIL's arithmetic. The
 * 4-byte loads and stores stay inside the row except at its right end (scalar there); tmp rows are
 * written left to right, so the spare byte a store writes is overwritten by the next pixel. */
__attribute__((target("sse4.1"))) static inline __attribute__((always_inline)) void
hrow_sse41_k(const uint8_t *in, int sw, const int *first, const int32_t *kk, int K, int cw,
             uint8_t *o) {
    const __m128i half = _mm_set1_epi32(1 << (PRECISION_BITS - 1));
    for (int x = 0; x < cw; x++) {
        const uint8_t *p = in + (size_t)first[x] * 3;
        const int32_t *k = kk + (size_t)x * K;
        if (first[x] + K >= sw || x == cw - 1) {
            hpixel_scalar(p, k, K, o + 3 * x);
            continue;
        }
        __m128i s = half;
        for (int j = 0; j < K; j++) {
            int32_t v;
            memcpy(&v, p + 3 * j, 4);
            __m128i px = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(v));
            s = _mm_add_epi32(s, _mm_mullo_epi32(px, _mm_set1_epi32(k[j])));
        }
        s = _mm_srai_epi32(s, PRECISION_BITS);
        s = _mm_packus_epi16(_mm_packs_epi32(s, s), s); /* saturates to 0..255 like clip8 */
        int32_t v = _mm_cvtsi128_si32(s);
        memcpy(o + 3 * x, &v, 4);
    }
}

__attribute__((target("sse4.1"))) static void
hpass_sse41(const uint8_t *src, int sw, int r0, int nrows, const taps *th, int cw, uint8_t *tmp) {
    for (int y = 0; y < nrows; y++) {
        const uint8_t *in = src + (size_t)(r0 + y) * sw * 3;
        uint8_t *o = tmp + (size_t)y * cw * 3;
        switch (th->K) { /* constant K: the tap loop unrolls */
        case 2:
            hrow_sse41_k(in, sw, th->first, th->k, 2, cw, o);
            break;
        case 3:
            hrow_sse41_k(in, sw, th->first, th->k, 3, cw, o);
            break;
        case 5:
            hrow_sse41_k(in, sw, th->first, th->k, 5, cw, o);
            break;
        case 7:
            hrow_sse41_k(in, sw, th->first, th->k, 7, cw, o);
            break;
        default:
            hrow_sse41_k(in, sw, th->first, th->k, th->K, cw, o);
            break;
        }
    }
}
#endif

static void hpass(const uint8_t *src, int sw, int r0, int nrows, const taps *th, int cw,
                  uint8_t *tmp) {
#if XFER_X86_SIMD
    if (__builtin_cpu_supports("sse4.1")) {
        hpass_sse41(src, sw, r0, nrows, th, cw, tmp);
        return;
    }
#endif
    hpass_generic(src, sw, r0, nrows, th, cw, tmp);
}

/* One output row of the vertical pass: o[x] = clip(sum_j rows[j][x] * k[j]). */
XFER_INLINE void vrow_k(const uint8_t *base, size_t stride, const int32_t *k, int K, size_t n,
                        uint8_t *o) {
    const int32_t half = 1 << (PRECISION_BITS - 1);
    for (size_t x = 0; x < n; x++) {
        int32_t s = half;
        for (int j = 0; j < K; j++)
            s += base[(size_t)j * stride + x] * k[j];
        s >>= PRECISION_BITS;
        s = s < 0 ? 0 : s;
        o[x] = (uint8_t)(s > 255 ? 255 : s);
    }
}

XFER_CLONES static void vpass(const uint8_t *tmp, int r0, const taps *tv, int ch, size_t stride,
                              uint8_t *dst) {
    for (int y = 0; y < ch; y++) {
        const int32_t *k = tv->k + (size_t)y * tv->K;
        const uint8_t *base = tmp + (size_t)(tv->first[y] - r0) * stride;
        uint8_t *o = dst + (size_t)y * stride;
        switch (tv->K) {
        case 2:
            vrow_k(base, stride, k, 2, stride, o);
            break;
        case 3:
            vrow_k(base, stride, k, 3, stride, o);
            break;
        case 5:
            vrow_k(base, stride, k, 5, stride, o);
            break;
        case 7:
            vrow_k(base, stride, k, 7, stride, o);
            break;
        default:
            vrow_k(base, stride, k, tv->K, stride, o);
            break;
        }
    }
}

int xfer_resample_rgb(const uint8_t *src, int sw, int sh, double x0, double y0, double x1,
                      double y1, int ow, int oh, int cx, int cy, int cw, int ch, uint8_t *dst) {
    taps th, tv;
    if (taps_make(sw, x0, x1, ow, cx, cw, &th) != 0) return XFER_EINTERNAL;
    if (taps_make(sh, y0, y1, oh, cy, ch, &tv) != 0) {
        taps_free(&th);
        return XFER_EINTERNAL;
    }
    int r0 = tv.first[0], r1 = tv.first[0] + tv.K;
    for (int i = 0; i < ch; i++) {
        if (tv.first[i] < r0) r0 = tv.first[i];
        if (tv.first[i] + tv.K > r1) r1 = tv.first[i] + tv.K;
    }
    int nrows = r1 - r0;
    size_t stride = (size_t)cw * 3;
    uint8_t *tmp = malloc((size_t)(nrows > 0 ? nrows : 1) * stride);
    if (!tmp) {
        taps_free(&th);
        taps_free(&tv);
        return XFER_EINTERNAL;
    }
    hpass(src, sw, r0, nrows, &th, cw, tmp);
    vpass(tmp, r0, &tv, ch, stride, dst);
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
