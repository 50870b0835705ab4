/* Device and library versions, queried without creating a context where possible. */
#include <stdio.h>
#include <string.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include "xfer/cuda_info.h"

void xfer_cuda_query(xfer_cuda_info *info) {
    memset(info, 0, sizeof *info);
    info->compiled = 1;
    cudaRuntimeGetVersion(&info->runtime_version);
    if (cudaDriverGetVersion(&info->driver_version) != cudaSuccess) info->driver_version = 0;
    info->cudnn_version = cudnnGetVersion();
    int v = 0;
    if (cublasGetProperty(MAJOR_VERSION, &v) == CUBLAS_STATUS_SUCCESS) {
        int mi = 0, pa = 0;
        cublasGetProperty(MINOR_VERSION, &mi);
        cublasGetProperty(PATCH_LEVEL, &pa);
        info->cublas_version = v * 10000 + mi * 100 + pa;
    }
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        snprintf(info->why_none, sizeof info->why_none, "%s", cudaGetErrorString(e));
        cudaGetLastError(); /* clear the sticky-free error so later calls start clean */
        return;
    }
    if (n > XFER_MAX_CUDA_DEVICES) n = XFER_MAX_CUDA_DEVICES;
    for (int i = 0; i < n; i++) {
        struct cudaDeviceProp p;
        if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
        int k = info->n_devices++;
        snprintf(info->names[k], sizeof info->names[k], "%s", p.name);
        info->cc_major[k] = p.major;
        info->cc_minor[k] = p.minor;
        info->memory[k] = p.totalGlobalMem;
    }
}

int xfer_cuda_available(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n > 0;
}
