/* Kernel emulator: the cuDNN types cuda_internal.h names (cuDNN itself is not emulated). */
#ifndef XEMU_CUDNN_H
#define XEMU_CUDNN_H
typedef struct cudnnContext *cudnnHandle_t;
typedef enum { CUDNN_STATUS_SUCCESS = 0, CUDNN_STATUS_NOT_SUPPORTED = 3000 } cudnnStatus_t;
#include <stddef.h>
#define cudnnGetErrorString xemu_cudnnGetErrorString
#define cudnnGetLastErrorString xemu_cudnnGetLastErrorString
#ifdef __cplusplus
extern "C" {
#endif
const char *cudnnGetErrorString(cudnnStatus_t s);
void cudnnGetLastErrorString(char *buf, size_t max);
#ifdef __cplusplus
}
#endif
#endif
