/* xfer metrics INPUT.h5: transferability metrics of features/probabilities/labels computed
 * elsewhere, through the same registry as `xfer run` (include/xfer/metrics.h). Prints each metric
 * with the seconds it took, as JSON or a Markdown table. Bad input: exit 2 with a named message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "xfer/metrics.h"
#include "xfer/wordvec.h"

#define MAX_PARAMS 64

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int has_inputs(const xfer_metric_input *in, unsigned needs) {
    if ((needs & XFER_METRIC_NEEDS_FEATURES) && !in->features && !in->features_f32) return 0;
    if ((needs & XFER_METRIC_NEEDS_PROBS) && !in->probs) return 0;
    if ((needs & XFER_METRIC_NEEDS_LABELS) && !in->labels) return 0;
    if ((needs & XFER_METRIC_NEEDS_DISTANCE) && !in->distance) return 0;
    if ((needs & XFER_METRIC_NEEDS_EMBEDDING) && !in->label_embedding) return 0;
    return 1;
}

/* --params "metric.key=value,metric.key=value": split into per-entry strings (owned by buf). */
typedef struct {
    int n;
    char *metric[MAX_PARAMS], *key[MAX_PARAMS], *value[MAX_PARAMS];
} param_list;

static int parse_params(char *buf, param_list *pl, xfer_err *err) {
    pl->n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *dot = strchr(tok, '.'), *eq = strchr(tok, '=');
        if (!dot || !eq || eq < dot || dot == tok || eq == dot + 1)
            return xfer_fail(err, XFER_EINPUT, "--params: '%s' (expected METRIC.KEY=VALUE)", tok);
        if (pl->n == MAX_PARAMS)
            return xfer_fail(err, XFER_EINPUT, "--params: more than %d entries", MAX_PARAMS);
        *dot = *eq = '\0';
        if (!xfer_metric_find(tok))
            return xfer_fail(err, XFER_EINPUT, "--params: unknown metric '%s'", tok);
        pl->metric[pl->n] = tok, pl->key[pl->n] = dot + 1, pl->value[pl->n] = eq + 1;
        pl->n++;
    }
    return XFER_OK;
}

/* --word-vectors: the ground distance [Cs,Ct] from the source and target class names (unless the
 * file gives one) and the target classes' vectors [Ct,E] (emms; unless the file gives them). */
static int inputs_from_words(xfer_metric_file *f, const char *wv_path, xfer_err *err) {
    if (!f->target_classes)
        return xfer_fail(err, XFER_EINPUT,
                         "--word-vectors needs 'source_classes' and 'target_classes' datasets "
                         "(only 'target_classes' for emms)");
    xfer_wordvec_cfg wv;
    memset(&wv, 0, sizeof wv);
    wv.present = 1;
    wv.path = (char *)wv_path;
    size_t l = strlen(wv_path);
    wv.format = l > 4 && strcmp(wv_path + l - 4, ".bin") == 0 ? XFER_WV_BIN : XFER_WV_VEC;
    wv.name_vector = XFER_NAMEVEC_SUM;
    wv.class_distance = XFER_CLASSDIST_WORDVEC;
    if (!f->in.label_embedding) {
        int rc = xfer_class_vectors(&wv, (const char *const *)f->target_classes,
                                    f->n_target_classes, &f->in.e, &f->embedding, err);
        if (rc) return rc;
        f->in.label_embedding = f->embedding;
        f->in.ct = f->n_target_classes;
    }
    if (!f->source_classes || f->in.distance) return XFER_OK;
    f->distance = malloc((size_t)f->n_source_classes * f->n_target_classes * sizeof(double));
    if (!f->distance) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    int rc = xfer_class_distance_matrix(&wv, (const char *const *)f->source_classes,
                                        f->n_source_classes, (const char *const *)f->target_classes,
                                        f->n_target_classes, f->distance, err);
    if (rc) return rc;
    f->in.distance = f->distance;
    f->in.ct = f->n_target_classes;
    return XFER_OK;
}

#define MAX_INPUTS 256

