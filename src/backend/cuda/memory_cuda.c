/* The CUDA backend's error recording, device memory, grow-only scratch buffers and the memory and
 * synchronisation entries of the function table (xfer_cuda_install_memory), and the precision,
 * batch-hint and name entry points of include/xfer/cuda_backend.h. Apart from the
 * library status strings it uses only the CUDA runtime, so the kernel emulator
 * (tests/kernel_emu) compiles it unchanged and its tests drive these paths too. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_internal.h"
#include "xfer/cuda_backend.h"

void xfer_cuda_record(xfer_backend *b, int code, const char *fmt, ...) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    if (c->pending.code != XFER_OK) return; /* the first failure is the one that matters */
    char msg[XFER_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    xfer_fail(&c->pending, code, "%s", msg);
}

int xfer_cuda_rt_fail(xfer_backend *b, cudaError_t e, const char *call, const char *file,
                      int line) {
    if (e == cudaSuccess) return 0;
    /* the failed call also set the runtime's last error; a non-sticky one would otherwise be
     * returned again by the next launch wrapper's cudaGetLastError() as a second, false launch
     * failure (after check() has reported and cleared this one). Sticky errors stay regardless. */
    cudaGetLastError();
    xfer_cuda_record(b, XFER_EINTERNAL, "%s:%d: %s failed: %s (%s)", file, line, call,
                     cudaGetErrorString(e), cudaGetErrorName(e));
    return -1;
}

int xfer_cuda_dnn_fail(xfer_backend *b, cudnnStatus_t e, const char *call, const char *file,
                       int line) {
    if (e == CUDNN_STATUS_SUCCESS) return 0;
    char detail[512] = "";
    cudnnGetLastErrorString(detail, sizeof detail);
    xfer_cuda_record(b, XFER_EINTERNAL, "%s:%d: %s failed: %s%s%s", file, line, call,
                     cudnnGetErrorString(e), detail[0] ? ": " : "", detail);
    return -1;
}

int xfer_cuda_blas_fail(xfer_backend *b, cublasStatus_t e, const char *call, const char *file,
                        int line) {
    if (e == CUBLAS_STATUS_SUCCESS) return 0;
    xfer_cuda_record(b, XFER_EINTERNAL, "%s:%d: %s failed: %s (%s)", file, line, call,
                     cublasGetStatusString(e), cublasGetStatusName(e));
    return -1;
}

int xfer_cuda_launched(xfer_backend *b, cudaError_t e, const char *call, const char *file,
                       int line) {
    if (e != cudaSuccess) {
        xfer_cuda_record(b, XFER_EINTERNAL, "%s:%d: kernel launch %s failed: %s", file, line, call,
                         cudaGetErrorString(e));
        return -1;
    }
    cuda_ctx *c = xfer_cuda_ctx(b);
    if (c->sync_each) {
        e = cudaStreamSynchronize(c->stream);
        if (e != cudaSuccess) {
            cudaGetLastError();
            xfer_cuda_record(b, XFER_EINTERNAL, "%s:%d: kernel %s failed (XFER_CUDA_SYNC=1): %s",
                             file, line, call, cudaGetErrorString(e));
            return -1;
        }
    }
    return 0;
}

/* ---- memory ----------------------------------------------------------------------------- */
static void oom_message(xfer_backend *b, size_t bytes, const char *what, xfer_err *err) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    size_t fr = 0, tot = 0;
    cudaGetLastError();
    cudaMemGetInfo(&fr, &tot);
    cudaGetLastError();
    char fit[160] = "";
    if (c->batch_hint > 0 && bytes > 0) {
        double per_image = (double)bytes / c->batch_hint;
        long fits = (long)((double)fr / per_image);
        snprintf(fit, sizeof fit,
                 "; at batch %d this buffer needs %.1f MiB per image, so about batch %ld would fit "
                 "it (lower --batch or use precision bf16)",
                 c->batch_hint, per_image / 1048576.0, fits);
    }
    xfer_fail(err, XFER_EINTERNAL,
              "CUDA out of memory on %s: asked %zu bytes (%.1f MiB) for %s; %.1f MiB free of "
              "%.1f MiB%s",
              c->name, bytes, bytes / 1048576.0, what ? what : "a tensor", fr / 1048576.0,
              tot / 1048576.0, fit);
}

void *xfer_cuda_malloc(xfer_backend *b, size_t bytes, const char *what, xfer_err *err) {
    void *p = NULL;
    size_t rounded = (bytes + 255) / 256 * 256;
    cudaError_t e = cudaMalloc(&p, rounded ? rounded : 256);
    if (e == cudaErrorMemoryAllocation) {
        oom_message(b, bytes, what, err);
        return NULL;
    }
    if (e != cudaSuccess) {
        cudaGetLastError();
        xfer_fail(err, XFER_EINTERNAL, "cudaMalloc(%zu bytes for %s) failed: %s", bytes,
                  what ? what : "a tensor", cudaGetErrorString(e));
        return NULL;
    }
    return p;
}

