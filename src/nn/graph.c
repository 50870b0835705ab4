/* The model as a list of nodes over activation slots: building it, sizing it for an input shape,
 * and running it forward and backward on the backend. Slot 0 is the input image batch (borrowed
 * from the caller). Backward accumulates into a slot's gradient when several nodes read it (the
 * input of a residual block). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"
#include "xfer/log.h"

#define GROW(ptr, n, cap, err)                                                                     \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            int nc_ = (cap) ? 2 * (cap) : 32;                                                      \
            void *np_ = realloc((ptr), sizeof *(ptr) * (size_t)nc_);                               \
            if (!np_) return xfer_fail(err, XFER_EINTERNAL, "out of memory building the model");   \
            (ptr) = np_;                                                                           \
            (cap) = nc_;                                                                           \
        }                                                                                          \
    } while (0)

int nn_add_tensor(xfer_model *m, const char *name, xfer_tensor_kind kind, int ndim,
                  const int64_t *shape, xfer_err *err) {
    GROW(m->tensors, m->n_tensors, m->cap_tensors, err);
    xfer_tensor_info *t = &m->tensors[m->n_tensors];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->kind = kind;
    t->ndim = ndim;
    t->numel = 1;
    for (int d = 0; d < ndim; d++) {
        t->shape[d] = shape[d];
        t->numel *= (size_t)shape[d];
    }
    if (kind == XFER_TENSOR_PARAM) {
        t->offset = m->n_params;
        m->n_params += t->numel;
    } else {
        t->offset = m->n_buffers;
        m->n_buffers += t->numel;
    }
    if (ndim == 4) {
        t->permute_ohwi = 1;
        t->perm_o = (int)shape[0], t->perm_i = (int)shape[1];
        t->perm_kh = (int)shape[2], t->perm_kw = (int)shape[3];
    }
    return m->n_tensors++;
}

int nn_add_slot(xfer_model *m, int c, xfer_err *err) {
    GROW(m->slots, m->n_slots, m->cap_slots, err);
    slot *s = &m->slots[m->n_slots];
    memset(s, 0, sizeof *s);
    s->c = c;
    return m->n_slots++;
}

int nn_add_node(xfer_model *m, const node *nd, xfer_err *err) {
    GROW(m->nodes, m->n_nodes, m->cap_nodes, err);
    m->nodes[m->n_nodes] = *nd;
    return m->n_nodes++;
}

int nn_alloc_storage(xfer_model *m, xfer_err *err) {
    xfer_backend *b = m->b;
    size_t pb = sizeof(float) * (m->n_params ? m->n_params : 1);
    if (!(m->params = b->alloc(b, pb, "parameters", err))) return err->code;
    if (!(m->grads = b->alloc(b, pb, "gradients", err))) return err->code;
    if (!(m->momentum = b->alloc(b, pb, "momentum buffers", err))) return err->code;
    if (!(m->buffers = b->alloc(b, sizeof(float) * (m->n_buffers + 1), "BN statistics", err)))
        return err->code;
    if (!(m->loss_dev = b->alloc(b, 4 * sizeof(float), "the loss", err))) return err->code;
    m->correct_dev = m->loss_dev + 1;
    m->lr_dev = m->loss_dev + 2;
    b->memset0(b, m->loss_dev, 4 * sizeof(float));
    b->memset0(b, m->grads, pb);
    b->memset0(b, m->momentum, pb);
    for (int i = 0; i < m->n_nodes; i++) {
        node *nd = &m->nodes[i];
        if (nd->kind != NODE_BN) continue;
        size_t bytes = sizeof(float) * (size_t)m->slots[nd->in].c;
        if (!(nd->save_mean = b->alloc(b, bytes, "BN saved mean", err))) return err->code;
        if (!(nd->save_invstd = b->alloc(b, bytes, "BN saved invstd", err))) return err->code;
    }
    for (int i = 0; i < m->n_nodes; i++) {
        node *nd = &m->nodes[i];
        if (nd->kind != NODE_AFFINE) continue;
        int c = m->slots[nd->in].c;
        float host[8];
        for (int j = 0; j < c; j++)
            host[j] = nd->affine[0][j], host[c + j] = nd->affine[1][j];
        if (!(nd->affine_dev = b->alloc(b, sizeof(float) * 2 * c, "input transform", err)))
            return err->code;
        b->upload(b, nd->affine_dev, host, sizeof(float) * 2 * c);
    }
    return XFER_OK;
}

void nn_free_graph(xfer_model *m) {
    xfer_backend *b = m->b;
    nn_step_graphs_free(m);
    for (int i = 0; i < m->n_nodes; i++) {
        b->free(b, m->nodes[i].save_mean);
        b->free(b, m->nodes[i].save_invstd);
        b->free(b, m->nodes[i].mask);
        b->free(b, m->nodes[i].affine_dev);
    }
    for (int i = 1; i < m->n_slots; i++) {
        /* in-place nodes share a slot, so every slot owns its memory exactly once */
        b->free(b, m->slots[i].val);
        b->free(b, m->slots[i].grad);
    }
    b->free(b, m->scratch);
    b->free(b, m->params);
    b->free(b, m->grads);
    b->free(b, m->momentum);
    b->free(b, m->buffers);
    b->free(b, m->loss_dev);
    free(m->nodes);
    free(m->slots);
    free(m->tensors);
}

