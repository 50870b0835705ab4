/* Transferability metrics: pure functions of (features f [N,D], source-model probabilities
 * theta [N,Cs], target labels y [N] in [0,Ct), ground distance D [Cs,Ct]) -> a number. Every metric
 * accumulates in float64. `xfer metrics` (inputs from an HDF5 file) and `xfer run` (inputs from
 * the engine's forward pass) both go through xfer_metric_compute(), so they share one code path.
 * Formulas, papers, directions and parameters: docs/metrics.md. */
#ifndef XFER_METRICS_H
#define XFER_METRICS_H

#include <stddef.h>

#include "xfer/error.h"

/* The inputs. Pointers are borrowed (never freed by the metrics); any may be NULL when absent.
 * Row-major: features[i*d + k], probs[i*cs + s], distance[s*ct + t]. Give features either as
 * float32 (features_f32) or float64 (features); if both are set, features (float64) wins. */
/* Work shared by the metrics of one input (the features' column means and the eigendecomposition
 * of their covariance, which gbc, ncti, parc and nleep all start from): set
 * xfer_metric_input.cache to one before computing several metrics of the same input, free it
 * after. Optional (NULL: every metric computes its own); the values are the same bit for bit.
 * Valid while the input's arrays stay unchanged; one thread at a time. */
typedef struct xfer_metric_cache xfer_metric_cache;
xfer_metric_cache *xfer_metric_cache_new(void); /* NULL when out of memory */
void xfer_metric_cache_free(xfer_metric_cache *c);

typedef struct {
    int n;                     /* N samples */
    int d;                     /* feature dimension D */
    const float *features_f32; /* [N,D] */
    const double *features;    /* [N,D] */
    int cs;                    /* source classes Cs */
    const double *probs;       /* [N,Cs], rows are probability vectors (softmax outputs) */
    int ct;                    /* target classes Ct; labels must lie in [0,Ct) */
    const int *labels;         /* [N] */
    const double *distance;    /* [Cs,Ct] ground distance (emd) */
    int values_checked;        /* 1: the caller already ran xfer_metric_check_inputs on every input
                                  present (finite values, labels in range): each metric then checks only
                                  presence and shapes, not the N x (D + Cs) values again */
    int e;                     /* label-embedding dimension E */
    const double *label_embedding; /* [Ct,E] a vector per target class (emms: the class names'
                                      word vectors) */
    xfer_metric_cache *cache;      /* optional, see xfer_metric_cache_new */
} xfer_metric_input;

/* Metric parameters as key/value strings (from the config's `scores: [{name, params}]` or the
 * CLI). Each metric parses its own keys; unknown keys and bad values are named errors. */
typedef struct {
    int n;
    const char *const *keys;
    const char *const *values;
} xfer_metric_params;

#define XFER_METRIC_MAX_TERMS 4

typedef struct {
    double value; /* the score; for softmax_max and emd the paper's sum over samples; NaN for a
                     pool-level metric (its value needs the other sources: xfer_metric_pool) */
    double mean;  /* softmax_max, emd: the mean over samples; otherwise equal to value */
    int has_mean; /* 1 for softmax_max and emd */
    int n_terms;  /* pool-level metrics: the source's raw terms (def->n_terms of them) */
    double terms[XFER_METRIC_MAX_TERMS];
} xfer_metric_result;

enum {
    XFER_METRIC_NEEDS_FEATURES = 1,
    XFER_METRIC_NEEDS_PROBS = 2,
    XFER_METRIC_NEEDS_DISTANCE = 4,
    XFER_METRIC_NEEDS_LABELS = 8,
    XFER_METRIC_NEEDS_EMBEDDING = 16,
};

typedef int (*xfer_metric_fn)(const xfer_metric_input *in, const xfer_metric_params *p,
                              xfer_metric_result *out, xfer_err *err);

/* The pool part of a pool-level metric: values [n_sources] from the sources' raw terms
 * [n_sources, n_terms] (row-major), e.g. min-max normalisation of each term across the sources. */
typedef void (*xfer_metric_pool_fn)(const double *terms, int n_sources, double *values);

