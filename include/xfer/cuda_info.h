/* What the CUDA side of this build offers: compiled in or not, devices, library versions. */
#ifndef XFER_CUDA_INFO_H
#define XFER_CUDA_INFO_H

#include <stddef.h>

#define XFER_MAX_CUDA_DEVICES 16

typedef struct {
    int compiled;  /* 1 when the CUDA backend is built in */
    int n_devices; /* devices usable now (0 with no driver or no GPU) */
    char names[XFER_MAX_CUDA_DEVICES][256];
    int cc_major[XFER_MAX_CUDA_DEVICES], cc_minor[XFER_MAX_CUDA_DEVICES];
    size_t memory[XFER_MAX_CUDA_DEVICES]; /* bytes */
    int runtime_version;                  /* e.g. 13000 */
    int driver_version;                   /* 0 when no driver */
    size_t cudnn_version;                 /* cudnnGetVersion(), e.g. 91900 */
    int cublas_version;
    char why_none[256]; /* why n_devices is 0, e.g. the runtime's error string */
} xfer_cuda_info;

void xfer_cuda_query(xfer_cuda_info *info);

/* 1 when a CUDA device is usable (the --device auto rule). */
int xfer_cuda_available(void);

#endif