static size_t slot_numel(const xfer_model *m, const slot *s) {
    return (size_t)m->n * s->h * s->w * s->c;
}

static int ensure(xfer_model *m, float **p, size_t *cap, size_t need, const char *what,
                  xfer_err *err) {
    if (*p && *cap >= need) return XFER_OK;
    m->mem_gen++; /* recorded steps that used the old buffer are stale */
    m->b->free(m->b, *p);
    *cap = 0;
    if (!(*p = m->b->alloc(m->b, sizeof(float) * (need ? need : 1), what, err))) return err->code;
    *cap = need;
    return XFER_OK;
}

/* Computes every slot's spatial shape for input n x h x w and allocates activations. */
static int plan(xfer_model *m, int n, int h, int w, xfer_err *err) {
    if (m->n == n && m->h == h && m->w == w) return XFER_OK;
    m->n = n, m->h = h, m->w = w;
    m->slots[0].h = h, m->slots[0].w = w;
    for (int i = 0; i < m->n_nodes; i++) {
        node *nd = &m->nodes[i];
        slot *in = &m->slots[nd->in], *out = &m->slots[nd->out];
        switch (nd->kind) {
        case NODE_CONV:
            nd->cd = (xfer_conv2d_desc){.n = n,
                                        .h = in->h,
                                        .w = in->w,
                                        .c = in->c,
                                        .o = out->c,
                                        .kh = nd->kh,
                                        .kw = nd->kw,
                                        .stride = nd->stride,
                                        .pad_h = nd->pad_h,
                                        .pad_w = nd->pad_w,
                                        .groups = nd->groups};
            xfer_conv2d_desc_init(&nd->cd);
            out->h = nd->cd.oh, out->w = nd->cd.ow;
            break;
        case NODE_MAXPOOL:
        case NODE_AVGPOOL2D:
            nd->pd = (xfer_pool2d_desc){.n = n,
                                        .h = in->h,
                                        .w = in->w,
                                        .c = in->c,
                                        .k = nd->k,
                                        .stride = nd->stride,
                                        .pad = nd->pad,
                                        .ceil_mode = nd->ceil_mode,
                                        .count_include_pad = nd->count_include_pad};
            xfer_pool2d_desc_init(&nd->pd);
            out->h = nd->pd.oh, out->w = nd->pd.ow;
            break;
        case NODE_CONCAT:
            out->h = in->h, out->w = in->w;
            for (int j = 1; j < nd->n_cat; j++) {
                const slot *o = &m->slots[nd->cat_in[j]];
                if (o->h != in->h || o->w != in->w) {
                    m->n = 0;
                    return xfer_fail(err, XFER_EINPUT,
                                     "input %dx%d: the branches concatenated at node %d are %dx%d "
                                     "and %dx%d (a size the architecture does not take)",
                                     h, w, i, in->h, in->w, o->h, o->w);
                }
            }
            break;
        case NODE_AVGPOOL:
            out->h = nd->oh, out->w = nd->ow;
            break;
        case NODE_LINEAR:
            out->h = out->w = 1;
            if ((int64_t)in->c * in->h * in->w != m->tensors[nd->w].shape[1]) {
                m->n = 0;
                return xfer_fail(err, XFER_EINPUT, "%s: input of %d features, expected %lld",
                                 m->tensors[nd->w].name, in->c * in->h * in->w,
                                 (long long)m->tensors[nd->w].shape[1]);
            }
            break;
        default: /* BN, RELU, DROPOUT, ADD keep the shape */
            out->h = in->h, out->w = in->w;
            break;
        }
        if (out->h < 1 || out->w < 1) {
            m->n = 0;
            return xfer_fail(err, XFER_EINPUT,
                             "input %dx%d is too small for %s (node %d has no output pixels)", h, w,
                             xfer_arch_name(m->cfg.arch), i);
        }
    }
    size_t biggest = 0;
    for (int i = 1; i < m->n_slots; i++) {
        slot *s = &m->slots[i];
        size_t need = slot_numel(m, s);
        if (need > biggest) biggest = need;
        if (ensure(m, &s->val, &s->val_cap, need, "activations", err)) return m->n = 0, err->code;
    }
    for (int i = 0; i < m->n_nodes; i++) {
        node *nd = &m->nodes[i];
        if (nd->kind != NODE_DROPOUT) continue;
        size_t need = slot_numel(m, &m->slots[nd->in]);
        if (nd->mask && nd->mask_cap >= need) continue;
        m->mem_gen++;
        m->b->free(m->b, nd->mask);
        nd->mask_cap = 0;
        if (!(nd->mask = m->b->alloc(m->b, need, "dropout mask", err))) return m->n = 0, err->code;
        nd->mask_cap = need;
    }
    (void)biggest;
    return XFER_OK;
}

