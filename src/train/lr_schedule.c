/* Learning-rate schedules (torch.optim.lr_scheduler StepLR and CosineAnnealingLR, per epoch). */
#include <math.h>

#include "xfer/train.h"

float xfer_steplr_lr(const xfer_steplr *s, int epoch) {
    if (s->step_size <= 0 || epoch < s->step_size) return s->base_lr;
    /* repeated multiplication in float, like torch's chainable form lr *= gamma */
    float lr = s->base_lr;
    for (int k = 0; k < epoch / s->step_size; k++)
        lr *= s->gamma;
    return lr;
}

/* Python's a % b for b > 0 (non-negative), as torch's condition uses it. */
static int py_mod(int a, int b) {
    int r = a % b;
    return r < 0 ? r + b : r;
}

double xfer_cosine_lr(double base_lr, double eta_min, int t_max, int epoch) {
    if (t_max <= 0) return base_lr;
    const double pi = 3.14159265358979323846; /* math.pi */
    double lr = base_lr;
    for (int e = 1; e <= epoch; e++) {
        if (py_mod(e - 1 - t_max, 2 * t_max) == 0)
            lr = lr + (base_lr - eta_min) * (1 - cos(pi / t_max)) / 2;
        else
            lr = (1 + cos(pi * e / t_max)) / (1 + cos(pi * (e - 1) / t_max)) * (lr - eta_min) +
                 eta_min;
    }
    return lr;
}
