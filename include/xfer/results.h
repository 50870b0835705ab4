/* The results file: one HDF5 file per experiment (or per shard), the contract between `xfer run`,
 * `xfer report`, `xfer merge`, scripts/plot.py and users' own h5py code. The schema is documented
 * in docs/results.md; this module is the only writer.
 *
 * Crash safety: every change is a transaction on a copy of the file (OUTPUT.tmp) that is closed,
 * fsync'ed and renamed over OUTPUT, so the file on disk is always a complete, closed HDF5 file —
 * a SIGKILL or power loss at any moment leaves the previous or the new state, never a torn file.
 * Each mutating call is its own transaction unless the caller brackets several calls with
 * xfer_results_begin() / xfer_results_commit() (e.g. all scores of one source). A writer holds an
 * exclusive flock() on OUTPUT.lock for the life of its handle, so a second writer is refused.
 *
 * Strings are UTF-8 variable-length. Numbers that are unknown are NaN (float) or -1 (integers). */
#ifndef XFER_RESULTS_H
#define XFER_RESULTS_H

#include <stddef.h>
#include <stdint.h>

#include "xfer/error.h"

/* Source status, stored as the string attribute `status`. */
typedef enum {
    XFER_SRC_PENDING = 0, /* registered, nothing computed yet */
    XFER_SRC_SCORED = 1,  /* scores written, fine-tune not finished */
    XFER_SRC_DONE = 2,    /* fine-tuned; best_test_acc etc. are final */
    XFER_SRC_FAILED = 3,  /* stopped with `error` (NaN loss, bad weights ...) */
    XFER_SRC_PRUNED = 4,  /* stopped at a successive-halving rung: curve and checkpoint kept */
} xfer_src_status;
#define XFER_SRC_N_STATUS 5

const char *xfer_src_status_name(xfer_src_status s);
/* Returns 0 and sets *out, or -1 for an unknown name. */
int xfer_src_status_parse(const char *name, xfer_src_status *out);

/* Root attributes. */
typedef struct {
    const char *xfer_version; /* NULL: this build's XFER_VERSION */
    const char *config;       /* the YAML text of the experiment (merge compares it) */
    const char *created;      /* ISO 8601; NULL: now, UTC */
    const char *device;       /* e.g. "cpu", "cuda:0 NVIDIA H100" */
    const char *precision;    /* e.g. "fp32" */
    int64_t seed;
} xfer_results_meta;

/* /target. Arrays may be NULL when their count is 0. */
typedef struct {
    const char *dataset;
    int64_t n_train, n_test, n_classes;
    const char *const *class_names; /* n_classes */
    const char *const *train_files; /* n_train (may be fewer: n_train_files) */
    const char *const *test_files;  /* n_test_files */
    size_t n_train_files, n_test_files;
} xfer_results_target;

/* A source's identity, written when it is registered. */
typedef struct {
    const char *name; /* group name under /sources: no '/', not "." */
    const char *arch;
    const char *weights; /* path or description of the starting weights ("" for random) */
    const char *chain;   /* e.g. "imagenet>caltech256" */
} xfer_results_source_info;

/* One row of /sources/<name>/curve (one fine-tuning epoch; epoch is 1-based). */
typedef struct {
    int64_t epoch;
    double lr, train_loss, train_acc, test_loss, test_acc, seconds;
} xfer_results_epoch;

typedef struct xfer_results xfer_results; /* a writer: path + lock + open transaction */

/* Creates a new results file with the root attributes (complete = 0) and takes the lock. Refuses
 * (XFER_EINPUT) when path exists unless overwrite is set, or when another process holds the lock.
 */
int xfer_results_create(const char *path, const xfer_results_meta *meta, int overwrite,
                        xfer_results **out, xfer_err *err);
/* Opens an existing results file for writing (resume) and takes the lock; checks that it is an
 * xfer results file. */
int xfer_results_open(const char *path, xfer_results **out, xfer_err *err);
/* Commits an open transaction (if any), releases the lock and frees r. Returns the commit status
 * (r is freed in every case). r may be NULL. */
int xfer_results_close(xfer_results *r, xfer_err *err);

/* Durable (default 1): fsync the new file and its directory before/after each rename, so a power
 * loss cannot lose a committed change (~10-20 ms per transaction on a disk). 0: skip the fsyncs;
 * still safe against a crash or SIGKILL of the process (rename is atomic), not against power loss.
 */
void xfer_results_set_durable(xfer_results *r, int durable);

/* Groups the following calls into one transaction (nesting is not supported). */
int xfer_results_begin(xfer_results *r, xfer_err *err);
int xfer_results_commit(xfer_results *r, xfer_err *err);

/* Writes (or rewrites) /target. */
int xfer_results_write_target(xfer_results *r, const xfer_results_target *t, xfer_err *err);

/* Registers /sources/<name> with status pending, empty scores and curve. If the group exists with
 * the same arch, weights and chain it is left as it is (resume); different identity: XFER_EINPUT.
 */
