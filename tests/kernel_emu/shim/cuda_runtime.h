/* Kernel emulator (tests/kernel_emu): what a .cu file sees from nvcc, for g++. Included first in
 * every kernel file (-include, as nvcc does). The kernels are compiled unmodified: the build-time
 * rewrite (tests/kernel_emu/rewrite.py) only turns `k<<<g, b, smem, s>>>(args)` into
 * XEMU_LAUNCH(k, g, b, smem, s)(args) and `__shared__ T x[N];` into a per-block lookup, keeping
 * every line where it was (#line names the .cu file).
 *
 * Semantics (docs/gpu.md, "The kernel emulator"): warps of 32 lanes, threadIdx.x fastest;
 * __shfl_*_sync only among the calling warp's lanes, the mask checked against the lanes still
 * running; __syncthreads a real barrier that counts exited threads as sm_70+ hardware does and
 * reports a barrier reached after some threads returned or from different call sites; __shared__
 * memory per block, filled with 0xff bytes (NaN) before the block starts; the _rn intrinsics are
 * single IEEE operations (the files are compiled with -ffp-contract=off). */
#ifndef XEMU_CUDA_RUNTIME_H
#define XEMU_CUDA_RUNTIME_H

#ifndef __cplusplus
#error "the kernel emulator's cuda_runtime.h is for the .cu files (C++)"
#endif

/* the C headers a kernel file may include, included here outside the namespace the rewrite puts
 * the file in (their include guards make the file's own #include a no-op) */
#include <assert.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmath>
#include <tuple>
#include <type_traits>
#include <utility>

#include "cuda_bf16.h"
#include "cuda_runtime_api.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
#define __constant__
/* a __shared__ the rewrite did not recognise must not compile into something silently wrong */
#define __shared__ __shared___declaration_not_rewritten_by_tests_kernel_emu_rewrite_py

struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
    constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};

namespace xemu {

/* what a running CUDA thread sees (set by the runtime before the thread runs or resumes) */
struct view {
    uint3 thread, block;
    dim3 bdim, gdim;
};
/* the calling CUDA thread's view (a function, not an extern thread_local: a fiber switch must
 * never be hidden behind a cached TLS address) */
const view *current(void);

[[noreturn]] void report(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

enum op_kind { OP_SHFL = 0, OP_SHFL_UP, OP_SHFL_DOWN, OP_SHFL_XOR, OP_SYNCWARP, OP_BALLOT };
/* One warp-collective operation of the calling lane: every lane of mask (which must contain the
 * caller and only running lanes of its warp) takes part; returns the value of the source lane
 * (the caller's own where the source lies outside its width segment). */
uint64_t warp_op(const char *file, int line, op_kind k, unsigned mask, uint64_t v, int arg,
                 int width, const char *what);
void syncthreads(const char *file, int line);
struct shared_tag {
    int unused;
};
void *shared_block(const shared_tag *tag, size_t bytes, size_t align, const char *name);
void *dynamic_shared(void);

struct launch_cfg {
    const char *kernel, *file;
    int line;
    dim3 grid, block;
    size_t smem;
    cudaStream_t stream;
};
cudaError_t launch(const launch_cfg &c, void (*body)(void *), void *arg);

template <class T> inline uint64_t to_bits(T v) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffle of this type");
    uint64_t u = 0;
    memcpy(&u, &v, sizeof v);
    return u;
}
template <class T> inline T from_bits(uint64_t u) {
    T v;
    memcpy(&v, &u, sizeof v);
    return v;
}

template <class... P> struct launcher {
    launch_cfg cfg;
    void (*kernel)(P...);
    template <class... A> cudaError_t operator()(A &&...a) const {
        static_assert(sizeof...(A) == sizeof...(P), "kernel called with the wrong argument count");
        /* the arguments are converted to the parameter types once, as the launch does */
        struct pack {
            void (*k)(P...);
            std::tuple<typename std::decay<P>::type...> args;
        } p{kernel, std::tuple<typename std::decay<P>::type...>(std::forward<A>(a)...)};
        return launch(
            cfg,
            [](void *q) { std::apply(static_cast<pack *>(q)->k, static_cast<pack *>(q)->args); },
            &p);
    }
};
template <class... P>
launcher<P...> make_launcher(const char *name, const char *file, int line, void (*k)(P...), dim3 g,
                             dim3 b, size_t smem = 0, cudaStream_t s = 0) {
    return launcher<P...>{launch_cfg{name, file, line, g, b, smem, s}, k};
}

} /* namespace xemu */

