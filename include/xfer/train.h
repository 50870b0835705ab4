/* Training schedules. The SGD update itself is xfer_model_sgd_step (include/xfer/nn.h) over the
 * backend's sgd_update op. */
#ifndef XFER_TRAIN_H
#define XFER_TRAIN_H

#include <stdint.h>

/* torch.optim.lr_scheduler.StepLR: lr = base_lr * gamma^floor(epoch / step_size), epoch counted
 * from 0 (the lr used during that epoch). step_size <= 0 means a constant lr. */
typedef struct {
    float base_lr;
    int step_size;
    float gamma;
} xfer_steplr;

float xfer_steplr_lr(const xfer_steplr *s, int epoch);

/* torch.optim.lr_scheduler.CosineAnnealingLR(T_max = t_max, eta_min), stepped once per epoch:
 * the lr used during epoch `epoch` (0-based), by torch's recursive (chainable) form in double,
 * the same operations in the same order: lr_0 = base_lr, lr_e = (1 + cos(pi e / T)) /
 * (1 + cos(pi (e - 1) / T)) (lr_{e-1} - eta_min) + eta_min. t_max <= 0 means a constant lr. */
double xfer_cosine_lr(double base_lr, double eta_min, int t_max, int epoch);

/* The mean over classes of the per-class recall (correct / images of that class), over the
 * classes with at least one image: sklearn's balanced_accuracy_score. pred and label in 0..k-1;
 * NaN when n == 0. */
double xfer_mean_per_class(const int32_t *pred, const int32_t *label, int n, int k);

#endif