#define P(i) (m->params + m->tensors[(i)].offset)
#define G(i) (m->grads + m->tensors[(i)].offset)
#define B(i) (m->buffers + m->tensors[(i)].offset)

static uint64_t dropout_seed(const xfer_model *m) {
    return xfer_splitmix64(m->cfg.seed ^ 0xD50F0C7A11ull);
}

int xfer_model_forward(xfer_model *m, const float *x, int n, int h, int w, int train,
                       xfer_err *err) {
    if (n < 1 || h < 1 || w < 1)
        return xfer_fail(err, XFER_EINPUT, "bad input shape %dx%dx%d", n, h, w);
    int rc = plan(m, n, h, w, err);
    if (rc) return rc;
    xfer_backend *b = m->b;
    if (train) /* torch refuses too: the batch variance of one value is 0 */
        for (int i = 0; i < m->n_nodes; i++) {
            const slot *in = &m->slots[m->nodes[i].in];
            if (m->nodes[i].kind == NODE_BN && n * in->h * in->w < 2)
                return xfer_fail(err, XFER_EINPUT,
                                 "batch norm in training needs more than 1 value per channel "
                                 "(batch %d of %dx%d gives 1 at node %d); use a larger batch",
                                 n, h, w, i);
        }
    m->train = train;
    m->slots[0].val = (float *)x; /* borrowed, never written */
    for (int i = 0; i < m->n_nodes; i++) {
        node *nd = &m->nodes[i];
        slot *in = &m->slots[nd->in], *out = &m->slots[nd->out];
        size_t cnt = slot_numel(m, in);
        int rows = n * in->h * in->w;
        switch (nd->kind) {
        case NODE_CONV:
            b->conv2d_forward(b, &nd->cd, in->val, P(nd->w), nd->bias >= 0 ? P(nd->bias) : NULL,
                              out->val);
            break;
        case NODE_BN:
            if (train)
                b->batchnorm_forward_train(b, rows, in->c, in->val, P(nd->gamma), P(nd->beta),
                                           B(nd->rmean), B(nd->rvar), nd->momentum, nd->eps,
                                           out->val, nd->save_mean, nd->save_invstd);
            else
                b->batchnorm_forward_eval(b, rows, in->c, in->val, P(nd->gamma), P(nd->beta),
                                          B(nd->rmean), B(nd->rvar), nd->eps, out->val,
                                          nd->save_mean, nd->save_invstd);
            break;
        case NODE_RELU:
            b->relu_forward(b, cnt, in->val, out->val);
            break;
        case NODE_MAXPOOL:
            b->maxpool2d_forward(b, &nd->pd, in->val, out->val);
            break;
        case NODE_AVGPOOL:
            b->adaptive_avgpool_forward(b, n, in->h, in->w, in->c, nd->oh, nd->ow, in->val,
                                        out->val);
            break;
        case NODE_DROPOUT: {
            float p = train ? m->cfg.dropout : 0.0f;
            b->dropout_forward(b, cnt, p, dropout_seed(m), m->rng_counter, in->val, out->val,
                               nd->mask);
            if (p > 0.0f) m->rng_counter += cnt;
            break;
        }
        case NODE_LINEAR:
            b->linear_forward(b, n, in->c * in->h * in->w, out->c, in->val, P(nd->w),
                              nd->bias >= 0 ? P(nd->bias) : NULL, out->val);
            break;
        case NODE_ADD:
            b->add(b, cnt, in->val, m->slots[nd->in2].val, out->val);
            break;
        case NODE_RELU6:
            b->relu6_forward(b, cnt, in->val, out->val);
            break;
        case NODE_AVGPOOL2D:
            b->avgpool2d_forward(b, &nd->pd, in->val, out->val);
            break;
        case NODE_CONCAT:
            for (int j = 0, off = 0; j < nd->n_cat; j++) {
                const slot *s = &m->slots[nd->cat_in[j]];
                b->copy_strided(b, (size_t)rows, s->c, s->val, s->c, out->val + off, out->c);
                off += s->c;
            }
            break;
        case NODE_AFFINE:
            b->channel_affine(b, rows, in->c, in->val, nd->affine_dev, nd->affine_dev + in->c,
                              out->val);
            break;
        }
    }
    return b->check(b, err);
}

