/* safetensors reader: maps the file, parses the JSON header with cJSON and validates every entry
 * against the buffer before anything reads tensor bytes. Layout and rules follow the format's
 * specification (https://huggingface.co/docs/safetensors). */
#include "xfer/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *name;
    size_t size;
} DTYPES[] = {
    [XFER_DT_F32] = {"F32", 4}, [XFER_DT_F16] = {"F16", 2},   [XFER_DT_BF16] = {"BF16", 2},
    [XFER_DT_F64] = {"F64", 8}, [XFER_DT_I64] = {"I64", 8},   [XFER_DT_I32] = {"I32", 4},
    [XFER_DT_U8] = {"U8", 1},   [XFER_DT_BOOL] = {"BOOL", 1},
};
#define N_DTYPES ((int)(sizeof DTYPES / sizeof DTYPES[0]))

/* JSON numbers are doubles: integers above 2^53 are not exact, and no real file needs them. */
#define MAX_JSON_INT 9007199254740992.0

size_t xfer_dtype_size(xfer_dtype dt) {
    return (int)dt >= 0 && (int)dt < N_DTYPES ? DTYPES[dt].size : 0;
}

const char *xfer_dtype_name(xfer_dtype dt) {
    return (int)dt >= 0 && (int)dt < N_DTYPES ? DTYPES[dt].name : "?";
}

static int dtype_from_name(const char *s, xfer_dtype *dt) {
    for (int i = 0; i < N_DTYPES; i++)
        if (strcmp(s, DTYPES[i].name) == 0) {
            *dt = (xfer_dtype)i;
            return 1;
        }
    return 0;
}

/* A JSON number that is a non-negative integer <= 2^53. */
static int json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0.0) || d > MAX_JSON_INT || floor(d) != d) return 0;
    *out = (uint64_t)d;
    return 1;
}

static uint64_t read_le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* torch.save writes a zip archive (PK\3\4) or, before torch 1.6, a raw pickle (\x80 + protocol).
 * A safetensors header could start with the same bytes by chance, but its JSON then starts at
 * byte 8 with '{', which neither a zip nor torch's pickle has there. */
static int looks_like_pth(const unsigned char *p, size_t n) {
    if (n >= 9 && p[8] == '{') return 0;
    if (n >= 4 && p[0] == 'P' && p[1] == 'K' && p[2] == 3 && p[3] == 4) return 1;
    if (n >= 2 && p[0] == 0x80 && p[1] >= 2 && p[1] <= 5) return 1;
    return 0;
}

static int parse_shape(const char *file, const char *name, const cJSON *shape, xfer_dtype dtype,
                       xfer_st_tensor *t, xfer_err *err) {
    if (!cJSON_IsArray(shape))
        return xfer_fail(err, XFER_EINPUT, "%s: tensor '%s': \"shape\" is not a list", file, name);
    int nd = cJSON_GetArraySize(shape);
    if (nd > XFER_ST_MAX_DIMS)
        return xfer_fail(err, XFER_EINPUT, "%s: tensor '%s': %d dimensions, at most %d supported",
                         file, name, nd, XFER_ST_MAX_DIMS);
    uint64_t numel = 1, limit = (uint64_t)INT64_MAX / xfer_dtype_size(dtype);
    int i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, shape) {
        uint64_t v;
        if (!json_uint(d, &v))
            return xfer_fail(err, XFER_EINPUT,
                             "%s: tensor '%s': shape[%d] is not a non-negative integer", file, name,
                             i);
        if (v != 0 && numel > limit / v)
            return xfer_fail(err, XFER_EINPUT,
                             "%s: tensor '%s': shape overflows (number of elements too large)",
                             file, name);
        numel *= v;
        t->shape[i++] = (int64_t)v;
    }
    t->ndim = nd;
    t->numel = (int64_t)numel;
    return XFER_OK;
}

