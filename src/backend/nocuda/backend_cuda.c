/* CPU-only build: the CUDA backend does not exist. */
#include "xfer/backend.h"

xfer_backend *xfer_backend_cuda_create(xfer_err *err) {
    xfer_fail(err, XFER_EINPUT, "--device cuda: CUDA is not available in this build");
    return NULL;
}
