/* The CUDA backend as the kernel emulator runs it: the backend's own memory_cuda.c, ops_cuda.c,
 * linear_cublas.c, score_cuda.c and data_cuda.c, compiled unchanged against the emulator's
 * runtime (tests/kernel_emu/shim), behind a context made here instead of backend_cuda.c (which
 * needs a device, cuDNN and cuBLAS handles). Convolutions (cuDNN) are not emulated: conv2d_* stay
 * NULL. Every name is renamed to xemu_* (xemu_names.h), so a CUDA build of xfer_core links too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_internal.h"
#include "emu_backend.h"
#include "xfer/cuda_backend.h"
#include "xfer/cuda_info.h"

static void emu_destroy(xfer_backend *b) {
    if (!b) return;
    cuda_ctx *c = xfer_cuda_ctx(b);
    if (c) {
        cudaStreamSynchronize(c->stream);
        xfer_cuda_stage_destroy(b);
        cudaFree(c->ws);
        cudaFree(c->red);
        cudaFree(c->lo);
        free(c);
    }
    free(b);
}

xfer_backend *xfer_backend_cuda_create(xfer_err *err) {
    xfer_backend *b = calloc(1, sizeof *b);
    cuda_ctx *c = calloc(1, sizeof *c);
    if (!b || !c) {
        free(b);
        free(c);
        xfer_fail(err, XFER_EINTERNAL, "out of memory creating the emulated CUDA backend");
        return NULL;
    }
    b->name = "cuda";
    b->kind = XFER_DEVICE_CUDA;
    b->ctx = c;
    b->destroy = emu_destroy;
    const char *s = getenv("XFER_CUDA_SYNC");
    c->sync_each = s && s[0] && strcmp(s, "0") != 0;
    c->prec = XFER_PREC_FP32;
    snprintf(c->name, sizeof c->name, "xemu (kernels emulated on the CPU)");
    xfer_cuda_install_memory(b);
    xfer_cuda_install_linear(b);
    xfer_cuda_install_ops(b);
    xfer_cuda_install_archs_ops(b);
    return b;
}

xfer_backend *xemu_backend_get(xfer_device_kind kind, xfer_err *err) {
    if (kind == XFER_DEVICE_CPU) return xfer_backend_cpu_create(err);
    return xfer_backend_cuda_create(err);
}

int xfer_cuda_available(void) {
    return 1;
}
