#include <string.h>

#include "engine_cli.h"
#include "opts.h"
#include "xfer/cpus.h"
#include "xfer/cuda_backend.h"

xfer_backend *xfer_cli_backend(int threads, xfer_err *err) {
    xfer_backend *b = xfer_backend_get(g_xfer_cli.device, err);
    if (threads <= 0) threads = xfer_default_threads();
    if (b && b->set_threads) b->set_threads(b, threads);
    return b;
}

int xfer_cli_set_precision(xfer_backend *b, const char *name, xfer_err *err) {
    static const char *const names[] = {"fp32", "tf32", "bf16"};
    static const xfer_precision values[] = {XFER_PREC_FP32, XFER_PREC_TF32, XFER_PREC_BF16};
    if (!name) name = "fp32";
    for (int i = 0; i < 3; i++) {
        if (strcmp(name, names[i]) != 0) continue;
        if (b->kind == XFER_DEVICE_CUDA) return xfer_cuda_set_precision(b, values[i], err);
        if (values[i] == XFER_PREC_FP32) return XFER_OK;
        return xfer_fail(err, XFER_EINPUT,
                         "--precision %s: the %s backend computes in fp32 only (use --device cuda)",
                         name, b->name);
    }
    return xfer_fail(err, XFER_EINPUT, "--precision must be fp32, tf32 or bf16, not '%s'", name);
}
