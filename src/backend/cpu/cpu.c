/* The CPU backend: host memory, OpenMP + OpenBLAS. Fills the xfer_backend table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu_ops.h"

typedef struct {
    float *ws;        /* im2col workspace */
    size_t ws_floats; /* its capacity */
    xfer_err pending; /* first failure since the last check() */
} cpu_ctx;

static void cpu_destroy(xfer_backend *b) {
    cpu_ctx *c = b->ctx;
    free(c->ws);
    free(c);
    free(b);
}

static int cpu_check(xfer_backend *b, xfer_err *err) {
    cpu_ctx *c = b->ctx;
    if (c->pending.code == XFER_OK) return XFER_OK;
    int code = xfer_fail(err, c->pending.code, "%s", c->pending.msg);
    xfer_err_clear(&c->pending);
    return code;
}

static void cpu_set_threads(xfer_backend *b, int threads) {
    (void)b;
    if (threads <= 0) return;
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
}

void xfer_cpu_record_oom(xfer_backend *b, size_t bytes, const char *what) {
    cpu_ctx *c = b->ctx;
    if (c->pending.code == XFER_OK)
        xfer_fail(&c->pending, XFER_EINTERNAL, "out of memory allocating %zu bytes for %s", bytes,
                  what);
}

float *xfer_cpu_workspace(xfer_backend *b, size_t floats) {
    cpu_ctx *c = b->ctx;
    if (floats <= c->ws_floats) return c->ws;
    free(c->ws);
    c->ws = NULL;
    c->ws_floats = 0;
    size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
    c->ws = aligned_alloc(64, bytes);
    if (!c->ws) {
        xfer_cpu_record_oom(b, bytes, "the convolution workspace");
        return NULL;
    }
    c->ws_floats = floats;
    return c->ws;
}

static void *cpu_alloc(xfer_backend *b, size_t bytes, const char *what, xfer_err *err) {
    (void)b;
    size_t rounded = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p)
        xfer_fail(err, XFER_EINTERNAL, "out of memory allocating %zu bytes for %s", bytes,
                  what ? what : "a tensor");
    return p;
}

static void cpu_free(xfer_backend *b, void *p) {
    (void)b;
    free(p);
}

static void cpu_upload(xfer_backend *b, void *dst, const void *src, size_t bytes) {
    (void)b;
    if (bytes) memcpy(dst, src, bytes);
}

static int cpu_download(xfer_backend *b, void *dst, const void *src, size_t bytes, xfer_err *err) {
    if (bytes) memcpy(dst, src, bytes);
    return cpu_check(b, err);
}

static void cpu_memset0(xfer_backend *b, void *dst, size_t bytes) {
    (void)b;
    if (bytes) memset(dst, 0, bytes);
}

static void cpu_copy(xfer_backend *b, void *dst, const void *src, size_t bytes) {
    (void)b;
    if (bytes && dst != src) memmove(dst, src, bytes);
}

xfer_backend *xfer_backend_cpu_create(xfer_err *err) {
    xfer_backend *b = calloc(1, sizeof *b);
    cpu_ctx *c = calloc(1, sizeof *c);
    if (!b || !c) {
        free(b);
        free(c);
        xfer_fail(err, XFER_EINTERNAL, "out of memory creating the CPU backend");
        return NULL;
    }
    /* OpenBLAS runs single-threaded inside our OpenMP blocks (gemm.c) */
    openblas_set_num_threads(1);
    b->name = "cpu";
    b->kind = XFER_DEVICE_CPU;
    b->ctx = c;
    b->destroy = cpu_destroy;
    b->check = cpu_check;
    b->sync = cpu_check;
    b->set_threads = cpu_set_threads;
    b->alloc = cpu_alloc;
    b->free = cpu_free;
    b->upload = cpu_upload;
    b->download = cpu_download;
    b->memset0 = cpu_memset0;
    b->copy = cpu_copy;
    b->conv2d_forward = xfer_cpu_conv2d_forward;
    b->conv2d_backward_data = xfer_cpu_conv2d_backward_data;
    b->conv2d_backward_filter = xfer_cpu_conv2d_backward_filter;
    b->batchnorm_forward_train = xfer_cpu_bn_forward_train;
    b->batchnorm_forward_eval = xfer_cpu_bn_forward_eval;
    b->batchnorm_backward = xfer_cpu_bn_backward;
    b->batchnorm_relu_backward = xfer_cpu_bn_relu_backward;
    b->relu_forward = xfer_cpu_relu_forward;
    b->relu_backward = xfer_cpu_relu_backward;
    b->add = xfer_cpu_add;
    b->relu6_forward = xfer_cpu_relu6_forward;
    b->relu6_backward = xfer_cpu_relu6_backward;
    b->channel_affine = xfer_cpu_channel_affine;
    b->copy_strided = xfer_cpu_copy_strided;
    b->avgpool2d_forward = xfer_cpu_avgpool2d_forward;
    b->avgpool2d_backward = xfer_cpu_avgpool2d_backward;
    b->dropout_forward = xfer_cpu_dropout_forward;
    b->dropout_backward = xfer_cpu_dropout_backward;
    b->maxpool2d_forward = xfer_cpu_maxpool_forward;
    b->maxpool2d_backward = xfer_cpu_maxpool_backward;
    b->adaptive_avgpool_forward = xfer_cpu_avgpool_forward;
    b->adaptive_avgpool_backward = xfer_cpu_avgpool_backward;
    b->linear_forward = xfer_cpu_linear_forward;
    b->linear_backward = xfer_cpu_linear_backward;
    b->softmax_xent = xfer_cpu_softmax_xent;
    b->softmax = xfer_cpu_softmax;
    b->argmax = xfer_cpu_argmax;
    b->count_correct = xfer_cpu_count_correct;
    b->sgd_update = xfer_cpu_sgd_update;
    b->sgd_update_dev = xfer_cpu_sgd_update_dev;
    b->axpy = xfer_cpu_axpy;
    b->nchw_to_nhwc = xfer_cpu_nchw_to_nhwc;
    b->nhwc_to_nchw = xfer_cpu_nhwc_to_nchw;
    return b;
}
