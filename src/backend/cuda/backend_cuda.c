/* Placeholder until the CUDA backend (issue 7) implements include/xfer/backend.h here; replace
 * this file. */
#include "xfer/backend.h"

xfer_backend *xfer_backend_cuda_create(xfer_err *err) {
    xfer_fail(err, XFER_EINPUT,
              "--device cuda: the CUDA backend is not implemented yet in this build (no device "
              "ops); use --device cpu");
    return NULL;
}
