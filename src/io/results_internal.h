/* Writers and the reader of the results schema, on an open HDF5 file (internal to src/io).
 * `path` is only used to name the file in error messages. */
#ifndef XFER_IO_RESULTS_INTERNAL_H
#define XFER_IO_RESULTS_INTERNAL_H

#include <hdf5.h>

#include "xfer/results.h"

#define RES_CURVE_FIELDS 7
extern const char *const RES_CURVE_NAMES[RES_CURVE_FIELDS]; /* "epoch" first (int64) */

int rw_root(hid_t f, const xfer_results_meta *m, int complete, const char *path, xfer_err *err);
int rw_complete(hid_t f, int complete, const char *path, xfer_err *err);
int rw_target(hid_t f, const xfer_results_target *t, const char *path, xfer_err *err);
int rw_add_source(hid_t f, const xfer_results_source_info *s, const char *path, xfer_err *err);
int rw_status(hid_t f, const char *source, xfer_src_status st, const char *error, const char *path,
              xfer_err *err);
int rw_score(hid_t f, const char *source, const xfer_results_score *s, const char *path,
             xfer_err *err);
int rw_append(hid_t f, const char *source, const xfer_results_epoch *rows, size_t n,
              const char *path, xfer_err *err);
int rw_truncate(hid_t f, const char *source, size_t n, const char *path, xfer_err *err);
/* Reads the sources of f, computes and (re)writes both correlation groups. */
int rw_correlations(hid_t f, const char *path, xfer_err *err);
int rw_corr_groups(hid_t f, const xfer_results_corr *c, size_t n, const char *path, xfer_err *err);

/* /prune (results_prune.c): write, read into d->prune (NULL when absent), and merge shard b's rows
 * into a's (identical settings; a row present in both must be equal). */
int rw_prune(hid_t f, const xfer_results_prune *p, const char *path, xfer_err *err);
int rr_read_prune(hid_t f, xfer_results_data *d, const char *path, xfer_err *err);
int rr_merge_prune(xfer_results_data *a, xfer_results_data *b, const char *b_path, xfer_err *err);

/* Frees the contents of d (not d itself). */
void rr_clear(xfer_results_data *d);
int rr_read(hid_t f, const char *path, xfer_results_data *d, xfer_err *err);
/* Recomputes the value of every pool-level score (ncti, etran) of d from its sources' terms
 * (metrics.h, xfer_metric_pool), over the sources that hold them. */
int rr_pool_scores(xfer_results_data *d, xfer_err *err);

/* Opens path read-only with the HDF5 error stack silenced; XFER_EINPUT naming the file. */
int rr_open(const char *path, hid_t *out, xfer_err *err);

#endif
