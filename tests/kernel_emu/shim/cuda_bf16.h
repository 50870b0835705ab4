/* Kernel emulator: __nv_bfloat16 as cuda_bf16.h defines it for the host (CUDA 13): a 16-bit
 * pattern; float -> bf16 rounds to nearest even on the upper 16 bits, every NaN becomes 0x7fff;
 * bf16 -> float shifts the pattern up. (The device's cvt.rn.bf16.f32 is specified the same way.) */
#ifndef XEMU_CUDA_BF16_H
#define XEMU_CUDA_BF16_H

#include <stdint.h>
#include <string.h>

struct __nv_bfloat16_raw {
    unsigned short x;
};
struct __nv_bfloat16 {
    unsigned short __x;
    __nv_bfloat16() = default;
    __nv_bfloat16(__nv_bfloat16_raw r) : __x(r.x) {}
    operator __nv_bfloat16_raw() const {
        return __nv_bfloat16_raw{__x};
    }
};
typedef __nv_bfloat16 nv_bfloat16;

static inline __nv_bfloat16 __float2bfloat16_rn(float a) {
    uint32_t x;
    memcpy(&x, &a, 4);
    __nv_bfloat16_raw r;
    if ((x & 0x7fffffffu) > 0x7f800000u) {
        r.x = 0x7fffu;
        return r;
    }
    uint32_t remainder = x << 16;
    r.x = (unsigned short)(x >> 16);
    if (remainder > 0x80000000u || (remainder == 0x80000000u && (r.x & 1u))) r.x++;
    return r;
}

static inline float __bfloat162float(__nv_bfloat16 a) {
    uint32_t u = (uint32_t)a.__x << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short v) {
    return __nv_bfloat16_raw{v};
}
static inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) {
    return h.__x;
}

#endif
