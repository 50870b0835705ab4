/* The metric registry shared by `xfer metrics` and `xfer run`, input validation and parameter
 * parsing. Directions and parameters are documented in docs/metrics.md. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "scores_internal.h"

#define F XFER_METRIC_NEEDS_FEATURES
#define P XFER_METRIC_NEEDS_PROBS
#define G XFER_METRIC_NEEDS_DISTANCE
#define L XFER_METRIC_NEEDS_LABELS
#define E XFER_METRIC_NEEDS_EMBEDDING

static const xfer_metric_def k_metrics[] = {
    {"softmax_max", +1, P, xfer_metric_softmax_max, "",
     "sum of the largest source probability (paper, Sec. 3.1)", 0, NULL},
    {"emd", -1, P | L | G, xfer_metric_emd, "",
     "sum of EMD(theta_i, onehot(y_i)) under the class-name ground distance (paper, Sec. 3.2)", 0,
     NULL},
    {"leep", +1, P | L, xfer_metric_leep, "", "log expected empirical prediction (Nguyen 2020)", 0,
     NULL},
    {"nce", +1, P | L, xfer_metric_nce, "", "negative conditional entropy (Tran 2019)", 0, NULL},
    {"hscore", +1, F | L, xfer_metric_hscore, "rcond", "H-score (Bao 2019)", 0, NULL},
    {"hscore_reg", +1, F | L, xfer_metric_hscore_reg, "rcond",
     "H-score with Ledoit-Wolf shrinkage (Ibrahim 2022)", 0, NULL},
    {"logme", +1, F | L, xfer_metric_logme, "max_iter,tol", "log maximum evidence (You 2021)", 0,
     NULL},
    {"gbc", +1, F | L, xfer_metric_gbc, "covariance,pca_dim",
     "Gaussian Bhattacharyya coefficient (Pandy 2022)", 0, NULL},
    {"transrate", +1, F | L, xfer_metric_transrate, "eps,variant", "TransRate (Huang 2022)", 0,
     NULL},
    {"sfda", +1, F | L, xfer_metric_sfda, "", "self-challenging Fisher discriminant (Shao 2022)", 0,
     NULL},
    {"nleep", +1, F | L, xfer_metric_nleep, "var_frac,components_per_class,seed,max_iter,tol",
     "Gaussian LEEP (Li 2021)", 0, NULL},
    {"parc", +1, F | L, xfer_metric_parc, "pca_dim",
     "pairwise annotation representation comparison (Bolya 2021)", 0, NULL},
    {"knn", +1, F | L, xfer_metric_knn, "k,distance", "leave-one-out k-NN accuracy (Sorkhei 2025)",
     0, NULL},
    {"tmi", +1, F | L, xfer_metric_tmi, "k,norm,min_dist",
     "intra-class feature entropy (Xu and Kang 2023)", 0, NULL},
    {"pactran", -1, P | L, xfer_metric_pactran, "alpha",
     "PAC-Bayesian bound, Dirichlet (Ding 2022)", 0, NULL},
    {"etran", +1, F | L, xfer_metric_etran, "",
     "energy-based transferability, pooled over the sources (Gholami 2023)", 2,
     xfer_metric_etran_pool},
    {"ncti", +1, F | L, xfer_metric_ncti, "pca_dim",
     "neural collapse transferability index, pooled over the sources (Wang 2023)", 3,
     xfer_metric_ncti_pool},
    {"emms", +1, F | L | E, xfer_metric_emms, "",
     "label-embedding regression residual, word-vector labels (Meng 2023)", 0, NULL},
};

const xfer_metric_def *xfer_metric_table(int *count) {
    if (count) *count = (int)(sizeof k_metrics / sizeof k_metrics[0]);
    return k_metrics;
}

const xfer_metric_def *xfer_metric_find(const char *name) {
    int n;
    const xfer_metric_def *t = xfer_metric_table(&n);
    for (int i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0) return &t[i];
    return NULL;
}

static int check_finite(const double *x, size_t count, const char *what, int cols,
                        const char *metric, xfer_err *err) {
    for (size_t i = 0; i < count; i++)
        if (!isfinite(x[i]))
            return xfer_fail(err, XFER_EINPUT, "%s: %s[%zu,%zu] is %s", metric, what, i / cols,
                             i % cols, isnan(x[i]) ? "NaN" : "infinite");
    return XFER_OK;
}

int xfer_metric_check_inputs(const xfer_metric_input *in, unsigned needs, const char *metric,
                             xfer_err *err) {
    if (!metric) metric = "metrics";
    if (in->n <= 0) return xfer_fail(err, XFER_EINPUT, "%s: no samples (N = %d)", metric, in->n);
    int have_f = in->features || in->features_f32;
    if ((needs & F) && !have_f)
        return xfer_fail(err, XFER_EINPUT, "%s needs features, none given", metric);
    if ((needs & P) && !in->probs)
        return xfer_fail(err, XFER_EINPUT, "%s needs probs or logits, none given", metric);
    if ((needs & L) && !in->labels)
        return xfer_fail(err, XFER_EINPUT, "%s needs labels, none given", metric);
    if ((needs & G) && !in->distance)
        return xfer_fail(err, XFER_EINPUT,
                         "%s needs a ground distance [Cs,Ct] (ground_distance, or "
                         "source_classes/target_classes with --word-vectors)",
                         metric);
    if ((needs & E) && !in->label_embedding)
        return xfer_fail(err, XFER_EINPUT,
                         "%s needs the target classes' word vectors [Ct,E] (label_embedding, or "
                         "target_classes with --word-vectors; in a config a word_vectors block "
                         "with a path)",
                         metric);
    if (in->label_embedding && in->e <= 0)
        return xfer_fail(err, XFER_EINPUT, "%s: label embedding has E = %d", metric, in->e);
    if (in->values_checked) { /* shapes only */
        if (have_f && in->d <= 0)
            return xfer_fail(err, XFER_EINPUT, "%s: features have D = %d", metric, in->d);
        if ((in->probs || in->distance) && in->cs <= 0)
            return xfer_fail(err, XFER_EINPUT, "%s: Cs = %d source classes", metric, in->cs);
        if ((in->labels || in->distance) && in->ct <= 0)
            return xfer_fail(err, XFER_EINPUT, "%s: Ct = %d target classes", metric, in->ct);
        return XFER_OK;
    }
    if (have_f) {
        if (in->d <= 0)
            return xfer_fail(err, XFER_EINPUT, "%s: features have D = %d", metric, in->d);
        size_t nd = (size_t)in->n * in->d;
        if (in->features) {
            if (check_finite(in->features, nd, "features", in->d, metric, err)) return err->code;
        } else {
            for (size_t i = 0; i < nd; i++)
                if (!isfinite(in->features_f32[i]))
                    return xfer_fail(err, XFER_EINPUT, "%s: features[%zu,%zu] is %s", metric,
                                     i / in->d, i % in->d,
                                     isnan(in->features_f32[i]) ? "NaN" : "infinite");
        }
    }
    if (in->probs) {
        if (in->cs <= 0)
            return xfer_fail(err, XFER_EINPUT, "%s: probs have Cs = %d", metric, in->cs);
        size_t nc = (size_t)in->n * in->cs;
        if (check_finite(in->probs, nc, "probs", in->cs, metric, err)) return err->code;
        for (size_t i = 0; i < nc; i++)
            if (in->probs[i] < 0)
                return xfer_fail(err, XFER_EINPUT, "%s: probs[%zu,%zu] = %g is negative", metric,
                                 i / in->cs, i % in->cs, in->probs[i]);
    }
    if (in->labels) {
        if (in->ct <= 0)
            return xfer_fail(err, XFER_EINPUT, "%s: Ct = %d target classes", metric, in->ct);
        for (int i = 0; i < in->n; i++)
            if (in->labels[i] < 0 || in->labels[i] >= in->ct)
                return xfer_fail(err, XFER_EINPUT, "%s: labels[%d] = %d is out of range [0, %d)",
                                 metric, i, in->labels[i], in->ct);
    }
    if (in->label_embedding && check_finite(in->label_embedding, (size_t)in->ct * in->e,
                                            "label_embedding", in->e, metric, err))
        return err->code;
    if (in->distance) {
        if (in->cs <= 0 || in->ct <= 0)
            return xfer_fail(err, XFER_EINPUT, "%s: ground distance without Cs/Ct", metric);
        if (check_finite(in->distance, (size_t)in->cs * in->ct, "ground_distance", in->ct, metric,
                         err))
            return err->code;
    }
    return XFER_OK;
}

