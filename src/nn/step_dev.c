/* The training step without host synchronisation (xfer_model_train_step_dev) and its recording
 * as a backend graph (CUDA graph) replayed on later steps of the same shape.
 *
 * The step enqueues: forward (train), softmax cross-entropy and the correct count into
 * loss_dev[0..1], backward, acc[0] += n * loss, acc[1] += correct, and the SGD update reading the
 * learning rate from lr_dev. Nothing in it reads the host, so the same ops can be recorded once and
 * replayed: what a recording bakes in (shape, the x/labels/acc pointers, momentum, weight decay,
 * nesterov, first_step = 0, every activation and scratch pointer) is kept beside it and checked
 * before each replay; the learning rate is uploaded to lr_dev only when it changes (StepLR), in
 * stream order before the next replay.
 *
 * When a step is recorded: the backend has capture hooks (CUDA, XFER_CUDA_GRAPHS not 0), no
 * capture has failed for this model, the SGD momentum buffers already hold a value (or momentum is
 * 0: the first step differs), the model draws no dropout mask (AlexNet with dropout > 0 advances
 * the host's dropout counter every step: it runs uncaptured), and the previous step had the same
 * shape (it ran uncaptured and sized every buffer, so nothing allocates inside the capture; the
 * last partial batch of an epoch is therefore never recorded). */
#include <string.h>

#include "model_internal.h"
#include "xfer/log.h"

void nn_step_graphs_free(xfer_model *m) {
    for (int i = 0; i < NN_STEP_GRAPHS; i++) {
        if (m->graphs[i].g && m->b->graph_free) m->b->graph_free(m->b, m->graphs[i].g);
        memset(&m->graphs[i], 0, sizeof m->graphs[i]);
    }
}

/* Every op of one step, enqueued. */
static int step_ops(xfer_model *m, const xfer_sgd_config *opt, const float *x,
                    const int32_t *labels, int n, int h, int w, float *acc, xfer_err *err) {
    xfer_backend *b = m->b;
    int rc = xfer_model_forward(m, x, n, h, w, 1, err);
    if (!rc) rc = nn_backward_ops(m, labels, err);
    if (rc) return rc;
    b->axpy(b, 1, (float)n, m->loss_dev, acc);
    b->axpy(b, 1, 1.0f, m->correct_dev, acc + 1);
    b->sgd_update_dev(b, m->n_params, m->params, m->grads, m->momentum, m->lr_dev, opt->momentum,
                      opt->weight_decay, opt->nesterov, !m->sgd_started);
    if (opt->momentum != 0.0f) m->sgd_started = 1;
    return b->check(b, err);
}

static int draws_dropout(const xfer_model *m) {
    if (m->cfg.dropout <= 0.0f) return 0;
    for (int i = 0; i < m->n_nodes; i++)
        if (m->nodes[i].kind == NODE_DROPOUT) return 1;
    return 0;
}

static int same_key(const nn_step_graph *g, const xfer_model *m, const xfer_sgd_config *opt,
                    const float *x, const int32_t *labels, int n, int h, int w, const float *acc) {
    return g->g && g->n == n && g->h == h && g->w == w && g->x == x && g->labels == labels &&
           g->acc == acc && g->momentum == opt->momentum && g->weight_decay == opt->weight_decay &&
           g->nesterov == opt->nesterov && g->mem_gen == m->mem_gen;
}

static void drop(xfer_model *m, nn_step_graph *g) {
    if (g->g) m->b->graph_free(m->b, g->g);
    memset(g, 0, sizeof *g);
}

/* Records the step in a free (or the least recently used) entry and replays it once (a capture
 * records without running). Returns 1 when the step ran this way (*rc_out: the launch's status),
 * 0 when the capture failed (the step has not run: the caller runs it uncaptured). */
