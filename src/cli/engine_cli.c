#include "engine_cli.h"
#include "opts.h"

xfer_backend *xfer_cli_backend(int threads, xfer_err *err) {
    xfer_backend *b = xfer_backend_get(g_xfer_cli.device, err);
    if (b && b->set_threads) b->set_threads(b, threads);
    return b;
}
