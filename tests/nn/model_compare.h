/* Test helper: bitwise comparison of two models' named tensors. */
#ifndef XFER_TEST_MODEL_COMPARE_H
#define XFER_TEST_MODEL_COMPARE_H

#include "xfer/nn.h"

/* 1 when every tensor of a and c is bitwise equal. which: 0 values (parameters and buffers),
 * 1 gradients, 2 momentum (1 and 2 compare parameters only). The first difference is printed. */
int model_tensors_equal(xfer_model *a, xfer_model *c, int which);

#endif