static int check_param_keys(const xfer_metric_def *m, const xfer_metric_params *p, xfer_err *err) {
    if (!p) return XFER_OK;
    for (int i = 0; i < p->n; i++) {
        const char *k = p->keys[i];
        size_t kl = strlen(k);
        const char *s = m->params;
        int ok = 0;
        while (*s) {
            const char *e = strchr(s, ',');
            size_t l = e ? (size_t)(e - s) : strlen(s);
            if (l == kl && strncmp(s, k, l) == 0) ok = 1;
            s += l + (e ? 1 : 0);
        }
        if (!ok)
            return xfer_fail(err, XFER_EINPUT, "%s: unknown parameter '%s' (accepted: %s)", m->name,
                             k, *m->params ? m->params : "none");
    }
    return XFER_OK;
}

int xfer_metric_compute(const xfer_metric_def *m, const xfer_metric_input *in,
                        const xfer_metric_params *p, xfer_metric_result *out, xfer_err *err) {
    out->value = out->mean = NAN;
    out->has_mean = 0;
    if (xfer_metric_check_inputs(in, m->needs, m->name, err)) return err->code;
    if (check_param_keys(m, p, err)) return err->code;
    out->n_terms = 0;
    /* BLAS and LAPACK single-threaded: results independent of the thread count (linalg.c) */
    openblas_set_num_threads(1);
    int rc = m->compute(in, p, out, err);
    if (rc == XFER_OK && !out->has_mean) out->mean = out->value;
    if (rc == XFER_OK && m->pool) {
        if (out->n_terms != m->n_terms)
            return xfer_fail(err, XFER_EINTERNAL, "%s: %d terms (expected %d)", m->name,
                             out->n_terms, m->n_terms);
        for (int k = 0; k < out->n_terms; k++)
            if (!isfinite(out->terms[k]))
                return xfer_fail(err, XFER_EINPUT, "%s: term %d is not finite (%g)", m->name, k,
                                 out->terms[k]);
        return rc;
    }
    if (rc == XFER_OK && !isfinite(out->value))
        return xfer_fail(err, XFER_EINPUT, "%s: the score is not finite (%g)", m->name, out->value);
    return rc;
}