const float *xfer_model_logits(const xfer_model *m) {
    return m->slots[m->logits_slot].val;
}

const float *xfer_model_features(const xfer_model *m) {
    return m->slots[m->features_slot].val;
}

/* Where node output gradients flowing into slot s go: its grad buffer the first time, the
 * scratch buffer (added afterwards by settle()) when it already holds a gradient. */
static float *grad_target(xfer_model *m, int s, xfer_err *err) {
    slot *sl = &m->slots[s];
    size_t need = slot_numel(m, sl);
    if (!sl->grad_set) {
        if (ensure(m, &sl->grad, &sl->grad_cap, need, "activation gradients", err)) return NULL;
        return sl->grad;
    }
    if (ensure(m, &m->scratch, &m->scratch_cap, need, "gradient scratch", err)) return NULL;
    return m->scratch;
}

static void settle(xfer_model *m, int s, float *target) {
    slot *sl = &m->slots[s];
    if (target != sl->grad) m->b->add(m->b, slot_numel(m, sl), sl->grad, target, sl->grad);
    sl->grad_set = 1;
}

/* Whether node i is a BN whose output only the in-place ReLU at node i + 1 reads: then the BN's
 * backward masks the gradient itself (batchnorm_relu_backward) and the ReLU's backward is skipped.
 * The ReLU overwrote the BN's output in place, so no other node can read it before the ReLU. */
static int bn_relu_fused(const xfer_model *m, int i) {
    if (i < 0 || i + 1 >= m->n_nodes) return 0;
    const node *bn = &m->nodes[i], *r = &m->nodes[i + 1];
    return bn->kind == NODE_BN && r->kind == NODE_RELU && r->in == bn->out && r->out == bn->out;
}

/* Loss, correct count (into loss_dev[0..1]) and the backward pass, all enqueued: no host
 * synchronisation, nothing allocated once the shape has run before. */
