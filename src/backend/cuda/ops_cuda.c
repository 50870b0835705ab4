/* The backend ops that run on own kernels (kernels/ (*.cu)): batch norm, elementwise, dropout,
 * pooling, loss and row ops, SGD and layout. Each launch is checked (CU_LAUNCH). */
#include "cuda_internal.h"
#include "cuda_kernels.h"

#define S(b) (xfer_cuda_ctx(b)->stream)

static void bn_train(xfer_backend *b, int m, int c, const float *x, const float *gamma,
                     const float *beta, float *rmean, float *rvar, float momentum, float eps,
                     float *y, float *smean, float *sinv) {
    double *scr = xfer_cuda_reduce_scratch(b, xk_bn_scratch(m, c));
    if (scr)
        CU_LAUNCH(b, xk_bn_fwd_train(S(b), m, c, x, gamma, beta, rmean, rvar, momentum, eps, y,
                                     smean, sinv, scr));
}

static void bn_eval(xfer_backend *b, int m, int c, const float *x, const float *gamma,
                    const float *beta, const float *rmean, const float *rvar, float eps, float *y,
                    float *smean, float *sinv) {
    CU_LAUNCH(b, xk_bn_fwd_eval(S(b), m, c, x, gamma, beta, rmean, rvar, eps, y, smean, sinv));
}

static void bn_bwd(xfer_backend *b, int m, int c, const float *x, const float *dy,
                   const float *gamma, const float *smean, const float *sinv, int batch_stats,
                   float *dx, float *dgamma, float *dbeta) {
    double *scr = xfer_cuda_reduce_scratch(b, xk_bn_scratch(m, c));
    if (scr)
        CU_LAUNCH(b, xk_bn_bwd(S(b), m, c, x, dy, gamma, smean, sinv, batch_stats, dx, dgamma,
                               dbeta, scr));
}

/* y = relu(BN(x)): the ReLU's backward in place on dy, then BN's; accumulate through the grow-only
 * workspace and an add. */
static void bn_relu_bwd(xfer_backend *b, int m, int c, const float *x, const float *relu_y,
                        float *dy, const float *gamma, const float *smean, const float *sinv,
                        int batch_stats, int accumulate, float *dx, float *dgamma, float *dbeta) {
    size_t n = (size_t)m * c;
    if (relu_y) CU_LAUNCH(b, xk_relu_bwd(S(b), n, relu_y, dy, dy));
    if (!accumulate) {
        bn_bwd(b, m, c, x, dy, gamma, smean, sinv, batch_stats, dx, dgamma, dbeta);
        return;
    }
    float *t = xfer_cuda_workspace(b, sizeof(float) * n);
    if (!t) return;
    bn_bwd(b, m, c, x, dy, gamma, smean, sinv, batch_stats, t, dgamma, dbeta);
    CU_LAUNCH(b, xk_add(S(b), n, dx, t, dx));
}

static void relu_fwd(xfer_backend *b, size_t n, const float *x, float *y) {
    CU_LAUNCH(b, xk_relu_fwd(S(b), n, x, y));
}

static void relu_bwd(xfer_backend *b, size_t n, const float *y, const float *dy, float *dx) {
    CU_LAUNCH(b, xk_relu_bwd(S(b), n, y, dy, dx));
}

static void add(xfer_backend *b, size_t n, const float *a, const float *c, float *y) {
    CU_LAUNCH(b, xk_add(S(b), n, a, c, y));
}

static void dropout_fwd(xfer_backend *b, size_t n, float p, uint64_t seed, uint64_t offset,
                        const float *x, float *y, uint8_t *mask) {
    CU_LAUNCH(b, xk_dropout_fwd(S(b), n, p, seed, offset, x, y, mask));
}

static void dropout_bwd(xfer_backend *b, size_t n, float p, const uint8_t *mask, const float *dy,
                        float *dx) {
    CU_LAUNCH(b, xk_dropout_bwd(S(b), n, p, mask, dy, dx));
}

static void maxpool_fwd(xfer_backend *b, const xfer_pool2d_desc *d, const float *x, float *y) {
    CU_LAUNCH(b, xk_maxpool_fwd(S(b), d->n, d->h, d->w, d->c, d->k, d->stride, d->pad, d->oh, d->ow,
                                x, y));
}

