/* NCHW <-> NHWC transposes (inputs from torch-layout files, outputs for torch-layout dumps). */
#include "cpu_ops.h"

void xfer_cpu_nchw_to_nhwc(xfer_backend *b, int n, int c, int h, int w, const float *src,
                           float *dst) {
    (void)b;
#pragma omp parallel for collapse(2) schedule(static)
    for (int i = 0; i < n; i++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int j = 0; j < c; j++)
                    dst[(((size_t)i * h + y) * w + x) * c + j] =
                        src[(((size_t)i * c + j) * h + y) * w + x];
}

void xfer_cpu_nhwc_to_nchw(xfer_backend *b, int n, int c, int h, int w, const float *src,
                           float *dst) {
    (void)b;
#pragma omp parallel for collapse(2) schedule(static)
    for (int i = 0; i < n; i++)
        for (int j = 0; j < c; j++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    dst[(((size_t)i * c + j) * h + y) * w + x] =
                        src[(((size_t)i * h + y) * w + x) * c + j];
}
