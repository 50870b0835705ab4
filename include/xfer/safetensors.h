/* safetensors reader and writer (https://huggingface.co/docs/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON header {name: {dtype, shape, data_offsets: [begin, end]}, ...,
 * "__metadata__": {str: str}}, then the byte buffer. Offsets are relative to the buffer and must
 * tile it exactly. Every violation is a named error (file, tensor, what is wrong); nothing here
 * reads out of bounds whatever the bytes. */
#ifndef XFER_SAFETENSORS_H
#define XFER_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "xfer/error.h"

#define XFER_ST_MAX_HEADER (100u * 1000u * 1000u) /* spec: header <= 100 MB */
#define XFER_ST_MAX_DIMS 8

typedef enum {
    XFER_DT_F32 = 0,
    XFER_DT_F16,
    XFER_DT_BF16,
    XFER_DT_F64,
    XFER_DT_I64,
    XFER_DT_I32,
    XFER_DT_U8,
    XFER_DT_BOOL,
} xfer_dtype;

typedef struct {
    char *name;
    xfer_dtype dtype;
    int ndim;
    int64_t shape[XFER_ST_MAX_DIMS];
    int64_t numel;
    uint64_t begin, end; /* byte offsets within the data buffer */
} xfer_st_tensor;

typedef struct {
    char *path;
    xfer_st_tensor *tensors; /* in header order */
    int n_tensors;
    char **meta_keys, **meta_values; /* __metadata__ */
    int n_meta;
    /* private */
    void *map;
    size_t map_size;
    uint64_t data_start; /* 8 + N */
    int map_is_heap;     /* added: 1 when map is a malloc'd copy (xfer_st_open_memory) */
} xfer_safetensors;

/* Opens and validates a file (header parsed, offsets checked against the file size). A .pth /
 * pickle / zip file is recognised and the message says to convert it with
 * scripts/convert_torch.py. */
int xfer_st_open(const char *path, xfer_safetensors *st, xfer_err *err);
void xfer_st_close(xfer_safetensors *st);
/* Same validation on a buffer in memory (copied; no mmap), for fuzzing and tests. name stands for
 * the file in messages. */
int xfer_st_open_memory(const void *buf, size_t n, const char *name, xfer_safetensors *st,
                        xfer_err *err);

const xfer_st_tensor *xfer_st_find(const xfer_safetensors *st, const char *name);
const char *xfer_st_meta(const xfer_safetensors *st, const char *key); /* NULL if absent */
size_t xfer_dtype_size(xfer_dtype dt);
const char *xfer_dtype_name(xfer_dtype dt); /* "F32" ... */

/* Copies a tensor converted to float32 (F32/F16/BF16/F64/I64/I32/U8/BOOL accepted). n must equal
 * t->numel. */
int xfer_st_read_f32(const xfer_safetensors *st, const xfer_st_tensor *t, float *out, size_t n,
                     xfer_err *err);
/* Copies an integer tensor (I64/I32/U8) converted to int64. */
int xfer_st_read_i64(const xfer_safetensors *st, const xfer_st_tensor *t, int64_t *out, size_t n,
                     xfer_err *err);
/* Raw bytes of a tensor inside the mapping (valid until close). Little-endian; NOT necessarily
 * aligned for its dtype (the header length is free), so copy with memcpy or use the readers. */
const void *xfer_st_data(const xfer_safetensors *st, const xfer_st_tensor *t);
/* Number of NaN/Inf values in a float tensor (0 for integer dtypes), clamped to INT_MAX, so that
 * loaders can warn on broken weights. */
int xfer_st_count_nonfinite(const xfer_safetensors *st, const xfer_st_tensor *t);

/* Writer: collect tensors and metadata, then save. Data is copied at add time. */
typedef struct xfer_st_writer xfer_st_writer;
xfer_st_writer *xfer_st_writer_new(void);
int xfer_st_writer_add(xfer_st_writer *w, const char *name, xfer_dtype dtype, int ndim,
                       const int64_t *shape, const void *data, xfer_err *err);
int xfer_st_writer_meta(xfer_st_writer *w, const char *key, const char *value, xfer_err *err);
/* Writes to PATH.tmp.<pid>, fsyncs, renames over path: an interrupted save leaves no broken file.
 */
int xfer_st_writer_save(xfer_st_writer *w, const char *path, xfer_err *err);
void xfer_st_writer_free(xfer_st_writer *w);

#endif