static int parse_entry(const char *file, const cJSON *e, xfer_st_tensor *t, uint64_t buf_size,
                       xfer_err *err) {
    const char *name = e->string;
    if (!cJSON_IsObject(e))
        return xfer_fail(err, XFER_EINPUT, "%s: tensor '%s': entry is not a JSON object", file,
                         name);
    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    const char *missing = !jd ? "dtype" : !js ? "shape" : !jo ? "data_offsets" : NULL;
    if (missing)
        return xfer_fail(err, XFER_EINPUT, "%s: tensor '%s': missing key \"%s\"", file, name,
                         missing);
    if (!cJSON_IsString(jd))
        return xfer_fail(err, XFER_EINPUT, "%s: tensor '%s': \"dtype\" is not a string", file,
                         name);
    if (!dtype_from_name(jd->valuestring, &t->dtype))
        return xfer_fail(err, XFER_EINPUT,
                         "%s: unknown dtype %s for tensor '%s' (supported: F32 F16 BF16 F64 I64 "
                         "I32 U8 BOOL)",
                         file, jd->valuestring, name);
    int rc = parse_shape(file, name, js, t->dtype, t, err);
    if (rc) return rc;
    if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2 || !json_uint(jo->child, &t->begin) ||
        !json_uint(jo->child->next, &t->end))
        return xfer_fail(err, XFER_EINPUT,
                         "%s: tensor '%s': \"data_offsets\" is not [begin, end] of non-negative "
                         "integers",
                         file, name);
    if (t->begin > t->end || t->end > buf_size)
        return xfer_fail(err, XFER_EINPUT,
                         "%s: tensor '%s': data_offsets [%llu, %llu] outside the data buffer of "
                         "%llu bytes",
                         file, name, (unsigned long long)t->begin, (unsigned long long)t->end,
                         (unsigned long long)buf_size);
    uint64_t want = (uint64_t)t->numel * xfer_dtype_size(t->dtype);
    if (t->end - t->begin != want)
        return xfer_fail(err, XFER_EINPUT,
                         "%s: tensor '%s': shape/size mismatch: data_offsets span %llu bytes but "
                         "%lld elements of %s need %llu",
                         file, name, (unsigned long long)(t->end - t->begin), (long long)t->numel,
                         xfer_dtype_name(t->dtype), (unsigned long long)want);
    t->name = strdup(name);
    if (!t->name) return xfer_fail(err, XFER_EINTERNAL, "%s: out of memory", file);
    return XFER_OK;
}

static int parse_metadata(const char *file, const cJSON *m, xfer_safetensors *st, xfer_err *err) {
    if (cJSON_IsNull(m)) return XFER_OK;
    if (!cJSON_IsObject(m))
        return xfer_fail(err, XFER_EINPUT, "%s: \"__metadata__\" is not an object", file);
    int n = cJSON_GetArraySize(m);
    if (n == 0) return XFER_OK;
    st->meta_keys = calloc((size_t)n, sizeof *st->meta_keys);
    st->meta_values = calloc((size_t)n, sizeof *st->meta_values);
    if (!st->meta_keys || !st->meta_values)
        return xfer_fail(err, XFER_EINTERNAL, "%s: out of memory", file);
    const cJSON *kv;
    cJSON_ArrayForEach(kv, m) {
        if (!cJSON_IsString(kv))
            return xfer_fail(err, XFER_EINPUT, "%s: __metadata__ value of '%s' is not a string",
                             file, kv->string);
        int i = st->n_meta;
        st->meta_keys[i] = strdup(kv->string);
        st->meta_values[i] = strdup(kv->valuestring);
        st->n_meta++;
        if (!st->meta_keys[i] || !st->meta_values[i])
            return xfer_fail(err, XFER_EINTERNAL, "%s: out of memory", file);
    }
    return XFER_OK;
}

