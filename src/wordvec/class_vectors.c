/* Class-name vectors and the class distance matrix (the ground distance of the paper's EMD score).
 * Resolution of one word, in order: the word as written, its lower-case form, the config's
 * synonyms (whose value is split into words the same way), then — with a .bin — the subword
 * vector of the lower-case form. Anything else is collected and reported at once. */
#include "xfer/wordvec.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "strmap.h"

#define WORDNET_DEFAULT_DIR "/usr/share/wordnet"

/* The config's synonym for key: exact match first, then ASCII case-insensitive. */
static const char *synonym_of(const xfer_wordvec_cfg *wv, const char *key) {
    for (int i = 0; i < wv->n_synonyms; i++)
        if (strcmp(wv->synonym_from[i], key) == 0) return wv->synonym_to[i];
    for (int i = 0; i < wv->n_synonyms; i++)
        if (strcasecmp(wv->synonym_from[i], key) == 0) return wv->synonym_to[i];
    return NULL;
}

static char *lower_dup(const char *s) {
    char *l = strdup(s);
    if (l)
        for (char *p = l; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    return l;
}

/* The lookup keys: every string whose vector may be needed, deduplicated. */
typedef struct {
    char **keys;
    int n, cap;
    xfer_strmap index;
    float *vec;           /* [n * dim] */
    unsigned char *found; /* [n] */
} keyset;

static int key_add(keyset *ks, const char *s) {
    if (xfer_strmap_get(&ks->index, s) >= 0) return 0;
    if (ks->n == ks->cap) {
        int cap = ks->cap ? 2 * ks->cap : 64;
        char **bigger = realloc(ks->keys, (size_t)cap * sizeof *bigger);
        if (!bigger) return -1;
        ks->keys = bigger;
        ks->cap = cap;
    }
    char *k = strdup(s);
    if (!k || xfer_strmap_put(&ks->index, k, ks->n) != ks->n) {
        free(k);
        return -1;
    }
    ks->keys[ks->n++] = k;
    return 0;
}

/* Adds a word and its lower-case form. */
static int key_add_word(keyset *ks, const char *w) {
    char *l = lower_dup(w);
    int rc = (!l || key_add(ks, w) != 0 || key_add(ks, l) != 0) ? -1 : 0;
    free(l);
    return rc;
}

static void keyset_free(keyset *ks) {
    xfer_strmap_free(&ks->index);
    xfer_words_free(ks->keys, ks->n);
    free(ks->vec);
    free(ks->found);
}

/* The vector of w as written or lower-cased; NULL when neither is there. */
static const float *key_vector(const keyset *ks, const char *w, int dim) {
    int32_t i = xfer_strmap_get(&ks->index, w);
    if (i >= 0 && ks->found[i]) return ks->vec + (size_t)i * dim;
    char *l = lower_dup(w);
    if (!l) return NULL;
    i = xfer_strmap_get(&ks->index, l);
    free(l);
    if (i >= 0 && ks->found[i]) return ks->vec + (size_t)i * dim;
    return NULL;
}

/* Per class: the words after a whole-name synonym. */
typedef struct {
    char **words;
    int n;
} name_words;

static void names_free(name_words *nw, int n) {
    if (!nw) return;
    for (int i = 0; i < n; i++)
        xfer_words_free(nw[i].words, nw[i].n);
    free(nw);
}

static int fill_from_bin(xfer_fasttext *ft, keyset *ks, int dim, xfer_err *err) {
    for (int i = 0; i < ks->n; i++) {
        if (xfer_fasttext_word_id(ft, ks->keys[i]) < 0) continue;
        int rows;
        int rc = xfer_fasttext_word_vector(ft, ks->keys[i], ks->vec + (size_t)i * dim, &rows, err);
        if (rc != XFER_OK) return rc;
        ks->found[i] = 1;
    }
    return XFER_OK;
}

/* Adds the vector(s) of one word into acc; returns the number of vectors added, 0 if missing,
 * -1 on error. */
static int resolve_word(const xfer_wordvec_cfg *wv, const keyset *ks, xfer_fasttext *ft,
                        const char *w, int dim, double *acc, float *tmp, xfer_err *err) {
    const float *v = key_vector(ks, w, dim);
    if (v) {
        for (int j = 0; j < dim; j++)
            acc[j] += v[j];
        return 1;
    }
    const char *syn = synonym_of(wv, w);
    if (syn) {
        char **sw;
        int ns;
        if (xfer_class_name_words(syn, &sw, &ns, err) != XFER_OK) return -1;
        const float **vs = calloc((size_t)ns, sizeof *vs);
        int ok = vs != NULL;
        for (int k = 0; ok && k < ns; k++)
            ok = (vs[k] = key_vector(ks, sw[k], dim)) != NULL;
        if (ok)
            for (int k = 0; k < ns; k++)
                for (int j = 0; j < dim; j++)
                    acc[j] += vs[k][j];
        free(vs);
        xfer_words_free(sw, ns);
        return ok ? ns : 0;
    }
    if (ft) {
        char *l = lower_dup(w);
        int rows = 0;
        int rc = l ? xfer_fasttext_word_vector(ft, l, tmp, &rows, err)
                   : xfer_fail(err, XFER_EINTERNAL, "out of memory");
        free(l);
        if (rc != XFER_OK) return -1;
        if (rows > 0) {
            for (int j = 0; j < dim; j++)
                acc[j] += tmp[j];
            return 1;
        }
    }
    return 0;
}

/* The format comes from the config (or the .bin extension); a file that starts with fastText's
 * binary magic is read as a model whatever its name, so a .ftz (or a model named .vec) gets the
 * binary reader's message ("quantized ... not supported") instead of a garbled .vec header one. */
static int is_bin(const xfer_wordvec_cfg *wv) {
    if (wv->format == XFER_WV_BIN) return 1;
    unsigned char b[4] = {0};
    FILE *f = fopen(wv->path, "rb");
    if (!f) return 0;
    size_t n = fread(b, 1, 4, f);
    fclose(f);
    /* 793712314 little-endian, as fastText writes it */
    return n == 4 && b[0] == 0xBA && b[1] == 0x16 && b[2] == 0x4F && b[3] == 0x2F;
}

int xfer_class_vectors(const xfer_wordvec_cfg *wv, const char *const *names, int n, int *dim,
                       double **vectors, xfer_err *err) {
    *vectors = NULL;
    *dim = 0;
    if (!wv->path) return xfer_fail(err, XFER_EINPUT, "word_vectors.path is not set");
    keyset ks = {0};
    name_words *nw = calloc((size_t)n + 1, sizeof *nw);
    xfer_fasttext *ft = NULL;
    float *tmp = NULL;
    int rc = XFER_OK, n_missing = 0, any_missing = 0;
    xfer_strmap reported = {0}; /* missing words already listed (a word is listed once) */
    if (!nw || xfer_strmap_init(&ks.index, 64) != 0 || xfer_strmap_init(&reported, 16) != 0) {
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
        goto out;
    }
    for (int i = 0; i < n && rc == XFER_OK; i++) {
        const char *syn = synonym_of(wv, names[i]);
        rc = xfer_class_name_words(syn ? syn : names[i], &nw[i].words, &nw[i].n, err);
        for (int k = 0; rc == XFER_OK && k < nw[i].n; k++) {
            const char *w = nw[i].words[k];
            if (key_add_word(&ks, w) != 0) rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
            const char *ws = synonym_of(wv, w);
            if (ws && rc == XFER_OK) {
                char **sw;
                int ns;
                rc = xfer_class_name_words(ws, &sw, &ns, err);
                if (rc == XFER_OK) {
                    for (int s = 0; rc == XFER_OK && s < ns; s++)
                        if (key_add_word(&ks, sw[s]) != 0)
                            rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
                    xfer_words_free(sw, ns);
                }
            }
        }
    }
    if (rc != XFER_OK) goto out;
    if (!(ks.found = calloc((size_t)ks.n + 1, 1))) {
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
        goto out;
    }
    if (is_bin(wv)) {
        if ((rc = xfer_fasttext_open(wv->path, &ft, err)) != XFER_OK) goto out;
        *dim = xfer_fasttext_dim(ft);
        ks.vec = calloc((size_t)ks.n * (size_t)*dim + 1, sizeof(float));
        if (!ks.vec)
            rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
        else
            rc = fill_from_bin(ft, &ks, *dim, err);
    } else {
        rc = xfer_vec_lookup(wv->path, (const char *const *)ks.keys, ks.n, dim, &ks.vec, ks.found,
                             err);
    }
    if (rc != XFER_OK) goto out;
    *vectors = calloc((size_t)n * (size_t)*dim + 1, sizeof(double));
    tmp = malloc((size_t)*dim * sizeof *tmp);
    if (!*vectors || !tmp) {
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        double *acc = *vectors + (size_t)i * *dim;
        int used = 0;
        for (int k = 0; k < nw[i].n; k++) {
            int got = resolve_word(wv, &ks, ft, nw[i].words[k], *dim, acc, tmp, err);
            if (got < 0) {
                rc = err ? err->code : XFER_EINTERNAL;
                goto out;
            }
            if (got == 0) any_missing = 1;
            if (got == 0 && xfer_strmap_put(&reported, nw[i].words[k], n_missing) == n_missing) {
                if (n_missing == 0)
                    xfer_fail(err, XFER_EINPUT,
                              "%s: no word vector for these words (add them to "
                              "word_vectors.synonyms%s):",
                              wv->path, ft ? "" : ", or use a fastText .bin with subwords");
                xfer_err_append(err, "  \"%s\" (class \"%s\")", nw[i].words[k], names[i]);
                n_missing++;
            }
            used += got;
        }
        if (wv->name_vector == XFER_NAMEVEC_MEAN && used > 0)
            for (int j = 0; j < *dim; j++)
                acc[j] /= used;
    }
    if (any_missing) rc = XFER_EINPUT;
out:
    if (rc != XFER_OK) {
        free(*vectors);
        *vectors = NULL;
    }
    free(tmp);
    xfer_fasttext_close(ft);
    names_free(nw, n);
    keyset_free(&ks);
    xfer_strmap_free(&reported);
    return rc;
}

static int wordvec_distances(const xfer_wordvec_cfg *wv, const char *const *src, int ns,
                             const char *const *tgt, int nt, double *D, xfer_err *err) {
    const char **all = malloc(((size_t)ns + (size_t)nt + 1) * sizeof *all);
    if (!all) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    for (int i = 0; i < ns; i++)
        all[i] = src[i];
    for (int i = 0; i < nt; i++)
        all[ns + i] = tgt[i];
    double *v;
    int dim;
    int rc = xfer_class_vectors(wv, all, ns + nt, &dim, &v, err);
    free(all);
    if (rc != XFER_OK) return rc;
    for (int s = 0; s < ns; s++)
        for (int t = 0; t < nt; t++) {
            const double *a = v + (size_t)s * dim, *b = v + (size_t)(ns + t) * dim;
            double sum = 0;
            for (int j = 0; j < dim; j++)
                sum += (a[j] - b[j]) * (a[j] - b[j]);
            D[(size_t)s * nt + t] = sqrt(sum);
        }
    free(v);
    return XFER_OK;
}

static int wordnet_distances(const xfer_wordvec_cfg *wv, const char *const *src, int ns,
                             const char *const *tgt, int nt, double *D, xfer_err *err) {
    const char *dir = wv->wordnet_dir ? wv->wordnet_dir : WORDNET_DEFAULT_DIR;
    xfer_wordnet *wn;
    int rc = xfer_wordnet_open(dir, &wn, err);
    if (rc != XFER_OK) return rc;
    int *syn = malloc(((size_t)ns + (size_t)nt + 1) * sizeof *syn);
    if (!syn) {
        xfer_wordnet_close(wn);
        return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    }
    int n_missing = 0;
    for (int i = 0; i < ns + nt; i++) {
        const char *name = i < ns ? src[i] : tgt[i - ns];
        const char *alias = synonym_of(wv, name);
        syn[i] = xfer_wordnet_class_synset(wn, alias ? alias : name);
        int listed = 0; /* a name in both lists is reported once */
        for (int k = 0; k < i && !listed && syn[i] < 0; k++)
            listed = syn[k] < 0 && strcmp(name, k < ns ? src[k] : tgt[k - ns]) == 0;
        if (syn[i] < 0 && !listed) {
            if (n_missing++ == 0)
                xfer_fail(err, XFER_EINPUT,
                          "%s: no WordNet noun for these class names (add them to "
                          "word_vectors.synonyms, e.g. \"Ankle boot\": boot or dog.n.01):",
                          dir);
            xfer_err_append(err, "  \"%s\"%s%s%s", name, alias ? " (synonym \"" : "",
                            alias ? alias : "", alias ? "\")" : "");
        }
    }
    if (n_missing == 0)
        for (int s = 0; s < ns; s++)
            for (int t = 0; t < nt; t++)
                D[(size_t)s * nt + t] = xfer_wordnet_distance(wn, syn[s], syn[ns + t]);
    free(syn);
    xfer_wordnet_close(wn);
    return n_missing ? XFER_EINPUT : XFER_OK;
}

int xfer_class_distance_matrix(const xfer_wordvec_cfg *wv, const char *const *source_names,
                               int n_source, const char *const *target_names, int n_target,
                               double *D, xfer_err *err) {
    if (n_source <= 0 || n_target <= 0)
        return xfer_fail(err, XFER_EINPUT,
                         "class distance matrix needs classes (%d source, %d "
                         "target)",
                         n_source, n_target);
    if (wv->class_distance == XFER_CLASSDIST_WORDNET)
        return wordnet_distances(wv, source_names, n_source, target_names, n_target, D, err);
    return wordvec_distances(wv, source_names, n_source, target_names, n_target, D, err);
}
