#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "engine_cli.h"
#include "xfer/cpus.h"
#include "xfer/cuda_backend.h"

xfer_opt xfer_cli_opt_width(double *width) {
    return (xfer_opt){"width", XFER_OPT_DOUBLE, width, "X", "channel multiplier (default 1)"};
}

xfer_opt xfer_cli_opt_threads(int *threads) {
    return (xfer_opt){"threads", XFER_OPT_INT, threads, "N",
                      "CPU threads (default: the CPUs this process may use)"};
}

xfer_opt xfer_cli_opt_precision(const char **precision) {
    return (xfer_opt){"precision", XFER_OPT_STRING, precision, "P",
                      "fp32 | tf32 | bf16 (CUDA; the CPU computes in fp32; default fp32)"};
}

int xfer_cli_engine_parse(const char *command, const char *summary, const char *details,
                          const xfer_opt *opts, int n_opts, int argc, char **argv) {
    const xfer_cmd_spec spec = {command, "", summary, details, opts, n_opts, 0, 0};
    const char *pos[64];
    int npos = 0;
    return xfer_cmd_parse(&spec, argc > 64 ? 64 : argc, argv, pos, &npos);
}

int xfer_cli_fail(int rc, const xfer_err *err) {
    fprintf(stderr, "xfer: error: %s\n", err->msg);
    return rc;
}

static int set_precision(xfer_backend *b, const char *name, xfer_err *err) {
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

xfer_backend *xfer_cli_backend(int threads, const char *precision, xfer_err *err) {
    xfer_backend *b = xfer_backend_get(g_xfer_cli.device, err);
    if (!b) return NULL;
    if (threads <= 0) threads = xfer_default_threads();
    if (b->set_threads) b->set_threads(b, threads);
    if (set_precision(b, precision, err) != XFER_OK) {
        xfer_backend_release(b);
        return NULL;
    }
    return b;
}
