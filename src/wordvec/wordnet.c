/* WordNet noun synsets and their hypernym graph, read from a WordNet 3.0 database directory
 * (data.noun, index.noun; format in wndb(5)). The class distance is the length of the shortest
 * path between two synsets that goes up hypernym (@) and instance-hypernym (@i) edges to a
 * common ancestor and back down: min over common ancestors c of up(a, c) + up(b, c). */
#include "xfer/wordvec.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

struct xfer_wordnet {
    int n;          /* synsets */
    long *offset;   /* [n], ascending */
    int *hyp_start; /* [n+1] CSR into hyp */
    int *hyp;       /* hypernym synset indices */
    long *hyp_off;  /* hypernym offsets while parsing */
    int n_hyp, cap_hyp, cap_syn, cap_start;
    char *lemma_buf; /* index.noun lemmas, NUL-separated */
    size_t lemma_len, lemma_cap;
    size_t *lemma_at; /* [n_lemmas] */
    int *sense_start; /* [n_lemmas+1] CSR into senses */
    int *senses;
    int n_lemmas, cap_lemmas, cap_sense_start, n_senses, cap_senses;
    xfer_strmap map;
};

static int grow(void **p, int *cap, int need, size_t elem) {
    if (need <= *cap) return 0;
    int c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, (size_t)c * elem);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

