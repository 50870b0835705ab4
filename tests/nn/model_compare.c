#include "model_compare.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int model_tensors_equal(xfer_model *a, xfer_model *c, int which) {
    for (int i = 0; i < xfer_model_n_tensors(a); i++) {
        const xfer_tensor_info *t = xfer_model_tensor(a, i);
        if (which && t->kind != XFER_TENSOR_PARAM) continue;
        float *u = malloc(sizeof(float) * t->numel), *v = malloc(sizeof(float) * t->numel);
        xfer_err e;
        int same = u && v && xfer_model_get_tensor(a, i, which, u, t->numel, &e) == XFER_OK &&
                   xfer_model_get_tensor(c, i, which, v, t->numel, &e) == XFER_OK &&
                   memcmp(u, v, sizeof(float) * t->numel) == 0;
        free(u);
        free(v);
        if (!same) {
            fprintf(stderr, "tensor %s (which %d) differs\n", t->name, which);
            return 0;
        }
    }
    return 1;
}