/* Replaces *buf with one of at least `bytes` (grow-only; contents not kept). */
static void *grow(xfer_backend *b, void **buf, size_t *cap, size_t bytes, const char *what) {
    if (bytes <= *cap && *buf) return *buf;
    cuda_ctx *c = xfer_cuda_ctx(b);
    if (c->capturing) { /* no allocation in a graph: capture_end discards the recording */
        xfer_cuda_record(b, XFER_EINTERNAL,
                         "%s would grow from %zu to %zu bytes during CUDA graph capture", what,
                         *cap, bytes);
        return NULL;
    }
    c->scratch_gen++; /* graphs recorded with the old buffer are stale */
    if (*buf) {
        cudaStreamSynchronize(c->stream); /* queued work may still use the old buffer */
        cudaFree(*buf);
    }
    *buf = NULL;
    *cap = 0;
    size_t want = bytes + bytes / 4; /* headroom so slowly growing requests settle */
    xfer_err e;
    xfer_err_clear(&e);
    *buf = xfer_cuda_malloc(b, want, what, &e);
    if (!*buf) {
        xfer_cuda_record(b, e.code, "%s", e.msg);
        return NULL;
    }
    *cap = want;
    return *buf;
}

void *xfer_cuda_workspace(xfer_backend *b, size_t bytes) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    if (bytes == 0) return c->ws;
    return grow(b, &c->ws, &c->ws_bytes, bytes, "the cuDNN workspace");
}

double *xfer_cuda_reduce_scratch(xfer_backend *b, size_t doubles) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    size_t cap = c->red_doubles * sizeof(double);
    void *p = c->red;
    double *r = grow(b, &p, &cap, (doubles ? doubles : 1) * sizeof(double), "reduction scratch");
    c->red = p;
    c->red_doubles = cap / sizeof(double);
    return r;
}

void *xfer_cuda_lowp_scratch(xfer_backend *b, size_t bytes) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    return grow(b, &c->lo, &c->lo_bytes, bytes, "bf16 operand copies");
}

static int cuda_check(xfer_backend *b, xfer_err *err) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    cudaError_t e = cudaPeekAtLastError();
    if (e != cudaSuccess && c->pending.code == XFER_OK) {
        cudaGetLastError();
        xfer_cuda_record(b, XFER_EINTERNAL, "CUDA error: %s", cudaGetErrorString(e));
    }
    if (c->pending.code == XFER_OK) return XFER_OK;
    int code = xfer_fail(err, c->pending.code, "%s", c->pending.msg);
    xfer_err_clear(&c->pending);
    return code;
}

static int cuda_sync(xfer_backend *b, xfer_err *err) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    CU_RT(b, cudaStreamSynchronize(c->stream));
    return cuda_check(b, err);
}

static void cuda_set_threads(xfer_backend *b, int threads) {
    (void)b;
    (void)threads; /* the host side of this backend is single-threaded */
}

static void *cuda_alloc(xfer_backend *b, size_t bytes, const char *what, xfer_err *err) {
    return xfer_cuda_malloc(b, bytes, what, err);
}

static void cuda_free(xfer_backend *b, void *p) {
    if (p) CU_RT(b, cudaFree(p));
}

static void cuda_upload(xfer_backend *b, void *dst, const void *src, size_t bytes) {
    /* small copies (labels, the learning rate) through the pinned ring: src may be reused at
     * once and the host does not wait; large ones from pageable memory, which returns once src
     * has been staged (after a stream synchronisation) */
    xfer_cuda_upload_staged(b, dst, src, bytes);
}

static int cuda_download(xfer_backend *b, void *dst, const void *src, size_t bytes, xfer_err *err) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    if (bytes) CU_RT(b, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream));
    return cuda_sync(b, err);
}

static void cuda_memset0(xfer_backend *b, void *dst, size_t bytes) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    if (bytes) CU_RT(b, cudaMemsetAsync(dst, 0, bytes, c->stream));
}

static void cuda_copy(xfer_backend *b, void *dst, const void *src, size_t bytes) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    if (bytes && dst != src)
        CU_RT(b, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, c->stream));
}

/* ---- public extras (include/xfer/cuda_backend.h) ---------------------------------------- */
static int need_cuda(xfer_backend *b, const char *fn, xfer_err *err) {
    if (b && b->kind == XFER_DEVICE_CUDA && b->ctx) return 0;
    return xfer_fail(err, XFER_EINPUT, "%s: needs the CUDA backend (got %s)", fn,
                     b ? b->name : "none");
}

int xfer_cuda_set_precision(xfer_backend *b, xfer_precision p, xfer_err *err) {
    if (need_cuda(b, "xfer_cuda_set_precision", err)) return XFER_EINPUT;
    if (p != XFER_PREC_FP32 && p != XFER_PREC_TF32 && p != XFER_PREC_BF16)
        return xfer_fail(err, XFER_EINPUT, "precision %d is not fp32, tf32 or bf16", (int)p);
    cuda_ctx *c = xfer_cuda_ctx(b);
    /* a recorded CUDA graph holds the kernels (cuDNN algorithms, bf16 conversions) of the
     * precision it was captured under: a change invalidates every recording (graph_valid) */
    if (c->prec != p) c->scratch_gen++;
    c->prec = p;
    if (xfer_cuda_apply_precision(b)) return b->check(b, err);
    return XFER_OK;
}

void xfer_cuda_set_batch_hint(xfer_backend *b, int batch) {
    if (b && b->kind == XFER_DEVICE_CUDA && b->ctx) xfer_cuda_ctx(b)->batch_hint = batch;
}

const char *xfer_cuda_device_name(const xfer_backend *b) {
    if (b && b->kind == XFER_DEVICE_CUDA && b->ctx) return ((const cuda_ctx *)b->ctx)->name;
    return "";
}

void xfer_cuda_install_memory(xfer_backend *b) {
    b->check = cuda_check;
    b->sync = cuda_sync;
    b->set_threads = cuda_set_threads;
    b->alloc = cuda_alloc;
    b->free = cuda_free;
    b->upload = cuda_upload;
    b->download = cuda_download;
    b->memset0 = cuda_memset0;
    b->copy = cuda_copy;
}
