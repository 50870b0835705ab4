/* Private state of the CUDA backend and the checking macros every CUDA, cuDNN and cuBLAS call goes
 * through. A failing call records the first error (file:line, the call, the library's message)
 * in the context; check()/sync()/download() report it. */
#ifndef XFER_CUDA_INTERNAL_H
#define XFER_CUDA_INTERNAL_H

#include <stddef.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "xfer/backend.h"
#include "xfer/config.h"

typedef enum { CONV_FWD = 0, CONV_BWD_DATA, CONV_BWD_FILTER } conv_kind;

typedef struct {
    int device;
    char name[256];
    cudaStream_t stream;
    cudnnHandle_t cudnn;
    cublasHandle_t cublas;
    xfer_precision prec;
    int sync_each;    /* XFER_CUDA_SYNC=1 */
    int use_find;     /* XFER_CUDNN_FIND=1: timed cudnnFind instead of the _v7 heuristics */
    int allow_nondet; /* XFER_CUDNN_NONDETERMINISTIC=1: non-deterministic algorithms allowed */
    int batch_hint;
    xfer_err pending;
    /* grow-only scratch buffers */
    void *ws;
    size_t ws_bytes; /* cuDNN workspace */
    double *red;
    size_t red_doubles; /* reduction partials */
    void *lo;
    size_t lo_bytes;  /* bf16 copies of conv operands */
    void *conv_plans; /* conv_cudnn.c: descriptors and algorithms per shape and precision */
    void *blas_ws;    /* cuBLAS workspace set once (cublasSetWorkspace): nothing to allocate in a
                         captured graph */
    void *stage;      /* stage_cuda.c: the pinned ring for small host-to-device copies */
    /* CUDA graphs (graph_cuda.c) */
    unsigned long scratch_gen; /* bumped whenever a grow-only scratch buffer is replaced */
    int capturing;             /* between capture_begin and capture_end */
} cuda_ctx;

static inline cuda_ctx *xfer_cuda_ctx(xfer_backend *b) {
    return (cuda_ctx *)b->ctx;
}

/* Each returns 0 when e is success, else -1 after recording the failure (the first one wins). */
int xfer_cuda_rt_fail(xfer_backend *b, cudaError_t e, const char *call, const char *file, int line);
int xfer_cuda_dnn_fail(xfer_backend *b, cudnnStatus_t e, const char *call, const char *file,
                       int line);
int xfer_cuda_blas_fail(xfer_backend *b, cublasStatus_t e, const char *call, const char *file,
                        int line);
/* After a kernel launcher: records a launch failure; synchronises with XFER_CUDA_SYNC=1. */
int xfer_cuda_launched(xfer_backend *b, cudaError_t e, const char *call, const char *file,
                       int line);
void xfer_cuda_record(xfer_backend *b, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define CU_RT(b, call) xfer_cuda_rt_fail((b), (call), #call, __FILE__, __LINE__)
#define CU_DNN(b, call) xfer_cuda_dnn_fail((b), (call), #call, __FILE__, __LINE__)
#define CU_BLAS(b, call) xfer_cuda_blas_fail((b), (call), #call, __FILE__, __LINE__)
#define CU_LAUNCH(b, call) xfer_cuda_launched((b), (call), #call, __FILE__, __LINE__)

/* Grow-only scratch: NULL (failure recorded) when it cannot be had. */
void *xfer_cuda_workspace(xfer_backend *b, size_t bytes);
double *xfer_cuda_reduce_scratch(xfer_backend *b, size_t doubles);
void *xfer_cuda_lowp_scratch(xfer_backend *b, size_t bytes);
/* Device allocation with the out-of-memory message; NULL and err filled on failure. */
void *xfer_cuda_malloc(xfer_backend *b, size_t bytes, const char *what, xfer_err *err);

/* stage_cuda.c: a host-to-device copy of bytes <= XFER_CUDA_STAGE_LIMIT through a ring of pinned
 * slots (src may be reused at once; no host wait unless XFER_CUDA_STAGE_SLOTS_MAX copies are
 * still in flight); larger copies, copies during a graph capture and a failed pinned allocation
 * go from src directly. Returns 0, or -1 with the failure recorded. */
#define XFER_CUDA_STAGE_LIMIT ((size_t)1 << 20)
#define XFER_CUDA_STAGE_SLOTS_MAX 64
typedef struct {
    unsigned long staged;   /* copies through a slot */
    unsigned long direct;   /* copies that took the pageable path */
    unsigned long waits;    /* host waits: every slot in flight */
    unsigned long reallocs; /* slots reallocated for a larger copy */
    int slots;              /* slots allocated */
} xfer_cuda_stage_stats;
int xfer_cuda_upload_staged(xfer_backend *b, void *dst, const void *src, size_t bytes);
void xfer_cuda_stage_stats_get(xfer_backend *b, xfer_cuda_stage_stats *out);
void xfer_cuda_stage_destroy(xfer_backend *b); /* after the stream is idle */

/* memory_cuda.c: check, sync, set_threads, alloc, free, upload, download, memset0, copy */
void xfer_cuda_install_memory(xfer_backend *b);

/* ops in their files */
void xfer_cuda_conv_destroy(xfer_backend *b);
void xfer_cuda_install_conv(xfer_backend *b);
void xfer_cuda_install_linear(xfer_backend *b);
void xfer_cuda_install_ops(xfer_backend *b);
void xfer_cuda_install_archs_ops(xfer_backend *b); /* ops_archs_cuda.c */
int xfer_cuda_apply_precision(xfer_backend *b);
/* Installs capture_begin/end and graph_* unless XFER_CUDA_GRAPHS=0 or XFER_CUDA_SYNC=1. */
void xfer_cuda_install_graphs(xfer_backend *b);

#endif
