/* Helpers shared by the engine commands (step, bench). */
#ifndef XFER_CLI_ENGINE_CLI_H
#define XFER_CLI_ENGINE_CLI_H

#include "xfer/backend.h"

/* The backend named by the global --device option (auto: CUDA when usable, else CPU), with
 * threads applied (<= 0: the default). NULL with err filled (XFER_EINPUT) when unavailable. */
xfer_backend *xfer_cli_backend(int threads, xfer_err *err);

/* --precision fp32|tf32|bf16 (NULL: fp32) on b: xfer_cuda_set_precision for CUDA; the CPU backend
 * accepts only fp32. XFER_EINPUT naming the value otherwise. */
int xfer_cli_set_precision(xfer_backend *b, const char *name, xfer_err *err);

#endif
