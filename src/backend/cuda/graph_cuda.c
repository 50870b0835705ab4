/* Recorded op sequences for the backend table (capture_begin .. graph_free): CUDA stream capture
 * on the backend's stream, instantiated once and replayed with cudaGraphLaunch. A recording
 * refers to the device pointers it saw, including the grow-only scratch buffers
 * (backend_cuda.c), so it carries the scratch generation it was recorded under and graph_valid
 * says when a buffer has been replaced since. A failed capture (an op that allocated,
 * synchronised or is not capturable) leaves no error behind: the caller runs the ops uncaptured.
 *
 * XFER_CUDA_GRAPHS=0 leaves the hooks NULL (every step runs uncaptured); XFER_CUDA_SYNC=1 does
 * too, since a synchronisation after each launch cannot be captured. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_internal.h"

typedef struct {
    cudaGraphExec_t exec;
    unsigned long gen; /* scratch generation at capture */
} cuda_graph;

static int capture_begin(xfer_backend *b, xfer_err *err) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    if (c->capturing) return xfer_fail(err, XFER_EINTERNAL, "CUDA graph capture already running");
    if (c->pending.code != XFER_OK) /* an earlier failure must not be swallowed by the capture */
        return xfer_fail(err, c->pending.code, "%s", c->pending.msg);
    cudaError_t e = cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return xfer_fail(err, XFER_EINTERNAL, "cudaStreamBeginCapture failed: %s",
                         cudaGetErrorString(e));
    }
    c->capturing = 1;
    return XFER_OK;
}

/* Drops whatever the capture left: the recorded failure and the runtime's last error. */
static int capture_failed(xfer_backend *b, cudaGraph_t g, const char *what, cudaError_t e,
                          xfer_err *err) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    char msg[XFER_ERR_MSG_MAX];
    if (c->pending.code != XFER_OK)
        snprintf(msg, sizeof msg, "%s", c->pending.msg);
    else
        snprintf(msg, sizeof msg, "%s: %s", what, cudaGetErrorString(e));
    if (g) cudaGraphDestroy(g);
    cudaGetLastError();
    xfer_err_clear(&c->pending);
    return xfer_fail(err, XFER_EINTERNAL, "CUDA graph capture failed: %s", msg);
}

static int capture_end(xfer_backend *b, void **out, xfer_err *err) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    *out = NULL;
    if (!c->capturing) return xfer_fail(err, XFER_EINTERNAL, "no CUDA graph capture running");
    cudaGraph_t g = NULL;
    cudaError_t e = cudaStreamEndCapture(c->stream, &g);
    c->capturing = 0;
    if (e != cudaSuccess || c->pending.code != XFER_OK || !g)
        return capture_failed(b, g, "cudaStreamEndCapture", e, err);
    cudaGraphExec_t exec = NULL;
    e = cudaGraphInstantiate(&exec, g, 0);
    if (e != cudaSuccess) return capture_failed(b, g, "cudaGraphInstantiate", e, err);
    cudaGraphDestroy(g);
    cuda_graph *h = malloc(sizeof *h);
    if (!h) {
        cudaGraphExecDestroy(exec);
        return xfer_fail(err, XFER_EINTERNAL, "out of memory for a CUDA graph");
    }
    h->exec = exec;
    h->gen = c->scratch_gen;
    *out = h;
    return XFER_OK;
}

static int graph_valid(xfer_backend *b, const void *graph) {
    const cuda_graph *h = graph;
    return h && h->gen == xfer_cuda_ctx(b)->scratch_gen;
}

static int graph_launch(xfer_backend *b, void *graph, xfer_err *err) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    cuda_graph *h = graph;
    if (!graph_valid(b, h))
        return xfer_fail(err, XFER_EINTERNAL, "CUDA graph launched after its scratch was replaced");
    CU_RT(b, cudaGraphLaunch(h->exec, c->stream));
    if (c->pending.code == XFER_OK) return XFER_OK;
    int code = xfer_fail(err, c->pending.code, "%s", c->pending.msg);
    xfer_err_clear(&c->pending);
    return code;
}

static void graph_free(xfer_backend *b, void *graph) {
    cuda_graph *h = graph;
    if (!h) return;
    cudaStreamSynchronize(xfer_cuda_ctx(b)->stream); /* a replay may still be running */
    cudaGraphExecDestroy(h->exec);
    free(h);
}

void xfer_cuda_install_graphs(xfer_backend *b) {
    const char *v = getenv("XFER_CUDA_GRAPHS");
    if ((v && strcmp(v, "0") == 0) || xfer_cuda_ctx(b)->sync_each) return;
    b->capture_begin = capture_begin;
    b->capture_end = capture_end;
    b->graph_valid = graph_valid;
    b->graph_launch = graph_launch;
    b->graph_free = graph_free;
}