static void maxpool_bwd(xfer_backend *b, const xfer_pool2d_desc *d, const float *x, const float *y,
                        const float *dy, float *dx) {
    (void)y;
    CU_LAUNCH(b, xk_maxpool_bwd(S(b), d->n, d->h, d->w, d->c, d->k, d->stride, d->pad, d->oh, d->ow,
                                x, dy, dx));
}

static void avgpool_fwd(xfer_backend *b, int n, int h, int w, int c, int oh, int ow, const float *x,
                        float *y) {
    CU_LAUNCH(b, xk_avgpool_fwd(S(b), n, h, w, c, oh, ow, x, y));
}

static void avgpool_bwd(xfer_backend *b, int n, int h, int w, int c, int oh, int ow,
                        const float *dy, float *dx) {
    CU_LAUNCH(b, xk_avgpool_bwd(S(b), n, h, w, c, oh, ow, dy, dx));
}

static void softmax_xent(xfer_backend *b, int n, int k, const float *logits, const int32_t *labels,
                         float *loss, float *dlogits) {
    double *scr = xfer_cuda_reduce_scratch(b, (size_t)(n > 0 ? n : 1));
    if (scr) CU_LAUNCH(b, xk_softmax_xent(S(b), n, k, logits, labels, loss, dlogits, scr));
}

static void softmax(xfer_backend *b, int n, int k, const float *logits, float *probs) {
    CU_LAUNCH(b, xk_softmax(S(b), n, k, logits, probs));
}

static void argmax(xfer_backend *b, int n, int k, const float *logits, int32_t *pred) {
    CU_LAUNCH(b, xk_argmax(S(b), n, k, logits, pred));
}

static void count_correct(xfer_backend *b, int n, int k, const float *logits, const int32_t *labels,
                          float *correct) {
    CU_LAUNCH(b, xk_count_correct(S(b), n, k, logits, labels, correct));
}

static void sgd(xfer_backend *b, size_t n, float *params, const float *grads, float *buf, float lr,
                float momentum, float wd, int nesterov, int first_step) {
    CU_LAUNCH(b, xk_sgd(S(b), n, params, grads, buf, lr, momentum, wd, nesterov, first_step));
}

static void sgd_dev(xfer_backend *b, size_t n, float *params, const float *grads, float *buf,
                    const float *lr, float momentum, float wd, int nesterov, int first_step) {
    CU_LAUNCH(b, xk_sgd_dev(S(b), n, params, grads, buf, lr, momentum, wd, nesterov, first_step));
}

static void axpy(xfer_backend *b, size_t n, float alpha, const float *x, float *y) {
    CU_LAUNCH(b, xk_axpy(S(b), n, alpha, x, y));
}

static void to_nhwc(xfer_backend *b, int n, int c, int h, int w, const float *src, float *dst) {
    CU_LAUNCH(b, xk_nchw_to_nhwc(S(b), n, c, h, w, src, dst));
}

static void to_nchw(xfer_backend *b, int n, int c, int h, int w, const float *src, float *dst) {
    CU_LAUNCH(b, xk_nhwc_to_nchw(S(b), n, c, h, w, src, dst));
}

void xfer_cuda_install_ops(xfer_backend *b) {
    b->batchnorm_forward_train = bn_train;
    b->batchnorm_forward_eval = bn_eval;
    b->batchnorm_backward = bn_bwd;
    b->batchnorm_relu_backward = bn_relu_bwd;
    b->relu_forward = relu_fwd;
    b->relu_backward = relu_bwd;
    b->add = add;
    b->dropout_forward = dropout_fwd;
    b->dropout_backward = dropout_bwd;
    b->maxpool2d_forward = maxpool_fwd;
    b->maxpool2d_backward = maxpool_bwd;
    b->adaptive_avgpool_forward = avgpool_fwd;
    b->adaptive_avgpool_backward = avgpool_bwd;
    b->softmax_xent = softmax_xent;
    b->softmax = softmax;
    b->argmax = argmax;
    b->count_correct = count_correct;
    b->sgd_update = sgd;
    b->sgd_update_dev = sgd_dev;
    b->axpy = axpy;
    b->nchw_to_nhwc = to_nhwc;
    b->nhwc_to_nchw = to_nchw;
}
