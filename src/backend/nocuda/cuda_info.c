/* CPU-only build: no CUDA backend compiled in. */
#include <string.h>

#include "xfer/cuda_info.h"

void xfer_cuda_query(xfer_cuda_info *info) {
    memset(info, 0, sizeof *info);
    strcpy(info->why_none,
           "this build has no CUDA backend (built with -DXFER_CUDA=OFF or without nvcc)");
}

int xfer_cuda_available(void) {
    return 0;
}
