/* Reductions for the CPU backend whose result does not depend on the thread count: the rows are cut
 * into chunks whose size depends only on the shape (xfer_chunk_rows), each chunk is summed from
 * zero in row order into its own partials (double), and the partials are added in chunk order.
 * Any thread may sum any chunk; the arithmetic is the same for 1, 2 or 64 threads. */
#ifndef XFER_BACKEND_CPU_REDUCE_H
#define XFER_BACKEND_CPU_REDUCE_H

#include <stddef.h>

#ifdef _OPENMP
#include <omp.h>
#define XFER_THREAD_ID() omp_get_thread_num()
#define XFER_THREAD_COUNT() omp_get_num_threads()
#define XFER_MAX_THREADS() omp_get_max_threads()
#else
#define XFER_THREAD_ID() 0
#define XFER_THREAD_COUNT() 1
#define XFER_MAX_THREADS() 1
#endif

/* Per-chunk partial sums of `width` doubles over `rows` rows. */
typedef struct {
    size_t rows;       /* rows reduced */
    size_t chunk_rows; /* rows per chunk (the last one may be shorter) */
    size_t chunks;     /* number of chunks */
    int width;         /* partials per chunk */
    double *part;      /* [chunks][width], zeroed; part[0..width) holds the total after combine */
} xfer_chunk_sums;

/* Allocates zeroed partials for rows of `width` values; returns 0 on out of memory. */
int xfer_chunk_sums_init(xfer_chunk_sums *s, size_t rows, int width);
/* Rows [*lo, *hi) of chunk q. */
static inline void xfer_chunk_range(const xfer_chunk_sums *s, size_t q, size_t *lo, size_t *hi) {
    *lo = q * s->chunk_rows;
    *hi = *lo + s->chunk_rows < s->rows ? *lo + s->chunk_rows : s->rows;
}
/* part[0..width) = the sum of every chunk's partials, added in chunk order. */
void xfer_chunk_sums_combine(xfer_chunk_sums *s);
void xfer_chunk_sums_free(xfer_chunk_sums *s);

#endif
