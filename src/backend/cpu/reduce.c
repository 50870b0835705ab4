#include <stdlib.h>

#include "cpu_ops.h"
#include "reduce.h"

void xfer_cpu_colsum_add(size_t rows, int cols, const float *a, float *out) {
    int T = XFER_MAX_THREADS();
    double *part = calloc((size_t)T * cols, sizeof(double));
    if (!part) T = 1; /* fall back to one serial pass, still deterministic */
    if (!part) {
        for (int j = 0; j < cols; j++) {
            double s = 0;
            for (size_t i = 0; i < rows; i++)
                s += a[i * cols + j];
            out[j] += (float)s;
        }
        return;
    }
    int used = 1;
#pragma omp parallel num_threads(T)
    {
        int t = XFER_THREAD_ID(), nt = XFER_THREAD_COUNT();
        if (t == 0) used = nt;
        size_t lo, hi;
        xfer_thread_range(rows, t, nt, &lo, &hi);
        double *p = part + (size_t)t * cols;
        for (size_t i = lo; i < hi; i++)
            for (int j = 0; j < cols; j++)
                p[j] += a[i * cols + j];
    }
    for (int j = 0; j < cols; j++) {
        double s = 0;
        for (int t = 0; t < used; t++)
            s += part[(size_t)t * cols + j];
        out[j] += (float)s;
    }
    free(part);
}