static int cmp_offset(const void *a, const void *b) {
    const xfer_st_tensor *x = *(const xfer_st_tensor *const *)a;
    const xfer_st_tensor *y = *(const xfer_st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp((*(const xfer_st_tensor *const *)a)->name,
                  (*(const xfer_st_tensor *const *)b)->name);
}

/* Offsets, sorted, must tile [0, buf_size) exactly, and names must be unique. */
static int check_layout(const char *file, xfer_safetensors *st, uint64_t buf_size, xfer_err *err) {
    int n = st->n_tensors;
    if (n == 0) {
        if (buf_size != 0)
            return xfer_fail(err, XFER_EINPUT,
                             "%s: %llu trailing bytes after the header but no tensors", file,
                             (unsigned long long)buf_size);
        return XFER_OK;
    }
    xfer_st_tensor **order = malloc((size_t)n * sizeof *order);
    if (!order) return xfer_fail(err, XFER_EINTERNAL, "%s: out of memory", file);
    for (int i = 0; i < n; i++)
        order[i] = &st->tensors[i];
    int rc = XFER_OK;
    qsort(order, (size_t)n, sizeof *order, cmp_name);
    for (int i = 1; i < n && !rc; i++)
        if (strcmp(order[i - 1]->name, order[i]->name) == 0)
            rc = xfer_fail(err, XFER_EINPUT, "%s: tensor '%s' appears twice in the header", file,
                           order[i]->name);
    qsort(order, (size_t)n, sizeof *order, cmp_offset);
    uint64_t pos = 0;
    for (int i = 0; i < n && !rc; i++) {
        const xfer_st_tensor *t = order[i];
        if (t->begin < pos)
            rc = xfer_fail(err, XFER_EINPUT,
                           "%s: tensor '%s': data_offsets [%llu, %llu] overlap tensor '%s' (which "
                           "ends at %llu)",
                           file, t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                           order[i - 1]->name, (unsigned long long)pos);
        else if (t->begin > pos)
            rc = xfer_fail(err, XFER_EINPUT,
                           "%s: tensor '%s': gap of %llu bytes before its data_offsets [%llu, "
                           "%llu] (offsets must tile the buffer)",
                           file, t->name, (unsigned long long)(t->begin - pos),
                           (unsigned long long)t->begin, (unsigned long long)t->end);
        pos = t->end;
    }
    if (!rc && pos != buf_size)
        rc = xfer_fail(err, XFER_EINPUT,
                       "%s: %llu trailing bytes after the last tensor '%s' (data ends at %llu, "
                       "file buffer is %llu bytes)",
                       file, (unsigned long long)(buf_size - pos), order[n - 1]->name,
                       (unsigned long long)pos, (unsigned long long)buf_size);
    free(order);
    return rc;
}

static int parse_header(const char *file, const char *json, size_t len, uint64_t buf_size,
                        xfer_safetensors *st, xfer_err *err) {
    /* A NUL-terminated copy keeps cJSON inside the header whatever the bytes. */
    char *text = malloc(len + 1);
    if (!text) return xfer_fail(err, XFER_EINTERNAL, "%s: out of memory for the header", file);
    memcpy(text, json, len);
    text[len] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len + 1, &end, 0);
    int rc = XFER_OK;
    if (!root) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        rc = xfer_fail(err, XFER_EINPUT,
                       "%s: header is not valid JSON (error near byte %zu of %zu)", file, at, len);
        goto done;
    }
    for (const char *p = end; p && p < text + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            rc = xfer_fail(err, XFER_EINPUT,
                           "%s: header has extra bytes after its JSON object (at byte %zu)", file,
                           (size_t)(p - text));
            goto done;
        }
    if (!cJSON_IsObject(root)) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: header JSON is not an object", file);
        goto done;
    }
    int n = cJSON_GetArraySize(root);
    st->tensors = calloc(n > 0 ? (size_t)n : 1, sizeof *st->tensors);
    if (!st->tensors) {
        rc = xfer_fail(err, XFER_EINTERNAL, "%s: out of memory", file);
        goto done;
    }
    int seen_meta = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, root) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if (seen_meta++) {
                rc = xfer_fail(err, XFER_EINPUT, "%s: \"__metadata__\" appears twice", file);
                goto done;
            }
            if ((rc = parse_metadata(file, e, st, err))) goto done;
            continue;
        }
        if ((rc = parse_entry(file, e, &st->tensors[st->n_tensors], buf_size, err))) goto done;
        st->n_tensors++;
    }
    rc = check_layout(file, st, buf_size, err);
done:
    cJSON_Delete(root);
    free(text);
    return rc;
}

