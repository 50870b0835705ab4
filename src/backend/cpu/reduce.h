/* Deterministic parallel reductions for the CPU backend: each thread sums a fixed contiguous range
 * of rows into its own partials (double); the partials are combined in thread order. */
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

/* Rows [*lo, *hi) of `rows` for thread t of nt. */
static inline void xfer_thread_range(size_t rows, int t, int nt, size_t *lo, size_t *hi) {
    *lo = rows * (size_t)t / (size_t)nt;
    *hi = rows * (size_t)(t + 1) / (size_t)nt;
}

#endif