static int record_and_run(xfer_model *m, const xfer_sgd_config *opt, const float *x,
                          const int32_t *labels, int n, int h, int w, float *acc, int *rc_out,
                          xfer_err *err) {
    xfer_backend *b = m->b;
    nn_step_graph *slot = &m->graphs[0];
    for (int i = 0; i < NN_STEP_GRAPHS; i++) {
        if (!m->graphs[i].g) {
            slot = &m->graphs[i];
            break;
        }
        if (m->graphs[i].last_use < slot->last_use) slot = &m->graphs[i];
    }
    drop(m, slot);
    xfer_err cap;
    xfer_err_clear(&cap);
    int rc = b->capture_begin(b, &cap);
    if (rc == XFER_OK) {
        int sgd_was = m->sgd_started;
        int rs = step_ops(m, opt, x, labels, n, h, w, acc, &cap);
        void *g = NULL;
        xfer_err e2;
        xfer_err_clear(&e2);
        int re = b->capture_end(b, &g, &e2);
        m->sgd_started = sgd_was; /* nothing ran yet */
        if (rs == XFER_OK && re == XFER_OK) {
            *slot = (nn_step_graph){g,
                                    n,
                                    h,
                                    w,
                                    x,
                                    labels,
                                    acc,
                                    opt->momentum,
                                    opt->weight_decay,
                                    opt->nesterov,
                                    m->mem_gen,
                                    ++m->graph_clock};
            rc = b->graph_launch(b, g, err);
            if (rc == XFER_OK && opt->momentum != 0.0f) m->sgd_started = 1;
            *rc_out = rc;
            return 1;
        }
        if (g) b->graph_free(b, g);
        if (rs == XFER_OK) cap = e2; /* else the op's own failure says why */
    }
    xfer_warn("CUDA graph capture of the training step (batch %d, %dx%d) failed, running "
              "uncaptured from now on: %s",
              n, h, w, cap.msg);
    m->graphs_off = 1;
    nn_step_graphs_free(m);
    return 0;
}

int xfer_model_train_step_dev(xfer_model *m, const xfer_sgd_config *opt, const float *x,
                              const int32_t *labels, int n, int h, int w, float *acc,
                              xfer_err *err) {
    xfer_backend *b = m->b;
    if (n < 1 || h < 1 || w < 1)
        return xfer_fail(err, XFER_EINPUT, "bad input shape %dx%dx%d", n, h, w);
    if (!acc) return xfer_fail(err, XFER_EINTERNAL, "train_step_dev: no accumulator");
    if (!m->lr_set || m->lr_host != opt->lr) { /* in stream order: before the next replay */
        b->upload(b, m->lr_dev, &opt->lr, sizeof(float));
        m->lr_host = opt->lr;
        m->lr_set = 1;
    }
    int same_as_prev = m->prev_n == n && m->prev_h == h && m->prev_w == w;
    m->prev_n = n, m->prev_h = h, m->prev_w = w;
    int eligible = b->capture_begin && !m->graphs_off && !draws_dropout(m) &&
                   (m->sgd_started || opt->momentum == 0.0f);
    if (eligible) {
        for (int i = 0; i < NN_STEP_GRAPHS; i++) {
            nn_step_graph *g = &m->graphs[i];
            if (!g->g) continue;
            if (!b->graph_valid(b, g->g) || g->mem_gen != m->mem_gen) {
                drop(m, g);
                continue;
            }
            if (!same_key(g, m, opt, x, labels, n, h, w, acc)) continue;
            g->last_use = ++m->graph_clock;
            int rc = b->graph_launch(b, g->g, err);
            if (rc == XFER_OK) m->graph_replays++;
            return rc;
        }
        if (same_as_prev) {
            int rc = XFER_OK;
            if (record_and_run(m, opt, x, labels, n, h, w, acc, &rc, err)) {
                if (rc == XFER_OK) m->graph_replays++;
                return rc;
            }
        }
    }
    return step_ops(m, opt, x, labels, n, h, w, acc, err);
}

int xfer_model_last_loss(xfer_model *m, float *loss, int *correct, xfer_err *err) {
    float host[2];
    int rc = m->b->download(m->b, host, m->loss_dev, sizeof host, err);
    if (rc) return rc;
    if (loss) *loss = host[0];
    if (correct) *correct = (int)host[1];
    return XFER_OK;
}

uint64_t xfer_model_graph_replays(const xfer_model *m) {
    return m->graph_replays;
}
