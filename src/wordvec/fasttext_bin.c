/* fastText .bin reader: the byte layout of fastText's FastText::saveModel (magic, version, Args,
 * Dictionary, quantisation flag, input DenseMatrix, output matrix), read with every length
 * checked against the file. Out-of-vocabulary vectors are built from character n-grams exactly as
 * fastText's Dictionary::computeSubwords does. Host byte order is little-endian, as the files. */
#include "xfer/wordvec.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strmap.h"

/* From fastText's fasttext.h / args.h. */
#define FT_MAGIC 793712314
#define FT_MAX_VERSION 12
#define FT_MODEL_SUP 3
#define FT_MAX_WORD_BYTES (1 << 16) /* longer "words" mean a corrupt file */
#define FT_MAX_DIM (1 << 16)

struct xfer_fasttext {
    char *path;
    FILE *f;
    int32_t version, dim, bucket, minn, maxn, model;
    int32_t size, nwords, nlabels;
    char *words;        /* all words, NUL-separated */
    size_t *word_start; /* [size] offsets into words */
    xfer_strmap map;
    int64_t pruneidx_size; /* -1: not pruned */
    int32_t *prune_from, *prune_to;
    int64_t rows, cols;
    off_t matrix_off;
    float *row;
};

typedef struct {
    FILE *f;
    const char *path;
    long long pos;
    xfer_err *err;
} reader;

static int rd(reader *r, void *dst, size_t n, const char *what) {
    size_t got = fread(dst, 1, n, r->f);
    r->pos += (long long)got;
    if (got != n)
        return xfer_fail(r->err, XFER_EINPUT,
                         "%s: truncated fastText .bin: file ends at byte %lld while reading %s",
                         r->path, r->pos, what);
    return XFER_OK;
}

static int rd_i32(reader *r, int32_t *v, const char *what) {
    return rd(r, v, sizeof *v, what);
}

static int rd_i64(reader *r, int64_t *v, const char *what) {
    return rd(r, v, sizeof *v, what);
}

static int read_args(xfer_fasttext *m, reader *r) {
    /* Args::load: dim ws epoch minCount neg wordNgrams loss model bucket minn maxn lrUpdateRate,
     * then t as a double. */
    int32_t a[12];
    double t;
    int rc = rd(r, a, sizeof a, "the args block");
    if (rc == XFER_OK) rc = rd(r, &t, sizeof t, "the args block");
    if (rc != XFER_OK) return rc;
    m->dim = a[0];
    m->model = a[7];
    m->bucket = a[8];
    m->minn = a[9];
    m->maxn = a[10];
    if (m->version == 11 && m->model == FT_MODEL_SUP) m->maxn = 0; /* as fastText does */
    if (m->dim <= 0 || m->dim > FT_MAX_DIM)
        return xfer_fail(r->err, XFER_EINPUT, "%s: fastText .bin has dim %d (expected 1..%d)",
                         m->path, m->dim, FT_MAX_DIM);
    if (m->minn < 0 || m->maxn < 0 || m->bucket < 0 || (m->maxn > 0 && m->bucket == 0))
        return xfer_fail(r->err, XFER_EINPUT,
                         "%s: fastText .bin has invalid subword args minn %d maxn %d bucket %d",
                         m->path, m->minn, m->maxn, m->bucket);
    return XFER_OK;
}

