/* Kernels that break one rule each, for the emulator's self-checks (tests/kernel_emu/
 * CMakeLists.txt: each case must be reported, naming this file's line). Not project kernels. */
#include <stdio.h>

__global__ void k_divergent_barrier(int *out) {
    if (threadIdx.x < 16) {
        __syncthreads();
    } else {
        __syncthreads();
    }
    out[threadIdx.x] = 1;
}

__global__ void k_barrier_after_return(int *out) {
    if (threadIdx.x >= 40) return;
    out[threadIdx.x] = 1;
    __syncthreads();
}

__global__ void k_partial_mask(float *out) {
    if (threadIdx.x >= 20) return;
    float v = threadIdx.x;
    v += __shfl_xor_sync(0xffffffffu, v, 1);
    out[threadIdx.x] = v;
}

__global__ void k_caller_not_in_mask(float *out) {
    out[threadIdx.x] = __shfl_sync(0x0000ffffu, 1.0f, 0);
}

__global__ void k_shuffle_reads_outside_mask(float *out) {
    if (threadIdx.x < 16) out[threadIdx.x] = __shfl_sync(0x0000ffffu, 1.0f, 20);
}

/* lanes 0-15 wait in a full-warp shuffle for lanes 16-31, which wait at the barrier */
__global__ void k_deadlock(float *out) {
    if (threadIdx.x < 16) out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
    __syncthreads();
}

/* a missing barrier: thread 0 sums what the others may not have written yet */
__global__ void k_missing_barrier(float *out) {
    __shared__ float part[64];
    part[threadIdx.x] = 1.0f;
    if (threadIdx.x == 0) {
        float s = 0.0f;
        for (int i = 0; i < 64; i++)
            s += part[i];
        out[0] = s;
    }
}

__global__ void k_shuffles(int *out) {
    int lane = threadIdx.x % 32;
    int a = __shfl_sync(0xffffffffu, lane * 10, 3);
    int b = __shfl_up_sync(0xffffffffu, lane, 2);
    int c = __shfl_down_sync(0xffffffffu, lane, 5);
    int d = __shfl_xor_sync(0xffffffffu, lane, 7);
    int e = __shfl_sync(0xffffffffu, lane, 1, 8); /* width 8: lane 1 of each group of 8 */
    unsigned bal = __ballot_sync(0xffffffffu, lane % 3 == 0);
    out[threadIdx.x * 6 + 0] = a;
    out[threadIdx.x * 6 + 1] = b;
    out[threadIdx.x * 6 + 2] = c;
    out[threadIdx.x * 6 + 3] = d;
    out[threadIdx.x * 6 + 4] = e;
    out[threadIdx.x * 6 + 5] = (int)bal;
}

extern "C" int planted_run(const char *name) {
    int *di = NULL;
    float *df = NULL;
    cudaMalloc((void **)&di, 4096);
    cudaMalloc((void **)&df, 4096);
    cudaError_t e = cudaSuccess;
    if (!strcmp(name, "divergent_barrier")) e = k_divergent_barrier<<<1, 64>>>(di);
    else if (!strcmp(name, "barrier_after_return")) e = k_barrier_after_return<<<1, 64>>>(di);
    else if (!strcmp(name, "partial_mask")) e = k_partial_mask<<<1, 32>>>(df);
    else if (!strcmp(name, "caller_not_in_mask")) e = k_caller_not_in_mask<<<1, 32>>>(df);
    else if (!strcmp(name, "shuffle_reads_outside_mask"))
        e = k_shuffle_reads_outside_mask<<<1, 32>>>(df);
    else if (!strcmp(name, "deadlock")) e = k_deadlock<<<1, 64>>>(df);
    else if (!strcmp(name, "too_many_threads")) {
        k_missing_barrier<<<1, 1025>>>(df);
        e = cudaGetLastError();
        printf("launch: %s\n", cudaGetErrorString(e));
        return e == cudaErrorInvalidConfiguration ? 0 : 1;
    } else if (!strcmp(name, "uninitialised_shared") || !strcmp(name, "race")) {
        e = k_missing_barrier<<<1, 64>>>(df);
        float s;
        cudaMemcpy(&s, df, 4, cudaMemcpyDeviceToHost);
        printf("uninitialised shared read seen: %g\n", s);
    } else if (!strcmp(name, "shuffle_ok")) {
        e = k_shuffles<<<1, 64>>>(di);
        int h[64 * 6];
        cudaMemcpy(h, di, sizeof h, cudaMemcpyDeviceToHost);
        int bad = 0;
        for (int t = 0; t < 64; t++) {
            int l = t % 32;
            unsigned bal = 0;
            for (int i = 0; i < 32; i++)
                if (i % 3 == 0) bal |= 1u << i;
            int want[6] = {30, l >= 2 ? l - 2 : l, l + 5 < 32 ? l + 5 : l, l ^ 7, (l & ~7) + 1,
                           (int)bal};
            for (int j = 0; j < 6; j++)
                if (h[t * 6 + j] != want[j]) {
                    printf("thread %d value %d: %d, want %d\n", t, j, h[t * 6 + j], want[j]);
                    bad++;
                }
        }
        if (!bad) printf("shuffle_ok: ok\n");
        return bad != 0;
    } else {
        fprintf(stderr, "unknown case %s\n", name);
        return 2;
    }
    printf("%s: launch returned %d\n", name, (int)e);
    return 1;
}
