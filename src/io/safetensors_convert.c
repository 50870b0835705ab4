/* Tensor element conversions: every stored dtype to float32 (F16 and BF16 exactly, F64 rounded to
 * nearest) and the integer dtypes to int64. Bytes are little-endian per the format and may be
 * unaligned in the mapping, so elements are assembled byte by byte. */
#include "xfer/safetensors.h"

#include <limits.h>
#include <math.h>
#include <string.h>

static uint64_t le(const unsigned char *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;)
        v = (v << 8) | p[i];
    return v;
}

static float f32_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static double f64_bits(uint64_t u) {
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* IEEE binary16 -> binary32; every half value (subnormals, Inf, NaN) is representable. */
static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0x1f) return f32_bits(sign | 0x7f800000u | (mant << 13));
    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24, exact in float */
        float v = (float)mant * 0x1p-24f;
        return sign ? -v : v;
    }
    return f32_bits(sign | ((exp + 112u) << 23) | (mant << 13));
}

/* Round-to-nearest double -> float without the undefined out-of-range cast: values at or beyond
 * the midpoint between FLT_MAX and 2^128 round to infinity, as IEEE 754 does. */
static float double_to_float(double d) {
    if (isfinite(d) && fabs(d) >= 0x1.ffffffp127) return d > 0 ? INFINITY : -INFINITY;
    return (float)d;
}

static float elem_f32(xfer_dtype dt, const unsigned char *p) {
    switch (dt) {
    case XFER_DT_F32:
        return f32_bits((uint32_t)le(p, 4));
    case XFER_DT_F16:
        return half_to_float((uint16_t)le(p, 2));
    case XFER_DT_BF16:
        return f32_bits((uint32_t)le(p, 2) << 16);
    case XFER_DT_F64:
        return double_to_float(f64_bits(le(p, 8)));
    case XFER_DT_I64:
        return (float)(int64_t)le(p, 8);
    case XFER_DT_I32:
        return (float)(int32_t)(uint32_t)le(p, 4);
    case XFER_DT_U8:
        return (float)p[0];
    case XFER_DT_BOOL:
        return p[0] ? 1.0f : 0.0f;
    }
    return NAN;
}

static int check_n(const xfer_safetensors *st, const xfer_st_tensor *t, size_t n, xfer_err *err) {
    if ((uint64_t)n != (uint64_t)t->numel)
        return xfer_fail(err, XFER_EINTERNAL, "%s: tensor '%s': reading %zu values, it has %lld",
                         st->path, t->name, n, (long long)t->numel);
    return XFER_OK;
}

int xfer_st_read_f32(const xfer_safetensors *st, const xfer_st_tensor *t, float *out, size_t n,
                     xfer_err *err) {
    int rc = check_n(st, t, n, err);
    if (rc) return rc;
    const unsigned char *p = xfer_st_data(st, t);
    size_t sz = xfer_dtype_size(t->dtype);
    if (t->dtype == XFER_DT_F32) {
        if (n > 0)
            memcpy(out, p, n * sizeof *out); /* little-endian host assumed (x86-64, aarch64) */
        return XFER_OK;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = elem_f32(t->dtype, p + i * sz);
    return XFER_OK;
}

int xfer_st_read_i64(const xfer_safetensors *st, const xfer_st_tensor *t, int64_t *out, size_t n,
                     xfer_err *err) {
    int rc = check_n(st, t, n, err);
    if (rc) return rc;
    const unsigned char *p = xfer_st_data(st, t);
    for (size_t i = 0; i < n; i++) {
        switch (t->dtype) {
        case XFER_DT_I64:
            out[i] = (int64_t)le(p + 8 * i, 8);
            break;
        case XFER_DT_I32:
            out[i] = (int32_t)(uint32_t)le(p + 4 * i, 4);
            break;
        case XFER_DT_U8:
        case XFER_DT_BOOL:
            out[i] = p[i];
            break;
        default:
            return xfer_fail(err, XFER_EINPUT,
                             "%s: tensor '%s' is %s, expected an integer tensor (I64/I32/U8)",
                             st->path, t->name, xfer_dtype_name(t->dtype));
        }
    }
    return XFER_OK;
}

int xfer_st_count_nonfinite(const xfer_safetensors *st, const xfer_st_tensor *t) {
    switch (t->dtype) {
    case XFER_DT_F32:
    case XFER_DT_F16:
    case XFER_DT_BF16:
    case XFER_DT_F64:
        break;
    default:
        return 0;
    }
    const unsigned char *p = xfer_st_data(st, t);
    size_t sz = xfer_dtype_size(t->dtype);
    int64_t bad = 0;
    for (int64_t i = 0; i < t->numel; i++) {
        const unsigned char *q = p + (size_t)i * sz;
        /* F64 is tested in double: a finite double that overflows float is still a finite weight */
        int fin = t->dtype == XFER_DT_F64 ? isfinite(f64_bits(le(q, 8)))
                                          : isfinite(elem_f32(t->dtype, q));
        bad += !fin;
    }
    return bad > INT_MAX ? INT_MAX : (int)bad;
}