/* Validates st->map (map_size bytes) and fills the tables. */
static int open_mapped(xfer_safetensors *st, xfer_err *err) {
    const unsigned char *p = st->map;
    const char *file = st->path;
    size_t size = st->map_size;
    if (looks_like_pth(p, size))
        return xfer_fail(err, XFER_EINPUT,
                         "%s: this looks like a PyTorch .pth checkpoint; convert it with "
                         "scripts/convert_torch.py",
                         file);
    if (size < 8)
        return xfer_fail(err, XFER_EINPUT,
                         "%s: bad header length: file has %zu bytes, fewer than the 8-byte "
                         "header length",
                         file, size);
    uint64_t n = read_le64(p);
    if (n > XFER_ST_MAX_HEADER)
        return xfer_fail(err, XFER_EINPUT,
                         "%s: header length %llu exceeds the 100 MB limit (not a safetensors file "
                         "or corrupt)",
                         file, (unsigned long long)n);
    if (n > size - 8)
        return xfer_fail(err, XFER_EINPUT,
                         "%s: header length %llu is longer than the file (%zu bytes): truncated "
                         "or not a safetensors file",
                         file, (unsigned long long)n, size);
    if (n < 2)
        return xfer_fail(err, XFER_EINPUT, "%s: bad header length %llu (too short for JSON)", file,
                         (unsigned long long)n);
    st->data_start = 8 + n;
    return parse_header(file, (const char *)p + 8, (size_t)n, size - 8 - n, st, err);
}

static int init(xfer_safetensors *st, const char *name, xfer_err *err) {
    memset(st, 0, sizeof *st);
    xfer_err_clear(err);
    st->path = strdup(name ? name : "(memory)");
    if (!st->path) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    return XFER_OK;
}

int xfer_st_open(const char *path, xfer_safetensors *st, xfer_err *err) {
    int rc = init(st, path, err);
    if (rc) return rc;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: not a regular file", path);
        close(fd);
        goto fail;
    }
    st->map_size = (size_t)sb.st_size;
    if (st->map_size > 0) {
        void *m = mmap(NULL, st->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            rc = xfer_fail(err, XFER_EINTERNAL, "%s: mmap failed: %s", path, strerror(errno));
            close(fd);
            goto fail;
        }
        st->map = m;
    }
    close(fd);
    if ((rc = open_mapped(st, err))) goto fail;
    return XFER_OK;
fail:
    xfer_st_close(st);
    return rc;
}

int xfer_st_open_memory(const void *buf, size_t n, const char *name, xfer_safetensors *st,
                        xfer_err *err) {
    int rc = init(st, name, err);
    if (rc) return rc;
    st->map_is_heap = 1;
    st->map_size = n;
    if (n > 0) {
        st->map = malloc(n);
        if (!st->map) {
            rc = xfer_fail(err, XFER_EINTERNAL, "%s: out of memory", st->path);
            goto fail;
        }
        memcpy(st->map, buf, n);
    }
    if ((rc = open_mapped(st, err))) goto fail;
    return XFER_OK;
fail:
    xfer_st_close(st);
    return rc;
}

void xfer_st_close(xfer_safetensors *st) {
    if (!st) return;
    if (st->tensors)
        for (int i = 0; i < st->n_tensors; i++)
            free(st->tensors[i].name);
    free(st->tensors);
    for (int i = 0; i < st->n_meta; i++) {
        free(st->meta_keys[i]);
        free(st->meta_values[i]);
    }
    free(st->meta_keys);
    free(st->meta_values);
    if (st->map) {
        if (st->map_is_heap)
            free(st->map);
        else
            munmap(st->map, st->map_size);
    }
    free(st->path);
    memset(st, 0, sizeof *st);
}

const xfer_st_tensor *xfer_st_find(const xfer_safetensors *st, const char *name) {
    for (int i = 0; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    return NULL;
}

const char *xfer_st_meta(const xfer_safetensors *st, const char *key) {
    for (int i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta_keys[i], key) == 0) return st->meta_values[i];
    return NULL;
}

const void *xfer_st_data(const xfer_safetensors *st, const xfer_st_tensor *t) {
    return (const unsigned char *)st->map + st->data_start + t->begin;
}