typedef struct {
    const char *name;
    int direction;          /* +1: higher is better; -1: lower is better */
    unsigned needs;         /* XFER_METRIC_NEEDS_* */
    xfer_metric_fn compute; /* per source; for a pool-level metric it fills only the terms */
    const char *params;     /* comma-separated accepted parameter keys, "" for none */
    const char *summary;
    int n_terms;              /* pool-level metrics (ncti, etran): terms per source; else 0 */
    xfer_metric_pool_fn pool; /* pool-level metrics: the pool part; else NULL */
} xfer_metric_def;

/* The registry, in a fixed order (the default order of `xfer metrics`). */
const xfer_metric_def *xfer_metric_table(int *count);
/* NULL when unknown. */
const xfer_metric_def *xfer_metric_find(const char *name);

/* Checks the inputs a metric needs (present, shapes, finite values, labels in range, rows of
 * probs non-negative), checks the parameter keys, then computes. On failure returns XFER_EINPUT
 * (or XFER_EINTERNAL for an environment failure) with a message naming the metric and the input.
 * p may be NULL. */
int xfer_metric_compute(const xfer_metric_def *m, const xfer_metric_input *in,
                        const xfer_metric_params *p, xfer_metric_result *out, xfer_err *err);

/* Pool-level metrics: values [n_sources] over the sources given (their terms [n_sources,
 * m->n_terms]); XFER_EINPUT when m is not pool-level or a term is not finite. */
int xfer_metric_pool(const xfer_metric_def *m, const double *terms, int n_sources, double *values,
                     xfer_err *err);
/* Min-max normalisation of column k of terms [n, n_terms] across the n sources into out [n]; a
 * column whose values are all equal normalises to 0 (one source, or identical sources). */
void xfer_metric_minmax(const double *terms, int n, int n_terms, int k, double *out);

/* Validates the inputs present in `in` (all of them, whatever the metric): finite values, labels
 * in range, probabilities non-negative. Called once by xfer_metric_compute per metric; callers
 * computing many metrics may call it first to report a bad input once. */
int xfer_metric_check_inputs(const xfer_metric_input *in, unsigned needs, const char *metric,
                             xfer_err *err);

/* Parameter helpers for metric implementations: each returns XFER_OK with *out = dflt when the key
 * is absent, or XFER_EINPUT naming the metric, key and value when the value does not parse or is
 * out of [lo, hi]. */
int xfer_metric_param_double(const xfer_metric_params *p, const char *metric, const char *key,
                             double dflt, double lo, double hi, double *out, xfer_err *err);
int xfer_metric_param_int(const xfer_metric_params *p, const char *metric, const char *key,
                          long dflt, long lo, long hi, long *out, xfer_err *err);
/* choices: "|"-separated; *out = index of the value among them. */
int xfer_metric_param_choice(const xfer_metric_params *p, const char *metric, const char *key,
                             const char *choices, int dflt, int *out, xfer_err *err);

/* Row-wise softmax of logits [n,c] into probs (may alias), in float64 with max subtraction. */
void xfer_softmax_rows(const double *logits, int n, int c, double *probs);

/* ---- the `xfer metrics` input file (docs/metrics.md) ---- */

/* An HDF5 file with `features` [N,D] (any float type), `probs` or `logits` [N,Cs] (logits are
 * softmaxed), `labels` [N] (integers), optional `ground_distance` [Cs,Ct], optional
 * `label_embedding` [Ct,E] (any float type) and optional string
 * datasets `source_classes` [Cs] / `target_classes` [Ct]. Ct = the ground distance's columns, else
 * the number of target_classes, else max(labels) + 1. Everything is owned by the struct. */
typedef struct {
    xfer_metric_input in;
    double *features, *probs, *distance, *embedding;
    int *labels;
    char **source_classes, **target_classes;
    int n_source_classes, n_target_classes;
    /* optional scalar datasets `params` and `prior`: the baselines (docs/metrics.md) */
    double params, prior;
    int has_params, has_prior;
} xfer_metric_file;

/* XFER_EINPUT naming the file and dataset for a missing file, wrong rank/type or a shape mismatch.
 * On failure f is left freed. */
int xfer_metric_file_load(const char *path, xfer_metric_file *f, xfer_err *err);
void xfer_metric_file_free(xfer_metric_file *f);

#endif