static int read_dictionary(xfer_fasttext *m, reader *r, long long file_size) {
    int64_t ntokens;
    int rc = rd_i32(r, &m->size, "the dictionary size");
    if (rc == XFER_OK) rc = rd_i32(r, &m->nwords, "the dictionary size");
    if (rc == XFER_OK) rc = rd_i32(r, &m->nlabels, "the dictionary size");
    if (rc == XFER_OK) rc = rd_i64(r, &ntokens, "the dictionary size");
    if (rc == XFER_OK) rc = rd_i64(r, &m->pruneidx_size, "the dictionary size");
    if (rc != XFER_OK) return rc;
    /* Each entry takes at least 10 bytes (NUL, count, type): a size beyond that is corrupt. */
    if (m->size < 0 || m->nwords < 0 || m->nlabels < 0 || m->nwords > m->size)
        return xfer_fail(r->err, XFER_EINPUT,
                         "%s: fastText .bin dictionary header is invalid (size %d, nwords %d, "
                         "nlabels %d)",
                         m->path, m->size, m->nwords, m->nlabels);
    if ((long long)m->size * 10 > file_size - r->pos)
        return xfer_fail(r->err, XFER_EINPUT,
                         "%s: truncated fastText .bin: a dictionary of %d words cannot fit in the "
                         "%lld bytes left after byte %lld",
                         m->path, m->size, file_size - r->pos, r->pos);
    m->word_start = malloc(((size_t)m->size + 1) * sizeof *m->word_start);
    size_t cap = 1 << 16, len = 0;
    m->words = malloc(cap);
    if (!m->word_start || !m->words || xfer_strmap_init(&m->map, (size_t)m->size) != 0)
        return xfer_fail(r->err, XFER_EINTERNAL, "%s: out of memory for %d words", m->path,
                         m->size);
    for (int32_t i = 0; i < m->size; i++) {
        m->word_start[i] = len;
        for (;;) {
            int c = getc(r->f);
            if (c == EOF)
                return xfer_fail(r->err, XFER_EINPUT,
                                 "%s: truncated fastText .bin: file ends at byte %lld in "
                                 "dictionary word %d of %d",
                                 m->path, r->pos, i, m->size);
            r->pos++;
            if (len + 1 >= cap) {
                char *bigger = realloc(m->words, cap * 2);
                if (!bigger) return xfer_fail(r->err, XFER_EINTERNAL, "out of memory");
                m->words = bigger;
                cap *= 2;
            }
            m->words[len++] = (char)c;
            if (c == 0) break;
            if (len - m->word_start[i] > FT_MAX_WORD_BYTES)
                return xfer_fail(r->err, XFER_EINPUT,
                                 "%s: fastText .bin dictionary word %d is longer than %d bytes "
                                 "(corrupt file?)",
                                 m->path, i, FT_MAX_WORD_BYTES);
        }
        int64_t count;
        int8_t type;
        if ((rc = rd_i64(r, &count, "a dictionary entry")) != XFER_OK) return rc;
        if ((rc = rd(r, &type, 1, "a dictionary entry")) != XFER_OK) return rc;
    }
    m->word_start[m->size] = len;
    /* Keys point into m->words, which no longer moves. */
    for (int32_t i = 0; i < m->size; i++)
        if (xfer_strmap_put(&m->map, m->words + m->word_start[i], i) == INT32_MIN)
            return xfer_fail(r->err, XFER_EINTERNAL, "out of memory");
    if (m->pruneidx_size > 0) {
        if (m->pruneidx_size > (file_size - r->pos) / 8)
            return xfer_fail(r->err, XFER_EINPUT,
                             "%s: truncated fastText .bin: %lld pruned n-gram ids do not fit in "
                             "the file",
                             m->path, (long long)m->pruneidx_size);
        m->prune_from = malloc((size_t)m->pruneidx_size * sizeof(int32_t));
        m->prune_to = malloc((size_t)m->pruneidx_size * sizeof(int32_t));
        if (!m->prune_from || !m->prune_to)
            return xfer_fail(r->err, XFER_EINTERNAL, "out of memory");
        for (int64_t i = 0; i < m->pruneidx_size; i++) {
            if ((rc = rd_i32(r, &m->prune_from[i], "the pruned n-gram index")) != XFER_OK ||
                (rc = rd_i32(r, &m->prune_to[i], "the pruned n-gram index")) != XFER_OK)
                return rc;
            if (i > 0 && m->prune_from[i] <= m->prune_from[i - 1])
                return xfer_fail(r->err, XFER_EINPUT,
                                 "%s: fastText .bin pruned n-gram index is not sorted", m->path);
        }
    }
    return XFER_OK;
}

