/* Training schedules. The SGD update itself is xfer_model_sgd_step (include/xfer/nn.h) over the
 * backend's sgd_update op. */
#ifndef XFER_TRAIN_H
#define XFER_TRAIN_H

/* torch.optim.lr_scheduler.StepLR: lr = base_lr * gamma^floor(epoch / step_size), epoch counted
 * from 0 (the lr used during that epoch). step_size <= 0 means a constant lr. */
typedef struct {
    float base_lr;
    int step_size;
    float gamma;
} xfer_steplr;

float xfer_steplr_lr(const xfer_steplr *s, int epoch);

#endif
