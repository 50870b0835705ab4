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
int rw_add_seed(hid_t f, const char *source, int index, int64_t seed, const char *path,
                xfer_err *err);
/* index: the fine-tune (0: /curve, else seeds/<index>/curve) */
int rw_append(hid_t f, const char *source, int index, const xfer_results_epoch *rows, size_t n,
              const char *path, xfer_err *err);
int rw_truncate(hid_t f, const char *source, int index, size_t n, const char *path, xfer_err *err);

/* The summary of one curve (docs/results.md, derived attributes); NaN / -1 when no epoch has a
 * finite test accuracy. */
typedef struct {
    double best, auc;
    int64_t best_epoch, to95;
} res_summary;
/* The fine-tune indices of source group g: 0, then the numbered groups under seeds/ in increasing
 * order (other names are ignored); *out is malloc'ed. -1: unreadable or out of memory. */
int res_list_seeds(hid_t g, int **out, size_t *n);
void res_curve_summary(const int64_t *epoch, const double *acc, size_t n, res_summary *out);
/* Reads the sources of f, computes and (re)writes both correlation groups. */
int rw_correlations(hid_t f, const char *path, xfer_err *err);
int rw_corr_groups(hid_t f, const xfer_results_corr *c, size_t n, const char *path, xfer_err *err);

/* /prune (results_prune.c): write, read into d->prune (NULL when absent), and merge shard b's rows
 * into a's (identical settings; a row present in both must be equal). */
int rw_prune(hid_t f, const xfer_results_prune *p, const char *path, xfer_err *err);
int rr_read_prune(hid_t f, xfer_results_data *d, const char *path, xfer_err *err);
int rr_merge_prune(xfer_results_data *a, xfer_results_data *b, const char *b_path, xfer_err *err);
/* Bootstrap interval of Kendall's tau over sources and fine-tune seeds (results_boot.c): x[i] is
 * source i's oriented score, acc[i] its n_acc[i] >= 1 per-seed best accuracies. Sets the interval
 * (NaN when no resample has a defined tau) and the number of resamples that had one. -1: out of
 * memory. */
#define RES_BOOT_RESAMPLES 2000
#define RES_BOOT_SEED 20261201ull
#define RES_BOOT_LEVEL 0.90
int res_boot_kendall(const double *x, const double *const *acc, const size_t *n_acc, size_t n,
                     double *lo, double *hi, int64_t *used);

/* Frees the contents of d (not d itself). */
void rr_clear(xfer_results_data *d);
int rr_read(hid_t f, const char *path, xfer_results_data *d, xfer_err *err);
/* Recomputes the value of every pool-level score (ncti, etran) of d from its sources' terms
 * (metrics.h, xfer_metric_pool), over the sources that hold them. */
int rr_pool_scores(xfer_results_data *d, xfer_err *err);

/* Opens path read-only with the HDF5 error stack silenced; XFER_EINPUT naming the file. */
int rr_open(const char *path, hid_t *out, xfer_err *err);

#endif
