/* torch.optim.SGD (dampening 0) over the flat parameter buffer; the same float operations in the
 * same order as torch's single-tensor implementation. */
#include "cpu_ops.h"

void xfer_cpu_sgd_update(xfer_backend *b, size_t n, float *params, const float *grads,
                         float *momentum_buf, float lr, float momentum, float weight_decay,
                         int nesterov, int first_step) {
    (void)b;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = grads[i];
        if (weight_decay != 0.0f) g = g + weight_decay * params[i];
        if (momentum != 0.0f) {
            float buf = first_step ? g : momentum * momentum_buf[i] + g;
            momentum_buf[i] = buf;
            g = nesterov ? g + momentum * buf : buf;
        }
        params[i] = params[i] - lr * g;
    }
}

void xfer_cpu_sgd_update_dev(xfer_backend *b, size_t n, float *params, const float *grads,
                             float *momentum_buf, const float *lr, float momentum,
                             float weight_decay, int nesterov, int first_step) {
    xfer_cpu_sgd_update(b, n, params, grads, momentum_buf, lr[0], momentum, weight_decay, nesterov,
                        first_step);
}

void xfer_cpu_axpy(xfer_backend *b, size_t n, float alpha, const float *x, float *y) {
    (void)b;
    for (size_t i = 0; i < n; i++)
        y[i] += alpha * x[i];
}