/* Reads a dense matrix header (int64 rows, int64 cols) and checks the data fits in the file. */
static int read_matrix_header(xfer_fasttext *m, reader *r, long long file_size, const char *what,
                              int64_t *rows, int64_t *cols) {
    int rc = rd_i64(r, rows, what);
    if (rc == XFER_OK) rc = rd_i64(r, cols, what);
    if (rc != XFER_OK) return rc;
    if (*rows < 0 || *cols <= 0 || *cols > FT_MAX_DIM || *rows > LLONG_MAX / 4 / *cols)
        return xfer_fail(r->err, XFER_EINPUT, "%s: fastText .bin %s has invalid shape %lld x %lld",
                         m->path, what, (long long)*rows, (long long)*cols);
    long long bytes = (long long)*rows * *cols * 4;
    if (bytes > file_size - r->pos)
        return xfer_fail(r->err, XFER_EINPUT,
                         "%s: truncated fastText .bin: the %s (%lld x %lld floats) needs %lld "
                         "bytes after byte %lld, the file has %lld",
                         m->path, what, (long long)*rows, (long long)*cols, bytes, r->pos,
                         file_size - r->pos);
    return XFER_OK;
}

static int read_model(xfer_fasttext *m, reader *r, long long file_size) {
    int32_t magic;
    int rc = rd_i32(r, &magic, "the magic number");
    if (rc != XFER_OK) return rc;
    if (magic != FT_MAGIC)
        return xfer_fail(r->err, XFER_EINPUT,
                         "%s: not a fastText .bin model (magic %d, expected %d); a text .vec "
                         "file needs word_vectors.format: vec",
                         m->path, magic, FT_MAGIC);
    if ((rc = rd_i32(r, &m->version, "the version")) != XFER_OK) return rc;
    if (m->version <= 0 || m->version > FT_MAX_VERSION)
        return xfer_fail(r->err, XFER_EINPUT,
                         "%s: fastText .bin version %d is not supported (xfer reads versions up "
                         "to %d)",
                         m->path, m->version, FT_MAX_VERSION);
    if ((rc = read_args(m, r)) != XFER_OK) return rc;
    if ((rc = read_dictionary(m, r, file_size)) != XFER_OK) return rc;
    uint8_t quant;
    if ((rc = rd(r, &quant, 1, "the quantisation flag")) != XFER_OK) return rc;
    if (quant)
        return xfer_fail(r->err, XFER_EINPUT,
                         "%s: quantized fastText model (.ftz) is not supported: its vectors are "
                         "approximate; use the full .bin (or the .vec) of the same model",
                         m->path);
    if ((rc = read_matrix_header(m, r, file_size, "input matrix", &m->rows, &m->cols)) != XFER_OK)
        return rc;
    if (m->cols != m->dim)
        return xfer_fail(r->err, XFER_EINPUT,
                         "%s: fastText .bin input matrix has %lld columns but dim is %d", m->path,
                         (long long)m->cols, m->dim);
    if (m->rows < m->nwords)
        return xfer_fail(r->err, XFER_EINPUT,
                         "%s: fastText .bin input matrix has %lld rows for %d words", m->path,
                         (long long)m->rows, m->nwords);
    m->matrix_off = (off_t)r->pos;
    /* The output matrix is not needed, but checking it is there catches a truncated file. */
    long long skip = (long long)m->rows * m->cols * 4;
    if (fseeko(r->f, (off_t)(r->pos + skip), SEEK_SET) != 0)
        return xfer_fail(r->err, XFER_EINPUT, "%s: cannot seek past the input matrix", m->path);
    r->pos += skip;
    uint8_t qout;
    int64_t orows, ocols;
    if ((rc = rd(r, &qout, 1, "the output quantisation flag")) != XFER_OK) return rc;
    return read_matrix_header(m, r, file_size, "output matrix", &orows, &ocols);
}

int xfer_fasttext_open(const char *path, xfer_fasttext **model, xfer_err *err) {
    *model = NULL;
    xfer_fasttext *m = calloc(1, sizeof *m);
    if (!m) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    m->pruneidx_size = -1;
    m->path = strdup(path);
    m->f = fopen(path, "rb");
    if (!m->f) {
        int rc = xfer_fail(err, XFER_EINPUT, "%s: cannot open fastText model", path);
        xfer_fasttext_close(m);
        return rc;
    }
    struct stat st;
    if (fstat(fileno(m->f), &st) != 0) {
        xfer_fasttext_close(m);
        return xfer_fail(err, XFER_EINPUT, "%s: cannot stat", path);
    }
    reader r = {m->f, path, 0, err};
    int rc = read_model(m, &r, (long long)st.st_size);
    if (rc == XFER_OK) {
        m->row = malloc((size_t)m->dim * sizeof *m->row);
        if (!m->row) rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
    }
    if (rc != XFER_OK) {
        xfer_fasttext_close(m);
        return rc;
    }
    *model = m;
    return XFER_OK;
}