static int find_synset(const xfer_wordnet *wn, long off) {
    int lo = 0, hi = wn->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (wn->offset[mid] == off) return mid;
        if (wn->offset[mid] < off)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

/* One data.noun line: offset lex_filenum ss_type w_cnt(hex) {word lex_id} p_cnt {ptr off pos st}.
 */
static int parse_data_line(xfer_wordnet *wn, char *line, const char *path, long lineno,
                           xfer_err *err) {
    char *save = NULL;
    char *tok[4];
    for (int i = 0; i < 4; i++)
        if (!(tok[i] = strtok_r(i ? NULL : line, " ", &save))) goto bad;
    long off = strtol(tok[0], NULL, 10);
    int w_cnt = (int)strtol(tok[3], NULL, 16);
    for (int i = 0; i < 2 * w_cnt; i++)
        if (!strtok_r(NULL, " ", &save)) goto bad;
    char *p = strtok_r(NULL, " ", &save);
    if (!p) goto bad;
    int p_cnt = atoi(p);
    if (grow((void **)&wn->offset, &wn->cap_syn, wn->n + 1, sizeof *wn->offset) != 0 ||
        grow((void **)&wn->hyp_start, &wn->cap_start, wn->n + 2, sizeof *wn->hyp_start) != 0)
        return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    if (wn->n > 0 && off <= wn->offset[wn->n - 1])
        return xfer_fail(err, XFER_EINPUT, "%s:%ld: synset offsets are not ascending", path,
                         lineno);
    wn->offset[wn->n] = off;
    wn->hyp_start[wn->n] = wn->n_hyp;
    for (int i = 0; i < p_cnt; i++) {
        char *sym = strtok_r(NULL, " ", &save), *to = strtok_r(NULL, " ", &save);
        char *pos = strtok_r(NULL, " ", &save), *st = strtok_r(NULL, " ", &save);
        if (!sym || !to || !pos || !st) goto bad;
        if ((strcmp(sym, "@") == 0 || strcmp(sym, "@i") == 0) && strcmp(pos, "n") == 0) {
            if (grow((void **)&wn->hyp_off, &wn->cap_hyp, wn->n_hyp + 1, sizeof *wn->hyp_off))
                return xfer_fail(err, XFER_EINTERNAL, "out of memory");
            wn->hyp_off[wn->n_hyp++] = strtol(to, NULL, 10);
        }
    }
    wn->n++;
    wn->hyp_start[wn->n] = wn->n_hyp;
    return XFER_OK;
bad:
    return xfer_fail(err, XFER_EINPUT, "%s:%ld: malformed synset line", path, lineno);
}

typedef int (*line_parser)(xfer_wordnet *wn, char *line, const char *path, long lineno,
                           xfer_err *err);

/* Feeds every line of DIR/NAME except the licence header (lines starting with a space) to parse,
 * with the gloss after '|' cut off when cut_gloss; *path receives the file's path. */
static int read_wordnet_file(xfer_wordnet *wn, const char *dir, const char *name, const char *what,
                             int cut_gloss, line_parser parse, char *path, size_t path_size,
                             xfer_err *err) {
    snprintf(path, path_size, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) return xfer_fail(err, XFER_EINPUT, "%s: cannot open WordNet %s", path, what);
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    int rc = XFER_OK;
    while (rc == XFER_OK && getline(&line, &cap, f) >= 0) {
        lineno++;
        if (line[0] == ' ' || line[0] == '\n') continue; /* the licence header */
        char *bar = cut_gloss ? strchr(line, '|') : NULL;
        if (bar) *bar = '\0';
        rc = parse(wn, line, path, lineno, err);
    }
    free(line);
    fclose(f);
    return rc;
}

static int read_data(xfer_wordnet *wn, const char *dir, xfer_err *err) {
    char path[4096];
    int rc = read_wordnet_file(wn, dir, "data.noun", "noun data", 1, parse_data_line, path,
                               sizeof path, err);
    if (rc != XFER_OK) return rc;
    if (wn->n == 0) return xfer_fail(err, XFER_EINPUT, "%s: no synsets", path);
    wn->hyp = malloc(((size_t)wn->n_hyp + 1) * sizeof *wn->hyp);
    if (!wn->hyp) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    for (int i = 0; i < wn->n_hyp; i++)
        if ((wn->hyp[i] = find_synset(wn, wn->hyp_off[i])) < 0)
            return xfer_fail(err, XFER_EINPUT, "%s: hypernym %08ld is not a noun synset", path,
                             wn->hyp_off[i]);
    return XFER_OK;
}

/* One index.noun line: lemma pos synset_cnt p_cnt {ptr} sense_cnt tagsense_cnt {offset}. */
static int parse_index_line(xfer_wordnet *wn, char *line, const char *path, long lineno,
                            xfer_err *err) {
    char *save = NULL;
    char *lemma = strtok_r(line, " \n", &save);
    char *pos = strtok_r(NULL, " \n", &save), *cnt = strtok_r(NULL, " \n", &save);
    char *pc = strtok_r(NULL, " \n", &save);
    if (!lemma || !pos || !cnt || !pc) goto bad;
    int n_syn = atoi(cnt), p_cnt = atoi(pc);
    for (int i = 0; i < p_cnt + 2; i++)
        if (!strtok_r(NULL, " \n", &save)) goto bad;
    size_t len = strlen(lemma) + 1;
    if (wn->lemma_len + len > wn->lemma_cap) {
        size_t c = wn->lemma_cap ? wn->lemma_cap : 1 << 20;
        while (c < wn->lemma_len + len)
            c *= 2;
        char *q = realloc(wn->lemma_buf, c);
        if (!q) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
        wn->lemma_buf = q;
        wn->lemma_cap = c;
    }
    if (grow((void **)&wn->lemma_at, &wn->cap_lemmas, wn->n_lemmas + 1, sizeof *wn->lemma_at) ||
        grow((void **)&wn->sense_start, &wn->cap_sense_start, wn->n_lemmas + 2,
             sizeof *wn->sense_start) ||
        grow((void **)&wn->senses, &wn->cap_senses, wn->n_senses + n_syn + 1, sizeof *wn->senses))
        return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    memcpy(wn->lemma_buf + wn->lemma_len, lemma, len);
    wn->lemma_at[wn->n_lemmas] = wn->lemma_len;
    wn->lemma_len += len;
    wn->sense_start[wn->n_lemmas] = wn->n_senses;
    for (int i = 0; i < n_syn; i++) {
        char *o = strtok_r(NULL, " \n", &save);
        if (!o) goto bad;
        int s = find_synset(wn, strtol(o, NULL, 10));
        if (s < 0)
            return xfer_fail(err, XFER_EINPUT, "%s:%ld: \"%s\" names synset %s, not in data.noun",
                             path, lineno, lemma, o);
        wn->senses[wn->n_senses++] = s;
    }
    wn->n_lemmas++;
    wn->sense_start[wn->n_lemmas] = wn->n_senses;
    return XFER_OK;
bad:
    return xfer_fail(err, XFER_EINPUT, "%s:%ld: malformed index line", path, lineno);
}

static int read_index(xfer_wordnet *wn, const char *dir, xfer_err *err) {
    char path[4096];
    int rc = read_wordnet_file(wn, dir, "index.noun", "noun index", 0, parse_index_line, path,
                               sizeof path, err);
    if (rc != XFER_OK) return rc;
    if (xfer_strmap_init(&wn->map, (size_t)wn->n_lemmas) != 0)
        return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    for (int i = 0; i < wn->n_lemmas; i++)
        if (xfer_strmap_put(&wn->map, wn->lemma_buf + wn->lemma_at[i], i) == INT32_MIN)
            return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    return XFER_OK;
}

int xfer_wordnet_open(const char *dir, xfer_wordnet **out, xfer_err *err) {
    *out = NULL;
    xfer_wordnet *wn = calloc(1, sizeof *wn);
    if (!wn) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    int rc = read_data(wn, dir, err);
    if (rc == XFER_OK) rc = read_index(wn, dir, err);
    free(wn->hyp_off);
    wn->hyp_off = NULL;
    if (rc != XFER_OK) {
        xfer_wordnet_close(wn);
        return rc;
    }
    *out = wn;
    return XFER_OK;
}

void xfer_wordnet_close(xfer_wordnet *wn) {
    if (!wn) return;
    free(wn->offset);
    free(wn->hyp_start);
    free(wn->hyp);
    free(wn->hyp_off);
    free(wn->lemma_buf);
    free(wn->lemma_at);
    free(wn->sense_start);
    free(wn->senses);
    xfer_strmap_free(&wn->map);
    free(wn);
}

int xfer_wordnet_sense(const xfer_wordnet *wn, const char *lemma, int sense) {
    int32_t i = xfer_strmap_get(&wn->map, lemma);
    if (i < 0 || sense < 1) return -1;
    int n = wn->sense_start[i + 1] - wn->sense_start[i];
    return sense <= n ? wn->senses[wn->sense_start[i] + sense - 1] : -1;
}

long xfer_wordnet_offset(const xfer_wordnet *wn, int synset) {
    return synset >= 0 && synset < wn->n ? wn->offset[synset] : -1;
}

/* Breadth-first walk up the hypernym edges: every ancestor (the synset itself included) with
 * its distance. Ancestor sets are small (tens), so a list with linear membership is enough. */
typedef struct {
    int *node, *dist;
    int n, cap_node, cap_dist;
} ancestors;

static int up_walk(const xfer_wordnet *wn, int s, ancestors *a) {
    a->n = 0;
    if (grow((void **)&a->node, &a->cap_node, 1, sizeof(int)) ||
        grow((void **)&a->dist, &a->cap_dist, 1, sizeof(int)))
        return -1;
    a->node[0] = s;
    a->dist[0] = 0;
    a->n = 1;
    for (int head = 0; head < a->n; head++) {
        int u = a->node[head];
        for (int e = wn->hyp_start[u]; e < wn->hyp_start[u + 1]; e++) {
            int v = wn->hyp[e], seen = 0;
            for (int k = 0; k < a->n && !seen; k++)
                seen = a->node[k] == v;
            if (seen) continue;
            if (grow((void **)&a->node, &a->cap_node, a->n + 1, sizeof(int)) ||
                grow((void **)&a->dist, &a->cap_dist, a->n + 1, sizeof(int)))
                return -1;
            a->node[a->n] = v;
            a->dist[a->n] = a->dist[head] + 1;
            a->n++;
        }
    }
    return 0;
}

int xfer_wordnet_distance(const xfer_wordnet *wn, int a, int b) {
    ancestors ua = {0}, ub = {0};
    int best = -1;
    if (up_walk(wn, a, &ua) == 0 && up_walk(wn, b, &ub) == 0)
        for (int i = 0; i < ua.n; i++)
            for (int j = 0; j < ub.n; j++)
                if (ua.node[i] == ub.node[j] && (best < 0 || ua.dist[i] + ub.dist[j] < best))
                    best = ua.dist[i] + ub.dist[j];
    free(ua.node);
    free(ua.dist);
    free(ub.node);
    free(ub.dist);
    return best;
}

/* Lower-cases s[0..len) into a fresh string with spaces as '_' and outer spaces trimmed. */
static char *lemma_form(const char *s, size_t len) {
    while (len > 0 && isspace((unsigned char)*s))
        s++, len--;
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    char *l = malloc(len + 1);
    if (!l) return NULL;
    for (size_t i = 0; i < len; i++)
        l[i] = s[i] == ' ' ? '_' : (char)tolower((unsigned char)s[i]);
    l[len] = '\0';
    return l;
}

static int try_lemma(const xfer_wordnet *wn, const char *s, size_t len, int sense) {
    char *l = lemma_form(s, len);
    int r = l ? xfer_wordnet_sense(wn, l, sense) : -1;
    free(l);
    return r;
}

int xfer_wordnet_class_synset(const xfer_wordnet *wn, const char *name) {
    size_t len = strlen(name);
    /* "lemma.n.NN": an explicit sense. */
    const char *dot = len > 5 ? strstr(name, ".n.") : NULL;
    if (dot && dot[3] && strspn(dot + 3, "0123456789") == strlen(dot + 3))
        return try_lemma(wn, name, (size_t)(dot - name), atoi(dot + 3));
    size_t first = strcspn(name, ","); /* ImageNet: the first synonym */
    int r = try_lemma(wn, name, first, 1);
    if (r >= 0) return r;
    size_t alt = strcspn(name, ",/"); /* "T-shirt/top": the first alternative */
    if (alt < first && (r = try_lemma(wn, name, alt, 1)) >= 0) return r;
    char **w;
    int nw;
    if (xfer_class_name_words(name, &w, &nw, NULL) != XFER_OK) return -1;
    size_t total = 0;
    for (int i = 0; i < nw; i++)
        total += strlen(w[i]) + 1;
    char *joined = malloc(total + 1);
    if (joined) {
        joined[0] = '\0';
        for (int i = 0; i < nw; i++) {
            if (i) strcat(joined, "_");
            strcat(joined, w[i]);
        }
        r = try_lemma(wn, joined, strlen(joined), 1);
        free(joined);
    }
    xfer_words_free(w, nw);
    return r;
}