int xfer_results_add_source(xfer_results *r, const xfer_results_source_info *s, xfer_err *err);

/* Sets status and error (NULL -> ""), and recomputes the summary attributes from the curve:
 * best_test_acc (max test_acc), best_epoch (its epoch, the first on ties), epochs_to_95pct (the
 * first epoch with test_acc >= 0.95 * best), curve_auc (mean test_acc over the epochs). */
int xfer_results_set_status(xfer_results *r, const char *source, xfer_src_status status,
                            const char *error, xfer_err *err);

/* Writes /sources/<source>/scores/<metric> = value with attributes seconds and direction (+1:
 * higher is better, -1: lower is better, e.g. emd), and `mean` when mean is not NULL
 * (softmax_max, emd). Overwrites an earlier value. */
int xfer_results_write_score(xfer_results *r, const char *source, const char *metric, int direction,
                             double value, double seconds, const double *mean, xfer_err *err);

struct xfer_results_score;
/* The general form: writes s (metric, value, seconds, direction, mean unless NaN, kind, error
 * unless NULL, terms when n_terms > 0). */
int xfer_results_write_score_full(xfer_results *r, const char *source,
                                  const struct xfer_results_score *s, xfer_err *err);

/* Appends one epoch to /sources/<source>/curve (each field dataset grows by one). */
int xfer_results_append_epoch(xfer_results *r, const char *source, const xfer_results_epoch *row,
                              xfer_err *err);
/* Shrinks the curve to its first n_epochs rows (resume from an older checkpoint). */
int xfer_results_truncate_curve(xfer_results *r, const char *source, size_t n_epochs,
                                xfer_err *err);

/* /prune: the settings of a successive-halving sweep and its rung decisions (written only when
 * pruning is on; docs/results.md). One row per source that reached a rung. */
typedef struct {
    int64_t rung, epoch; /* rung index (0-based) and its epoch */
    char *source;
    double value; /* the ranking value at the rung (test_acc or curve_auc up to epoch) */
    int64_t kept; /* 1: went on, 0: pruned here */
} xfer_results_rung_row;

typedef struct {
    char *method, *metric, *scope, *seed_by;        /* seed_by "" when none */
    int64_t eta, min_epochs, keep_at_least, epochs; /* epochs: the full fine-tune */
    size_t n_rows;
    xfer_results_rung_row *rows; /* by rung, then source name */
} xfer_results_prune;

void xfer_results_prune_free(xfer_results_prune *p);
/* (Re)writes /prune from p (rows sorted by rung, then source). */
int xfer_results_write_prune(xfer_results *r, const xfer_results_prune *p, xfer_err *err);
/* Replaces the root attribute config (a resume with other pruning settings, docs/run.md). */
int xfer_results_set_config(xfer_results *r, const char *config, xfer_err *err);
/* Repeated fine-tunes (the config's `seeds`). Fine-tune i of a source (i = 0 .. seeds-1, with seed
 * `seed`) writes its curve to /sources/<source>/curve for i = 0 and to
 * /sources/<source>/seeds/<i>/curve for i >= 1. xfer_results_add_seed registers fine-tune i
 * (creates seeds/<i> with attribute seed; i = 0 is always there); an existing one with another
 * seed is XFER_EINPUT. The _at functions are the two above for fine-tune i. */
#define XFER_RESULTS_MAX_SEED_INDEX 9999
int xfer_results_add_seed(xfer_results *r, const char *source, int index, int64_t seed,
                          xfer_err *err);
int xfer_results_append_epoch_at(xfer_results *r, const char *source, int index,
                                 const xfer_results_epoch *row, xfer_err *err);
int xfer_results_truncate_curve_at(xfer_results *r, const char *source, int index, size_t n_epochs,
                                   xfer_err *err);

/* Recomputes /correlations and /correlations_by_arch from the sources with status done. */
int xfer_results_write_correlations(xfer_results *r, xfer_err *err);

/* Sets the root attribute complete (0/1). */
int xfer_results_set_complete(xfer_results *r, int complete, xfer_err *err);

/* ---- reading (report, merge, resume) ----------------------------------------------------------
 */

/* What a score dataset is (attribute `kind`, docs/results.md). */
typedef enum {
    XFER_SCORE_METRIC = 0,   /* a transferability metric computed from the target data */
    XFER_SCORE_BASELINE = 1, /* a baseline that needs no target data (params, prior) */
} xfer_score_kind;

typedef struct xfer_results_score {
    char *metric;
    double value, seconds, mean; /* mean: NaN when absent */
    int direction;               /* +1 / -1 */
    xfer_score_kind kind;
    char *error; /* NULL, or why this metric failed on this source (value NaN) */
    /* A pool-level metric (ncti, etran): the source's raw terms (attribute `terms`); value is then
     * the pooled score over the sources present, recomputed whenever a results file is read. */
    size_t n_terms;
    double *terms;
} xfer_results_score;

