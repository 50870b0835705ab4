#include "xfer/train.h"

float xfer_steplr_lr(const xfer_steplr *s, int epoch) {
    if (s->step_size <= 0 || epoch < s->step_size) return s->base_lr;
    /* repeated multiplication in float, like torch's chainable form lr *= gamma */
    float lr = s->base_lr;
    for (int k = 0; k < epoch / s->step_size; k++)
        lr *= s->gamma;
    return lr;
}