/* One input file: its metrics into obj (json) or md (a table). Pool-level metrics leave their
 * terms in terms[metric index * XFER_METRIC_MAX_TERMS] and a placeholder value. */
static int metrics_of_file(const char *path, const char *mlist_in, const char *s_wv,
                           const param_list *pl, int json, cJSON *obj, FILE *md, double *terms,
                           cJSON **pool_items, xfer_err *err) {
    int nm = 0;
    const xfer_metric_def *table = xfer_metric_table(&nm);
    const xfer_metric_def **chosen = calloc((size_t)nm * 4 + 1, sizeof *chosen);
    char *mlist = mlist_in ? strdup(mlist_in) : NULL;
    xfer_metric_file f;
    memset(&f, 0, sizeof f);
    int rc = XFER_OK, nchosen = 0;
    if (!chosen || (mlist_in && !mlist)) {
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
        goto done;
    }
    if ((rc = xfer_metric_file_load(path, &f, err))) goto done;
    if (s_wv && (!f.in.distance || !f.in.label_embedding) &&
        (rc = inputs_from_words(&f, s_wv, err))) {
        xfer_err_prefix(err, "%s: class-name vectors from %s: ", path, s_wv);
        goto done;
    }
    int want_base[2] = {!mlist, !mlist}; /* params, prior */
    if (mlist) {
        for (char *tok = strtok(mlist, ","); tok; tok = strtok(NULL, ",")) {
            if (!strcmp(tok, "params") || !strcmp(tok, "prior")) {
                int b = !strcmp(tok, "prior");
                if (!(b ? f.has_prior : f.has_params)) {
                    rc = xfer_fail(err, XFER_EINPUT,
                                   "--metrics: the baseline %s needs a scalar dataset '%s' in %s",
                                   tok, tok, path);
                    goto done;
                }
                want_base[b] = 1;
                continue;
            }
            const xfer_metric_def *m = xfer_metric_find(tok);
            if (!m) {
                rc = xfer_fail(err, XFER_EINPUT, "--metrics: unknown metric '%s'", tok);
                goto done;
            }
            if (nchosen < nm * 4) chosen[nchosen++] = m;
        }
    } else {
        for (int i = 0; i < nm; i++)
            if (has_inputs(&f.in, table[i].needs)) chosen[nchosen++] = &table[i];
        if (nchosen == 0 && !f.has_params && !f.has_prior) {
            rc = xfer_fail(err, XFER_EINPUT,
                           "%s: no metric has its inputs (labels plus features "
                           "or probs)",
                           path);
            goto done;
        }
    }
    /* Every input present is checked once, whichever metrics run. */
    if ((rc = xfer_metric_check_inputs(&f.in, 0, "input", err))) {
        xfer_err_prefix(err, "%s: ", path);
        goto done;
    }
    f.in.values_checked = 1;
    if (!json) {
        fprintf(md, "| metric | value | mean | better | seconds |\n");
        fprintf(md, "|---|---:|---:|---|---:|\n");
    }
    for (int i = 0; i < nchosen; i++) {
        const xfer_metric_def *m = chosen[i];
        const char *keys[MAX_PARAMS], *vals[MAX_PARAMS];
        xfer_metric_params p = {0, keys, vals};
        for (int q = 0; q < pl->n; q++)
            if (strcmp(pl->metric[q], m->name) == 0)
                keys[p.n] = pl->key[q], vals[p.n++] = pl->value[q];
        xfer_metric_result r;
        double t0 = now_s();
        rc = xfer_metric_compute(m, &f.in, &p, &r, err);
        double dt = now_s() - t0;
        if (rc) {
            xfer_err_prefix(err, "%s: ", path);
            goto done;
        }
        int mi = (int)(m - table);
        if (m->pool)
            for (int q = 0; q < r.n_terms; q++)
                terms[mi * XFER_METRIC_MAX_TERMS + q] = r.terms[q];
        if (json) {
            cJSON *o = cJSON_AddObjectToObject(obj, m->name);
            if (m->pool) {
                pool_items[mi] = cJSON_AddNumberToObject(o, "value", 0); /* set when pooled */
                cJSON_AddItemToObject(o, "terms", cJSON_CreateDoubleArray(r.terms, r.n_terms));
            } else {
                cJSON_AddNumberToObject(o, "value", r.value);
            }
            if (r.has_mean) cJSON_AddNumberToObject(o, "mean", r.mean);
            cJSON_AddNumberToObject(o, "seconds", dt);
        } else if (m->pool) {
            fprintf(md, "| %s | @POOL%d@ |  | %s | %.3f |\n", m->name, mi,
                    m->direction > 0 ? "higher" : "lower", dt);
        } else {
            fprintf(md, "| %s | %.10g | ", m->name, r.value);
            if (r.has_mean) fprintf(md, "%.10g", r.mean);
            fprintf(md, " | %s | %.3f |\n", m->direction > 0 ? "higher" : "lower", dt);
        }
    }
    for (int b = 0; b < 2; b++) { /* the baselines: numbers the file gives, no target data */
        const char *name = b ? "prior" : "params";
        double x = b ? f.prior : f.params;
        if (!want_base[b] || !(b ? f.has_prior : f.has_params)) continue;
        if (json) {
            cJSON *o = cJSON_AddObjectToObject(obj, name);
            cJSON_AddNumberToObject(o, "value", x);
            cJSON_AddStringToObject(o, "kind", "baseline");
            cJSON_AddNumberToObject(o, "seconds", 0);
        } else {
            fprintf(md, "| %s (baseline) | %.10g |  | higher | 0 |\n", name, x);
        }
    }
done:
    xfer_metric_file_free(&f);
    free(chosen);
    free(mlist);
    return rc;
}

