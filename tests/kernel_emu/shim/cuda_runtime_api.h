/* Kernel emulator (tests/kernel_emu): the part of the CUDA runtime API the backend's C files and
 * the kernels' launch wrappers use, on host memory. C and C++. Every function is renamed to xemu_*
 * so that a test linking the real libcudart (a CUDA build of xfer_core) sees no clash. */
#ifndef XEMU_CUDA_RUNTIME_API_H
#define XEMU_CUDA_RUNTIME_API_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* the values of the real runtime, for the names the project uses */
typedef enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInitializationError = 3,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevicePointer = 17,
    cudaErrorInvalidMemcpyDirection = 21,
    cudaErrorNoDevice = 100,
    cudaErrorInvalidDevice = 101,
    cudaErrorInvalidResourceHandle = 400,
    cudaErrorNotReady = 600,
    cudaErrorIllegalAddress = 700,
    cudaErrorLaunchFailure = 719,
    cudaErrorNotSupported = 801,
    cudaErrorStreamCaptureUnsupported = 900,
    cudaErrorUnknown = 999
} cudaError_t;

typedef struct CUstream_st *cudaStream_t;
typedef struct CUevent_st *cudaEvent_t;

enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4
};

enum cudaMemoryType {
    cudaMemoryTypeUnregistered = 0,
    cudaMemoryTypeHost = 1,
    cudaMemoryTypeDevice = 2,
    cudaMemoryTypeManaged = 3
};

struct cudaPointerAttributes {
    enum cudaMemoryType type;
    int device;
    void *devicePointer;
    void *hostPointer;
};

#define cudaEventDefault 0x00
#define cudaEventDisableTiming 0x02

#define cudaHostAllocDefault 0x00
#define cudaHostAllocPortable 0x01

#define cudaGetLastError xemu_cudaGetLastError
#define cudaPeekAtLastError xemu_cudaPeekAtLastError
#define cudaGetErrorString xemu_cudaGetErrorString
#define cudaGetErrorName xemu_cudaGetErrorName
#define cudaMalloc xemu_cudaMalloc
#define cudaFree xemu_cudaFree
#define cudaMallocHost xemu_cudaMallocHost
#define cudaHostAlloc xemu_cudaHostAlloc
#define cudaFreeHost xemu_cudaFreeHost
#define cudaMemcpy xemu_cudaMemcpy
#define cudaMemcpyAsync xemu_cudaMemcpyAsync
#define cudaMemcpy2DAsync xemu_cudaMemcpy2DAsync
#define cudaMemset xemu_cudaMemset
#define cudaMemsetAsync xemu_cudaMemsetAsync
#define cudaStreamSynchronize xemu_cudaStreamSynchronize
#define cudaDeviceSynchronize xemu_cudaDeviceSynchronize
#define cudaPointerGetAttributes xemu_cudaPointerGetAttributes
#define cudaMemGetInfo xemu_cudaMemGetInfo
#define cudaEventCreate xemu_cudaEventCreate
#define cudaEventDestroy xemu_cudaEventDestroy
#define cudaEventCreateWithFlags xemu_cudaEventCreateWithFlags
#define cudaEventQuery xemu_cudaEventQuery
#define cudaEventRecord xemu_cudaEventRecord
#define cudaEventSynchronize xemu_cudaEventSynchronize
#define cudaEventElapsedTime xemu_cudaEventElapsedTime

cudaError_t cudaGetLastError(void);
cudaError_t cudaPeekAtLastError(void);
const char *cudaGetErrorString(cudaError_t e);
const char *cudaGetErrorName(cudaError_t e);
/* Device memory is host memory filled with 0xff bytes (NaN as float or double, -1 as an integer),
 * so a kernel reading what nobody wrote shows; the emulator keeps the ranges it handed out. */
cudaError_t cudaMalloc(void **p, size_t bytes);
cudaError_t cudaFree(void *p);
cudaError_t cudaMallocHost(void **p, size_t bytes);
cudaError_t cudaHostAlloc(void **p, size_t bytes, unsigned flags);
cudaError_t cudaFreeHost(void *p);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind,
                            cudaStream_t s);
cudaError_t cudaMemcpy2DAsync(void *dst, size_t dpitch, const void *src, size_t spitch,
                              size_t width, size_t height, enum cudaMemcpyKind kind,
                              cudaStream_t s);
cudaError_t cudaMemset(void *dst, int v, size_t bytes);
cudaError_t cudaMemsetAsync(void *dst, int v, size_t bytes, cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaPointerGetAttributes(struct cudaPointerAttributes *a, const void *p);
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes);
cudaError_t cudaEventCreate(cudaEvent_t *e);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags);
cudaError_t cudaEventQuery(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b);

/* emulator controls (not CUDA): launches so far, and whether a pointer lies in a live device
 * allocation */
unsigned long xemu_launch_count(void);
int xemu_is_device(const void *p, size_t bytes);

/* A held stream (for tests of asynchrony; one host thread): while held, host-to-device copies
 * from pinned memory (cudaHostAlloc/cudaMallocHost) and event records are queued instead of run,
 * reading their source only when they run, and cudaEventQuery reports cudaErrorNotReady for an
 * event whose record is still queued (XEMU_NOTREADY_SETS_ERROR=1: it also sets the last error,
 * as a stricter runtime might). Any other stream operation (a kernel launch, memset, another
 * copy) first runs the queue, as the device would have by then. A host wait on the device -- a
 * synchronize call, a copy from pageable memory (the runtime synchronises the stream before it
 * stages such a copy), cudaFreeHost -- runs the whole queue and is counted.
 * xemu_hold(0) runs the queue and stops holding; xemu_progress(n) runs its first n entries. */
void xemu_hold(int on);
void xemu_progress(size_t n);
size_t xemu_queued(void);
unsigned long xemu_host_waits(void);

#ifdef __cplusplus
}
#endif

#endif
