/* The experiment runner behind `xfer run` and `xfer score`: datasets → sources (loaded or built by
 * training, chains included) → scores → fine-tuning → results file and report. Resumable: a
 * second run on the same output skips finished work and continues an interrupted fine-tune from its
 * last completed epoch. See docs/run.md. */
#ifndef XFER_RUN_H
#define XFER_RUN_H

#include "xfer/config.h"
#include "xfer/error.h"

typedef struct {
    const char *only;        /* comma-separated source names, NULL = all */
    int shard_i, shard_n;    /* run shard shard_i (0-based) of shard_n; shard_n 0/1 = all */
    const char *output;      /* results path, NULL = the config's output */
    const char *log_json;    /* one JSON object per epoch appended to this file, or NULL */
    int score_only;          /* `xfer score`: stop after scoring */
    int plots;               /* run scripts/plot.py at the end when python3 is there */
    int threads;             /* CPU threads, 0 = default */
    xfer_device_kind device; /* from --device when set, else the config's */
    int device_set;
} xfer_run_opts;

/* Runs the experiment. Returns XFER_OK (every selected source done), XFER_EFAILED (some sources
 * failed; the others completed; reasons in the results file), XFER_EINPUT (bad input: nothing of
 * the failed step is left half-written) or XFER_EINTERNAL. */
int xfer_run(const xfer_config *cfg, const xfer_run_opts *opts, xfer_err *err);

/* Parses "I/N" (0 <= I < N). */
int xfer_parse_shard(const char *s, int *i, int *n, xfer_err *err);

#endif
