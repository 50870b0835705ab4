/* Helpers shared by the engine commands (step, bench): their common option rows, the parse of an
 * options-only command line, and the backend they run on. */
#ifndef XFER_CLI_ENGINE_CLI_H
#define XFER_CLI_ENGINE_CLI_H

#include "opts.h"
#include "xfer/backend.h"

/* The option rows both commands take, with one help text: --width X, --threads N and
 * --precision P. */
xfer_opt xfer_cli_opt_width(double *width);
xfer_opt xfer_cli_opt_threads(int *threads);
xfer_opt xfer_cli_opt_precision(const char **precision);

/* Parses argv for command, which takes the options opts[0..n_opts) and no positional argument
 * (summary and details are its --help text; at most 64 words are read): XFER_OK,
 * XFER_OPTS_HELP after --help (printed), or the error's code, the error printed. */
int xfer_cli_engine_parse(const char *command, const char *summary, const char *details,
                          const xfer_opt *opts, int n_opts, int argc, char **argv);

/* Prints "xfer: error: <err's message>" to stderr and returns rc. */
int xfer_cli_fail(int rc, const xfer_err *err);

/* The backend named by the global --device option (auto: CUDA when usable, else CPU), with
 * threads applied (<= 0: the default) and --precision fp32|tf32|bf16 (NULL: fp32) set:
 * xfer_cuda_set_precision for CUDA, the CPU backend accepts only fp32. NULL with err filled
 * (XFER_EINPUT naming the device or the precision) when either fails. */
xfer_backend *xfer_cli_backend(int threads, const char *precision, xfer_err *err);

#endif