int nn_backward_ops(xfer_model *m, const int32_t *labels, xfer_err *err) {
    if (!m->n) return xfer_fail(err, XFER_EINTERNAL, "backward without a forward");
    xfer_backend *b = m->b;
    const int n = m->n, k = m->cfg.num_classes;
    for (int i = 0; i < m->n_slots; i++)
        m->slots[i].grad_set = 0;
    slot *ls = &m->slots[m->logits_slot];
    float *dl = grad_target(m, m->logits_slot, err);
    if (!dl) return err->code;
    b->memset0(b, m->loss_dev, 2 * sizeof(float));
    b->softmax_xent(b, n, k, ls->val, labels, m->loss_dev, dl);
    b->count_correct(b, n, k, ls->val, labels, m->correct_dev);
    ls->grad_set = 1;
    b->memset0(b, m->grads, sizeof(float) * m->n_params);
    for (int i = m->n_nodes - 1; i >= 0; i--) {
        node *nd = &m->nodes[i];
        slot *in = &m->slots[nd->in], *out = &m->slots[nd->out];
        if (!out->grad_set) continue; /* nothing flows back through this node */
        size_t cnt = slot_numel(m, in);
        int rows = n * in->h * in->w;
        int need_dx = nd->in != 0; /* no gradient for the input images */
        float *dx = NULL;
        /* BN: accumulate into a gradient its input already holds (no scratch, no add) */
        int acc = nd->kind == NODE_BN && need_dx && in->grad_set;
        if (acc) dx = in->grad;
        if (need_dx && !acc && nd->kind != NODE_RELU && nd->kind != NODE_RELU6 &&
            nd->kind != NODE_ADD && nd->kind != NODE_CONCAT) {
            if (!(dx = grad_target(m, nd->in, err))) return err->code;
        }
        switch (nd->kind) {
        case NODE_CONV:
            b->conv2d_backward_filter(b, &nd->cd, in->val, out->grad, G(nd->w),
                                      nd->bias >= 0 ? G(nd->bias) : NULL);
            if (dx) b->conv2d_backward_data(b, &nd->cd, out->grad, P(nd->w), dx);
            break;
        case NODE_BN: /* with the ReLU after it when that one was left to it (below) */
            b->batchnorm_relu_backward(b, rows, in->c, in->val,
                                       bn_relu_fused(m, i) ? out->val : NULL, out->grad,
                                       P(nd->gamma), nd->save_mean, nd->save_invstd, m->train, acc,
                                       dx, G(nd->gamma), G(nd->beta));
            break;
        case NODE_RELU: /* in place: the slot's gradient is masked where the output is 0 */
            if (!bn_relu_fused(m, i - 1)) b->relu_backward(b, cnt, out->val, out->grad, out->grad);
            break;
        case NODE_MAXPOOL:
            b->maxpool2d_backward(b, &nd->pd, in->val, out->val, out->grad, dx);
            break;
        case NODE_AVGPOOL:
            b->adaptive_avgpool_backward(b, n, in->h, in->w, in->c, nd->oh, nd->ow, out->grad, dx);
            break;
        case NODE_DROPOUT:
            b->dropout_backward(b, cnt, m->train ? m->cfg.dropout : 0.0f, nd->mask, out->grad, dx);
            break;
        case NODE_LINEAR:
            b->linear_backward(b, n, in->c * in->h * in->w, out->c, in->val, P(nd->w), out->grad,
                               dx, G(nd->w), nd->bias >= 0 ? G(nd->bias) : NULL);
            break;
        case NODE_ADD:
            for (int j = 0; j < 2; j++) {
                int s = j ? nd->in2 : nd->in;
                float *t = grad_target(m, s, err);
                if (!t) return err->code;
                b->copy(b, t, out->grad, sizeof(float) * cnt);
                settle(m, s, t);
            }
            break;
        case NODE_RELU6:
            b->relu6_backward(b, cnt, out->val, out->grad, out->grad);
            break;
        case NODE_AVGPOOL2D:
            b->avgpool2d_backward(b, &nd->pd, out->grad, dx);
            break;
        case NODE_CONCAT:
            for (int j = 0, off = 0; j < nd->n_cat; j++) {
                int s = nd->cat_in[j], c = m->slots[s].c;
                if (s != 0) {
                    float *t = grad_target(m, s, err);
                    if (!t) return err->code;
                    b->copy_strided(b, (size_t)rows, c, out->grad + off, out->c, t, c);
                    settle(m, s, t);
                }
                off += c;
            }
            break;
        case NODE_AFFINE:
            if (dx) b->channel_affine(b, rows, in->c, out->grad, nd->affine_dev, NULL, dx);
            break;
        }
        if (dx) settle(m, nd->in, dx);
    }
    return XFER_OK;
}

int xfer_model_backward(xfer_model *m, const int32_t *labels, float *loss, int *correct,
                        xfer_err *err) {
    int rc = nn_backward_ops(m, labels, err);
    if (rc) return rc;
    xfer_backend *b = m->b;
    float host[2];
    rc = b->download(b, host, m->loss_dev, sizeof host, err);
    if (rc) return rc;
    if (loss) *loss = host[0];
    if (correct) *correct = (int)host[1];
    return XFER_OK;
}

int xfer_model_sgd_step(xfer_model *m, const xfer_sgd_config *opt, xfer_err *err) {
    m->b->sgd_update(m->b, m->n_params, m->params, m->grads, m->momentum, opt->lr, opt->momentum,
                     opt->weight_decay, opt->nesterov, !m->sgd_started);
    if (opt->momentum != 0.0f) m->sgd_started = 1;
    return m->b->check(m->b, err);
}

int xfer_model_train_step(xfer_model *m, const xfer_sgd_config *opt, const float *x,
                          const int32_t *labels, int n, int h, int w, float *loss, int *correct,
                          xfer_err *err) {
    int rc = xfer_model_forward(m, x, n, h, w, 1, err);
    if (!rc) rc = xfer_model_backward(m, labels, loss, correct, err);
    if (!rc) rc = xfer_model_sgd_step(m, opt, err);
    return rc;
}
