/* The CUDA backend: context (device, stream, cuDNN and cuBLAS handles) and the function table.
 * Error recording, memory and scratch buffers live in memory_cuda.c; the ops in conv_cudnn.c,
 * linear_cublas.c and ops_cuda.c (own kernels in kernels/ (*.cu)). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_internal.h"
#include "xfer/cuda_backend.h"
#include "xfer/cuda_info.h"

static void cuda_destroy(xfer_backend *b) {
    if (!b) return;
    cuda_ctx *c = xfer_cuda_ctx(b);
    if (c) {
        if (c->stream) cudaStreamSynchronize(c->stream);
        xfer_cuda_conv_destroy(b);
        xfer_cuda_stage_destroy(b);
        cudaFree(c->ws);
        cudaFree(c->red);
        cudaFree(c->lo);
        cudaFree(c->blas_ws);
        if (c->cublas) cublasDestroy(c->cublas);
        if (c->cudnn) cudnnDestroy(c->cudnn);
        if (c->stream) cudaStreamDestroy(c->stream);
        free(c);
    }
    free(b);
}

/* cuBLAS's recommended workspace on Hopper (32 MiB); set explicitly so that GEMMs captured in a
 * CUDA graph allocate nothing. */
#define XFER_CUBLAS_WORKSPACE ((size_t)32 << 20)

static int env_on(const char *name) {
    const char *v = getenv(name);
    return v && v[0] && strcmp(v, "0") != 0;
}

xfer_backend *xfer_backend_cuda_create(xfer_err *err) {
    if (!xfer_cuda_available()) {
        xfer_cuda_info info;
        xfer_cuda_query(&info);
        xfer_fail(err, XFER_EINPUT, "--device cuda: no CUDA device (%s)",
                  info.why_none[0] ? info.why_none : "none found");
        return NULL;
    }
    xfer_backend *b = calloc(1, sizeof *b);
    cuda_ctx *c = calloc(1, sizeof *c);
    if (!b || !c) {
        free(b);
        free(c);
        xfer_fail(err, XFER_EINTERNAL, "out of memory creating the CUDA backend");
        return NULL;
    }
    b->name = "cuda";
    b->kind = XFER_DEVICE_CUDA;
    b->ctx = c;
    b->destroy = cuda_destroy;
    c->sync_each = env_on("XFER_CUDA_SYNC");
    c->use_find = env_on("XFER_CUDNN_FIND");
    c->allow_nondet = env_on("XFER_CUDNN_NONDETERMINISTIC");
    c->prec = XFER_PREC_FP32;
    struct cudaDeviceProp prop;
    int failed =
        CU_RT(b, cudaGetDevice(&c->device)) || CU_RT(b, cudaGetDeviceProperties(&prop, c->device));
    if (!failed) snprintf(c->name, sizeof c->name, "%s", prop.name);
    failed = failed || CU_RT(b, cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking)) ||
             CU_DNN(b, cudnnCreate(&c->cudnn)) || CU_DNN(b, cudnnSetStream(c->cudnn, c->stream)) ||
             CU_BLAS(b, cublasCreate(&c->cublas)) ||
             CU_BLAS(b, cublasSetStream(c->cublas, c->stream)) ||
             CU_RT(b, cudaMalloc(&c->blas_ws, XFER_CUBLAS_WORKSPACE)) ||
             CU_BLAS(b, cublasSetWorkspace(c->cublas, c->blas_ws, XFER_CUBLAS_WORKSPACE)) ||
             xfer_cuda_apply_precision(b);
    if (failed) {
        xfer_fail(err, c->pending.code ? c->pending.code : XFER_EINTERNAL,
                  "creating the CUDA backend: %s", c->pending.msg);
        cuda_destroy(b);
        return NULL;
    }
    xfer_cuda_install_memory(b);
    xfer_cuda_install_conv(b);
    xfer_cuda_install_linear(b);
    xfer_cuda_install_ops(b);
    xfer_cuda_install_archs_ops(b);
    xfer_cuda_install_graphs(b);
    return b;
}