/* One fine-tune of a source: its seed, its curve and the summary of that curve. */
typedef struct {
    int64_t seed;
    double best_test_acc, curve_auc;
    int64_t best_epoch, epochs_to_95pct;
    size_t n_epochs;
    int64_t *epoch;
    double *lr, *train_loss, *train_acc, *test_loss, *test_acc, *seconds;
} xfer_results_seed;

typedef struct {
    char *name, *arch, *weights, *chain, *error;
    xfer_src_status status;
    /* Over the fine-tune seeds: best_test_acc and curve_auc are the means of the seeds' values,
     * the _sd their sample standard deviations (NaN with one seed); best_epoch and
     * epochs_to_95pct are those of the mean curve (test_acc averaged over the seeds per epoch).
     * With one seed these are that curve's own values. */
    double best_test_acc, curve_auc, best_test_acc_sd, curve_auc_sd;
    int64_t best_epoch, epochs_to_95pct;
    size_t n_scores;
    xfer_results_score *scores;
    /* the first fine-tune's curve (/curve) */
    size_t n_epochs;
    int64_t *epoch;
    double *lr, *train_loss, *train_acc, *test_loss, *test_acc, *seconds;
    /* every fine-tune, [0] being a copy of the curve above; n_seeds >= 1 */
    size_t n_seeds;
    xfer_results_seed *seeds;
} xfer_results_source;

/* The correlation fields, in the order of XFER_CORR_NAMES. */
enum {
    XFER_CORR_PEARSON,
    XFER_CORR_SPEARMAN,
    XFER_CORR_KENDALL,
    XFER_CORR_WEIGHTED_TAU,
    XFER_CORR_TOP1_HIT,
    XFER_CORR_TOP1_GAP,
    XFER_CORR_N_BASE
};
#define XFER_CORR_N (2 * XFER_CORR_N_BASE) /* then the same against curve_auc (suffix _auc) */
extern const char *const XFER_CORR_NAMES[XFER_CORR_N];

/* A metric whose values over the sources correlated differ by less than this, relative to their
 * largest magnitude ((max - min) <= XFER_SATURATION_RTOL * max(|max|, |min|)), does not
 * discriminate between them (e.g. sfda = 1.0 for every source): its correlations are left empty
 * (NaN) with that reason, and the report says so instead of ranking (docs/results.md). */
#define XFER_SATURATION_RTOL 1e-6
/* 1 when values [n] (finite) do not discriminate in that sense; n < 2 is not saturation. */
int xfer_results_saturated(const double *values, size_t n);

typedef struct {
    char *arch; /* NULL: over all sources */
    char *metric;
    int direction;
    int64_t n; /* sources used (status done, finite score) */
    double v[XFER_CORR_N];
    char *reason; /* NULL, or why v is empty (NaN): the metric does not discriminate */
    /* Bootstrap 90% interval of kendall over the sources and their fine-tune seeds, and the
     * number of resamples with a defined tau (docs/results.md); NaN / 0 when not computed. */
    double kendall_lo, kendall_hi;
    int64_t n_boot;
} xfer_results_corr;

typedef struct {
    char *xfer_version, *config, *created, *device, *precision;
    int64_t seed;
    int complete;
    int has_target;
    char *dataset;
    int64_t n_train, n_test, n_classes;
    size_t n_class_names, n_train_files, n_test_files;
    char **class_names, **train_files, **test_files;
    size_t n_sources;
    xfer_results_source *sources; /* in the file's (name) order */
    size_t n_corr;
    xfer_results_corr *corr;   /* overall first, then by arch; as stored in the file */
    xfer_results_prune *prune; /* /prune, or NULL: no pruning */
} xfer_results_data;

/* Reads a whole results file (no lock needed). A missing, truncated or foreign file: XFER_EINPUT
 * with the path in the message. */
int xfer_results_read(const char *path, xfer_results_data **out, xfer_err *err);
void xfer_results_data_free(xfer_results_data *d);
const xfer_results_source *xfer_results_find_source(const xfer_results_data *d, const char *name);
const xfer_results_score *xfer_results_find_score(const xfer_results_source *s, const char *metric);

/* Computes the correlations of d's done sources (overall, then per arch in name order) into a new
 * array; *n_out set. Does not touch d->corr. */
int xfer_results_compute_corr(const xfer_results_data *d, xfer_results_corr **out, size_t *n_out,
                              xfer_err *err);
void xfer_results_corr_free(xfer_results_corr *c, size_t n);

/* Writes d as a new results file at path (temp + rename), recomputing its correlations. Used by
 * merge; takes the lock on path.lock while writing. */
int xfer_results_write_all(const char *path, const xfer_results_data *d, int overwrite,
                           xfer_err *err);

/* xfer merge: reads the inputs, refuses different `config` or `/target` (XFER_EINPUT naming the
 * file) and duplicate sources with different content, and writes the union to out. */
int xfer_results_merge(const char *out, const char *const *inputs, size_t n_inputs, int overwrite,
                       xfer_err *err);

#endif