void xfer_fasttext_close(xfer_fasttext *m) {
    if (!m) return;
    if (m->f) fclose(m->f);
    xfer_strmap_free(&m->map);
    free(m->words);
    free(m->word_start);
    free(m->prune_from);
    free(m->prune_to);
    free(m->row);
    free(m->path);
    free(m);
}

int xfer_fasttext_dim(const xfer_fasttext *m) {
    return m->dim;
}

int32_t xfer_fasttext_word_id(const xfer_fasttext *m, const char *word) {
    return xfer_strmap_get(&m->map, word);
}

/* fastText's Dictionary::hash: FNV-1a 32-bit over the bytes taken as signed chars. */
static uint32_t ft_hash(const char *s, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint32_t)(int8_t)s[i];
        h *= 16777619u;
    }
    return h;
}

/* fastText's pushHash: the matrix row of n-gram bucket id, or -1 when pruned away. */
static int64_t ngram_row(const xfer_fasttext *m, int32_t id) {
    if (m->pruneidx_size == 0) return -1;
    if (m->pruneidx_size > 0) {
        int64_t lo = 0, hi = m->pruneidx_size - 1;
        while (lo <= hi) {
            int64_t mid = (lo + hi) / 2;
            if (m->prune_from[mid] == id) return (int64_t)m->nwords + m->prune_to[mid];
            if (m->prune_from[mid] < id)
                lo = mid + 1;
            else
                hi = mid - 1;
        }
        return -1;
    }
    return (int64_t)m->nwords + id;
}

static int add_row(xfer_fasttext *m, int64_t row, float *acc, xfer_err *err) {
    if (row < 0 || row >= m->rows)
        return xfer_fail(err, XFER_EINPUT, "%s: fastText row %lld outside the %lld-row matrix",
                         m->path, (long long)row, (long long)m->rows);
    size_t bytes = (size_t)m->dim * sizeof(float);
    off_t at = m->matrix_off + (off_t)row * (off_t)bytes;
    if (pread(fileno(m->f), m->row, bytes, at) != (ssize_t)bytes)
        return xfer_fail(err, XFER_EINPUT, "%s: cannot read matrix row %lld", m->path,
                         (long long)row);
    for (int j = 0; j < m->dim; j++)
        acc[j] += m->row[j];
    return XFER_OK;
}

int xfer_fasttext_word_vector(xfer_fasttext *m, const char *word, float *out, int *n_rows,
                              xfer_err *err) {
    memset(out, 0, (size_t)m->dim * sizeof *out);
    *n_rows = 0;
    int32_t id = xfer_fasttext_word_id(m, word);
    int rc;
    if (id >= 0) {
        if ((rc = add_row(m, id, out, err)) != XFER_OK) return rc;
        (*n_rows)++;
        if (strcmp(word, "</s>") == 0) goto done; /* fastText gives EOS no n-grams */
    }
    size_t wlen = strlen(word);
    char *s = malloc(wlen + 3);
    if (!s) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    s[0] = '<';
    memcpy(s + 1, word, wlen);
    s[wlen + 1] = '>';
    s[wlen + 2] = '\0';
    size_t len = wlen + 2;
    /* n-grams of minn..maxn UTF-8 characters of "<word>"; single boundary characters excluded. */
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0) == 0x80) continue;
        size_t j = i;
        for (int n = 1; j < len && n <= m->maxn; n++) {
            j++;
            while (j < len && ((unsigned char)s[j] & 0xC0) == 0x80)
                j++;
            if (n >= m->minn && !(n == 1 && (i == 0 || j == len))) {
                int32_t h = (int32_t)(ft_hash(s + i, j - i) % (uint32_t)m->bucket);
                int64_t row = ngram_row(m, h);
                if (row < 0) continue;
                if ((rc = add_row(m, row, out, err)) != XFER_OK) {
                    free(s);
                    return rc;
                }
                (*n_rows)++;
            }
        }
    }
    free(s);
done:
    if (*n_rows > 0) {
        float scale = (float)(1.0 / *n_rows); /* fastText's Vector::mul(1.0 / n) */
        for (int j = 0; j < m->dim; j++)
            out[j] *= scale;
    }
    return XFER_OK;
}
