/* Small host-to-device copies staged through a ring of pinned host slots (review item: pageable
 * memory in the per-batch async copies of boxes, labels and the learning rate).
 *
 * A cudaMemcpyAsync from pageable memory first synchronises the stream and returns only once the
 * bytes are staged by the driver: a hidden host wait on every batch, and correctness that rests on
 * that staging. Here the bytes are copied into a pinned slot and the async copy reads the slot;
 * an event recorded after the copy marks when the slot may be written again. A slot is taken only
 * when its event has completed (cudaEventQuery, which never waits); when every slot is still in
 * flight a new one is allocated, up to XFER_CUDA_STAGE_SLOTS_MAX; only past that does the host
 * wait, explicitly and counted, for the oldest slot. Copies larger than XFER_CUDA_STAGE_LIMIT
 * (whole image batches of the CPU batcher path), copies while a CUDA graph is being captured (a
 * captured copy would read the slot at replay time) and a failed pinned allocation take the
 * plain pageable path, as before. Slots are created with the largest size asked so far (at least
 * XFER_CUDA_STAGE_MIN); a free slot smaller than a copy is reallocated (cudaFreeHost may
 * synchronise: this happens only when a copy larger than every earlier one appears). */
#include <stdlib.h>
#include <string.h>

#include "cuda_internal.h"

#define XFER_CUDA_STAGE_MIN ((size_t)64 << 10)

typedef struct {
    void *host;
    size_t cap;
    cudaEvent_t ev;
    int busy; /* a copy from it was enqueued and its event not yet seen complete */
} stage_slot;

typedef struct {
    stage_slot slot[XFER_CUDA_STAGE_SLOTS_MAX];
    int n, next;
    size_t slot_bytes;
    xfer_cuda_stage_stats st;
} stage_ring;

/* a cudaEventQuery that found the event not ready may leave that in the last error on some
 * runtimes: clear exactly that, never another pending error */
static void clear_not_ready(void) {
    if (cudaPeekAtLastError() == cudaErrorNotReady) cudaGetLastError();
}

/* a failed pinned allocation is not an error of the op (the copy takes the pageable path), so
 * its non-sticky last error is cleared */
static void clear_failed(cudaError_t e) {
    if (cudaPeekAtLastError() == e) cudaGetLastError();
}

static int slot_alloc(stage_ring *r, stage_slot *s, size_t bytes) {
    size_t cap = r->slot_bytes > bytes ? r->slot_bytes : bytes;
    void *p = NULL;
    cudaError_t e = cudaHostAlloc(&p, cap, cudaHostAllocDefault);
    if (e != cudaSuccess) {
        clear_failed(e);
        return -1;
    }
    if (s->host) {
        cudaFreeHost(s->host);
        r->st.reallocs++;
    }
    s->host = p;
    s->cap = cap;
    return 0;
}

/* A slot that may be written now with `bytes` bytes, or NULL (pageable path). */
static stage_slot *acquire(xfer_backend *b, stage_ring *r, size_t bytes) {
    if (bytes > r->slot_bytes) {
        size_t want = XFER_CUDA_STAGE_MIN;
        while (want < bytes)
            want *= 2;
        r->slot_bytes = want;
    }
    for (int k = 0; k < r->n; k++) {
        int i = (r->next + k) % r->n;
        stage_slot *s = &r->slot[i];
        if (s->busy) {
            cudaError_t e = cudaEventQuery(s->ev);
            if (e == cudaErrorNotReady) {
                clear_not_ready();
                continue;
            }
            if (CU_RT(b, e)) return NULL; /* an earlier asynchronous failure: recorded */
            s->busy = 0;
        }
        if (s->cap < bytes && slot_alloc(r, s, bytes)) return NULL;
        r->next = (i + 1) % r->n;
        return s;
    }
    if (r->n < XFER_CUDA_STAGE_SLOTS_MAX) { /* every slot in flight: one more, no waiting */
        stage_slot *s = &r->slot[r->n];
        cudaError_t e = cudaEventCreateWithFlags(&s->ev, cudaEventDisableTiming);
        if (e != cudaSuccess) {
            clear_failed(e);
            return NULL;
        }
        if (slot_alloc(r, s, bytes)) {
            cudaEventDestroy(s->ev);
            s->ev = NULL;
            return NULL;
        }
        r->n++;
        r->st.slots = r->n;
        r->next = 0; /* the oldest copies are the likeliest to be done */
        return s;
    }
    /* the host is XFER_CUDA_STAGE_SLOTS_MAX copies ahead of the device: wait for the oldest */
    stage_slot *s = &r->slot[r->next];
    r->st.waits++;
    if (CU_RT(b, cudaEventSynchronize(s->ev))) return NULL;
    s->busy = 0;
    if (s->cap < bytes && slot_alloc(r, s, bytes)) return NULL;
    r->next = (r->next + 1) % r->n;
    return s;
}

int xfer_cuda_upload_staged(xfer_backend *b, void *dst, const void *src, size_t bytes) {
    if (!bytes) return 0;
    cuda_ctx *c = xfer_cuda_ctx(b);
    stage_ring *r = c->stage;
    if (!r && !c->capturing && bytes <= XFER_CUDA_STAGE_LIMIT) c->stage = r = calloc(1, sizeof *r);
    stage_slot *s =
        r && !c->capturing && bytes <= XFER_CUDA_STAGE_LIMIT ? acquire(b, r, bytes) : NULL;
    if (!s) {
        if (r) r->st.direct++;
        return CU_RT(b, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, c->stream));
    }
    memcpy(s->host, src, bytes);
    if (CU_RT(b, cudaMemcpyAsync(dst, s->host, bytes, cudaMemcpyHostToDevice, c->stream)))
        return -1;
    if (CU_RT(b, cudaEventRecord(s->ev, c->stream))) {
        /* without the record the slot's event does not cover this copy: wait for it here (an
         * error path only; the failure is recorded) so the slot is not reused under it */
        CU_RT(b, cudaStreamSynchronize(c->stream));
        return -1;
    }
    s->busy = 1;
    r->st.staged++;
    return 0;
}

void xfer_cuda_stage_stats_get(xfer_backend *b, xfer_cuda_stage_stats *out) {
    stage_ring *r = xfer_cuda_ctx(b)->stage;
    if (r)
        *out = r->st;
    else
        memset(out, 0, sizeof *out);
}

void xfer_cuda_stage_destroy(xfer_backend *b) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    stage_ring *r = c->stage;
    if (!r) return;
    for (int i = 0; i < r->n; i++) {
        if (r->slot[i].ev) cudaEventDestroy(r->slot[i].ev);
        cudaFreeHost(r->slot[i].host);
    }
    free(r);
    c->stage = NULL;
}