#define XEMU_LAUNCH(k, ...) ::xemu::make_launcher(#k, __FILE__, __LINE__, k, __VA_ARGS__)

#define threadIdx (::xemu::current()->thread)
#define blockIdx (::xemu::current()->block)
#define blockDim (::xemu::current()->bdim)
#define gridDim (::xemu::current()->gdim)
#define warpSize 32

#define __syncthreads() ::xemu::syncthreads(__FILE__, __LINE__)
#define __syncwarp(...) ::xemu::xemu_syncwarp(__FILE__, __LINE__, ##__VA_ARGS__)
#define __shfl_sync(m, v, ...) ::xemu::shfl(__FILE__, __LINE__, ::xemu::OP_SHFL, m, v, __VA_ARGS__)
#define __shfl_up_sync(m, v, ...)                                                                  \
    ::xemu::shfl(__FILE__, __LINE__, ::xemu::OP_SHFL_UP, m, v, __VA_ARGS__)
#define __shfl_down_sync(m, v, ...)                                                                \
    ::xemu::shfl(__FILE__, __LINE__, ::xemu::OP_SHFL_DOWN, m, v, __VA_ARGS__)
#define __shfl_xor_sync(m, v, ...)                                                                 \
    ::xemu::shfl(__FILE__, __LINE__, ::xemu::OP_SHFL_XOR, m, v, __VA_ARGS__)
#define __ballot_sync(m, p) ::xemu::ballot(__FILE__, __LINE__, m, p)
#define __any_sync(m, p) (::xemu::ballot(__FILE__, __LINE__, m, p) != 0u)
#define __all_sync(m, p) (::xemu::ballot(__FILE__, __LINE__, m, p) == (unsigned)(m))

namespace xemu {
inline void xemu_syncwarp(const char *file, int line, unsigned mask = 0xffffffffu) {
    warp_op(file, line, OP_SYNCWARP, mask, 0, 0, 32, "__syncwarp");
}
template <class T>
inline T shfl(const char *file, int line, op_kind k, unsigned mask, T v, int arg, int width = 32) {
    static const char *names[] = {"__shfl_sync", "__shfl_up_sync", "__shfl_down_sync",
                                  "__shfl_xor_sync"};
    return from_bits<T>(warp_op(file, line, k, mask, to_bits(v), arg, width, names[k]));
}
inline unsigned ballot(const char *file, int line, unsigned mask, int pred) {
    return (unsigned)warp_op(file, line, OP_BALLOT, mask, pred != 0, 0, 32, "__ballot_sync");
}
} /* namespace xemu */

/* ---- arithmetic intrinsics: one IEEE operation each, round to nearest even (the host's mode) ---
 */
static inline float __fadd_rn(float a, float b) {
    return a + b;
}
static inline float __fsub_rn(float a, float b) {
    return a - b;
}
static inline float __fmul_rn(float a, float b) {
    return a * b;
}
static inline float __fdiv_rn(float a, float b) {
    return a / b;
}
static inline float __frcp_rn(float a) {
    return 1.0f / a;
}
static inline float __fsqrt_rn(float a) {
    return sqrtf(a);
}
static inline float __fmaf_rn(float a, float b, float c) {
    return fmaf(a, b, c);
}
static inline double __dadd_rn(double a, double b) {
    return a + b;
}
static inline double __dsub_rn(double a, double b) {
    return a - b;
}
static inline double __dmul_rn(double a, double b) {
    return a * b;
}
static inline double __ddiv_rn(double a, double b) {
    return a / b;
}
static inline double __fma_rn(double a, double b, double c) {
    return fma(a, b, c);
}
static inline float __int_as_float(int v) {
    return ::xemu::from_bits<float>((uint32_t)v);
}
static inline int __float_as_int(float v) {
    return (int)(uint32_t)::xemu::to_bits(v);
}
static inline long long __double_as_longlong(double v) {
    return (long long)::xemu::to_bits(v);
}
static inline double __longlong_as_double(long long v) {
    return ::xemu::from_bits<double>(v);
}

#endif