int cmd_metrics(int argc, char **argv) {
    static const char *s_metrics, *s_format, *s_wv, *s_params;
    s_metrics = s_format = s_wv = s_params = NULL;
    static const xfer_opt opts[] = {
        {"metrics", XFER_OPT_STRING, &s_metrics, "LIST",
         "comma-separated metrics (default: all whose inputs are present)"},
        {"format", XFER_OPT_STRING, &s_format, "json|md", "output format (default md)"},
        {"word-vectors", XFER_OPT_STRING, &s_wv, "PATH",
         "fastText .vec/.bin for the EMD ground distance"},
        {"params", XFER_OPT_STRING, &s_params, "LIST",
         "metric parameters, e.g. gbc.covariance=spherical,transrate.eps=1e-4"},
    };
    static const xfer_cmd_spec spec = {
        "metrics",
        "INPUT.h5 [INPUT.h5 ...]",
        "Compute transferability metrics from features/probabilities/labels in HDF5 files.",
        "Each INPUT.h5 (one per source) holds `labels` [N] and any of `features` [N,D], `probs` or "
        "`logits` [N,Cs], `ground_distance` [Cs,Ct], `source_classes`/`target_classes` "
        "(strings), and the baselines `params`/`prior` (scalars). Metrics: softmax_max emd leep "
        "nce hscore hscore_reg logme gbc transrate sfda nleep parc knn tmi pactran etran; etran is "
        "pooled over the inputs given (give every candidate source's file at once). With several "
        "inputs the JSON has one object per input path (docs/metrics.md).",
        opts,
        (int)(sizeof opts / sizeof opts[0]),
        1,
        MAX_INPUTS};
    const char *pos[MAX_INPUTS + 1];
    int npos = 0;
    int rc = xfer_cmd_parse(&spec, argc, argv, pos, &npos);
    if (rc == XFER_OPTS_HELP) return XFER_OK;
    if (rc != XFER_OK) return rc;

    xfer_err err;
    xfer_err_clear(&err);
    int json = 0;
    if (s_format && strcmp(s_format, "json") == 0)
        json = 1;
    else if (s_format && strcmp(s_format, "md") != 0) {
        fprintf(stderr, "xfer: error: --format '%s' (expected json or md)\n", s_format);
        return XFER_EINPUT;
    }
    int nm = 0;
    const xfer_metric_def *table = xfer_metric_table(&nm);
    char *plist = s_params ? strdup(s_params) : NULL;
    cJSON *root = cJSON_CreateObject();
    FILE *md = NULL;
    char *md_text = NULL;
    size_t md_len = 0;
    param_list pl = {0};
    /* terms[file][metric][term], NaN where absent; the pooled values' JSON items */
    double *terms = malloc((size_t)npos * nm * XFER_METRIC_MAX_TERMS * sizeof *terms);
    cJSON **items = calloc((size_t)npos * nm, sizeof *items);
    double *col = malloc((size_t)npos * XFER_METRIC_MAX_TERMS * sizeof *col);
    double *vals = malloc((size_t)npos * sizeof *vals);
    if (!root || (s_params && !plist) || !terms || !items || !col || !vals) {
        rc = xfer_fail(&err, XFER_EINTERNAL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < (size_t)npos * nm * XFER_METRIC_MAX_TERMS; i++)
        terms[i] = NAN;
    if (plist && (rc = parse_params(plist, &pl, &err))) goto done;
    /* The output is collected and printed whole: on an error stdout stays empty. */
    md = open_memstream(&md_text, &md_len);
    if (!md) {
        rc = xfer_fail(&err, XFER_EINTERNAL, "out of memory");
        goto done;
    }
    for (int k = 0; k < npos; k++) {
        cJSON *obj = npos == 1 ? root : cJSON_AddObjectToObject(root, pos[k]);
        if (!json && npos > 1) fprintf(md, "%s### %s\n\n", k ? "\n" : "", pos[k]);
        rc = metrics_of_file(pos[k], s_metrics, s_wv, &pl, json, obj, md,
                             terms + (size_t)k * nm * XFER_METRIC_MAX_TERMS, items + (size_t)k * nm,
                             &err);
        if (rc) goto done;
    }
    fclose(md);
    md = NULL;
    /* pool-level metrics over the inputs that have them */
    double *pooled = calloc((size_t)npos * nm, sizeof *pooled);
    if (!pooled) {
        rc = xfer_fail(&err, XFER_EINTERNAL, "out of memory");
        goto done;
    }
    for (int m = 0; m < nm && rc == XFER_OK; m++) {
        if (!table[m].pool) continue;
        int cnt = 0, who[MAX_INPUTS];
        for (int k = 0; k < npos; k++)
            if (!isnan(terms[((size_t)k * nm + m) * XFER_METRIC_MAX_TERMS])) {
                for (int q = 0; q < table[m].n_terms; q++)
                    col[cnt * table[m].n_terms + q] =
                        terms[((size_t)k * nm + m) * XFER_METRIC_MAX_TERMS + q];
                who[cnt++] = k;
            }
        if (!cnt || (rc = xfer_metric_pool(&table[m], col, cnt, vals, &err))) continue;
        for (int j = 0; j < cnt; j++) {
            pooled[(size_t)who[j] * nm + m] = vals[j];
            if (items[(size_t)who[j] * nm + m])
                cJSON_SetNumberValue(items[(size_t)who[j] * nm + m], vals[j]);
        }
    }
    if (rc == XFER_OK && json) {
        char *s = cJSON_Print(root);
        if (s) printf("%s\n", s);
        free(s);
    } else if (rc == XFER_OK) { /* fill the pooled cells of the tables in input order */
        int k = npos == 1 ? 0 : -1;
        for (char *c = md_text; *c; c++) {
            int mi;
            if (*c == '#' && !strncmp(c, "### ", 4) && (c == md_text || c[-1] == '\n')) k++;
            if (*c == '@' && sscanf(c, "@POOL%d@", &mi) == 1 && k >= 0) {
                printf("%.10g", pooled[(size_t)k * nm + mi]);
                c = strchr(c + 1, '@');
                continue;
            }
            putchar(*c);
        }
    }
    free(pooled);
done:
    if (md) fclose(md);
    free(md_text);
    if (rc) fprintf(stderr, "xfer: error: %s\n", err.msg);
    cJSON_Delete(root);
    free(terms);
    free(items);
    free(col);
    free(vals);
    free(plist);
    return rc;
}