void xfer_metric_minmax(const double *terms, int n, int n_terms, int k, double *out) {
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        double x = terms[(size_t)i * n_terms + k];
        lo = x < lo ? x : lo;
        hi = x > hi ? x : hi;
    }
    for (int i = 0; i < n; i++)
        out[i] = hi > lo ? (terms[(size_t)i * n_terms + k] - lo) / (hi - lo) : 0.0;
}

int xfer_metric_pool(const xfer_metric_def *m, const double *terms, int n_sources, double *values,
                     xfer_err *err) {
    if (!m->pool) return xfer_fail(err, XFER_EINPUT, "%s is not a pool-level metric", m->name);
    for (size_t i = 0; i < (size_t)n_sources * m->n_terms; i++)
        if (!isfinite(terms[i]))
            return xfer_fail(err, XFER_EINPUT, "%s: source %zu's term %zu is not finite", m->name,
                             i / m->n_terms, i % m->n_terms);
    if (n_sources > 0) m->pool(terms, n_sources, values);
    return XFER_OK;
}

static const char *param_get(const xfer_metric_params *p, const char *key) {
    if (!p) return NULL;
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->keys[i], key) == 0) return p->values[i];
    return NULL;
}

int xfer_metric_param_double(const xfer_metric_params *p, const char *metric, const char *key,
                             double dflt, double lo, double hi, double *out, xfer_err *err) {
    const char *v = param_get(p, key);
    *out = dflt;
    if (!v) return XFER_OK;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(x) || x < lo || x > hi)
        return xfer_fail(err, XFER_EINPUT,
                         "%s: parameter %s = '%s' (expected a number in [%g, %g])", metric, key, v,
                         lo, hi);
    *out = x;
    return XFER_OK;
}

int xfer_metric_param_int(const xfer_metric_params *p, const char *metric, const char *key,
                          long dflt, long lo, long hi, long *out, xfer_err *err) {
    const char *v = param_get(p, key);
    *out = dflt;
    if (!v) return XFER_OK;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno || x < lo || x > hi)
        return xfer_fail(err, XFER_EINPUT,
                         "%s: parameter %s = '%s' (expected a whole number in [%ld, %ld])", metric,
                         key, v, lo, hi);
    *out = x;
    return XFER_OK;
}

int xfer_metric_param_choice(const xfer_metric_params *p, const char *metric, const char *key,
                             const char *choices, int dflt, int *out, xfer_err *err) {
    const char *v = param_get(p, key);
    *out = dflt;
    if (!v) return XFER_OK;
    const char *s = choices;
    for (int idx = 0; *s; idx++) {
        const char *e = strchr(s, '|');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (strlen(v) == l && strncmp(s, v, l) == 0) {
            *out = idx;
            return XFER_OK;
        }
        s += l + (e ? 1 : 0);
    }
    return xfer_fail(err, XFER_EINPUT, "%s: parameter %s = '%s' (expected %s)", metric, key, v,
                     choices);
}

void xfer_softmax_rows(const double *logits, int n, int c, double *probs) {
    /* rows are independent: the same bits whatever the thread count */
#pragma omp parallel for schedule(static) if ((long)n * c >= 65536)
    for (int i = 0; i < n; i++) {
        const double *z = logits + (size_t)i * c;
        double *p = probs + (size_t)i * c, mx = -INFINITY, s = 0;
        for (int k = 0; k < c; k++)
            mx = z[k] > mx ? z[k] : mx;
        for (int k = 0; k < c; k++)
            s += (p[k] = exp(z[k] - mx));
        for (int k = 0; k < c; k++)
            p[k] /= s;
    }
}
