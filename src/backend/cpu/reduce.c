#include <stdlib.h>

#include "cpu_ops.h"
#include "reduce.h"

/* About this many values per chunk: enough work per chunk to amortise the partials, enough chunks
 * to share among threads. A function of the row width only, never of the thread count. */
#define CHUNK_VALUES 16384

int xfer_chunk_sums_init(xfer_chunk_sums *s, size_t rows, int width) {
    s->rows = rows;
    s->width = width;
    s->chunk_rows = width > 0 && width < CHUNK_VALUES ? (size_t)(CHUNK_VALUES / width) : 1;
    s->chunks = rows ? (rows + s->chunk_rows - 1) / s->chunk_rows : 1;
    s->part = calloc(s->chunks * (size_t)(width > 0 ? width : 1), sizeof(double));
    return s->part != NULL;
}

void xfer_chunk_sums_combine(xfer_chunk_sums *s) {
    for (size_t q = 1; q < s->chunks; q++) {
        const double *p = s->part + q * s->width;
        for (int j = 0; j < s->width; j++)
            s->part[j] += p[j];
    }
}

void xfer_chunk_sums_free(xfer_chunk_sums *s) {
    free(s->part);
    s->part = NULL;
}

void xfer_cpu_colsum_add(size_t rows, int cols, const float *a, float *out) {
    xfer_chunk_sums s;
    if (!xfer_chunk_sums_init(&s, rows, cols)) {
        /* out of memory for the partials: the same chunk sums, one column at a time */
        for (int j = 0; j < cols; j++) {
            double total = 0;
            for (size_t q = 0; q < s.chunks; q++) {
                size_t lo, hi;
                xfer_chunk_range(&s, q, &lo, &hi);
                double t = 0;
                for (size_t i = lo; i < hi; i++)
                    t += a[i * cols + j];
                total += t;
            }
            out[j] += (float)total;
        }
        return;
    }
#pragma omp parallel for schedule(static)
    for (size_t q = 0; q < s.chunks; q++) {
        size_t lo, hi;
        xfer_chunk_range(&s, q, &lo, &hi);
        double *p = s.part + q * cols;
        for (size_t i = lo; i < hi; i++)
            for (int j = 0; j < cols; j++)
                p[j] += a[i * cols + j];
    }
    xfer_chunk_sums_combine(&s);
    for (int j = 0; j < cols; j++)
        out[j] += (float)s.part[j];
    xfer_chunk_sums_free(&s);
}
