/* The own kernels the backend drives from its cuDNN path (src/backend/cuda/conv_cudnn.c), which the
 * emulator cannot run as a whole: the conv bias row add, the deterministic column sum (dbias), and
 * the bf16 conversions, each called exactly as conv_cudnn.c calls it, against independent host
 * references; and one property of the backend's error recording (memory_cuda.c): a failed runtime
 * call is reported once, not again as a false launch failure by the next kernel. */
#include "cuda_test.h"

#include <cuda_runtime_api.h>

#include "cuda_kernels.h"

static void *dev(size_t bytes) {
    void *p = NULL;
    if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess) {
        fprintf(stderr, "cudaMalloc failed\n");
        exit(1);
    }
    return p;
}

/* conv_cudnn.c: xk_add_rows(s, n*oh*ow, o, bias, y) after the convolution */
static void test_add_rows(size_t rows, int cols) {
    size_t t = rows * cols;
    float *y = rand_vec(t, 1), *bias = rand_vec(cols, 1), *got = malloc(t * 4 + 4);
    float *Y = dev(t * 4), *B = dev(cols * 4);
    cudaMemcpy(Y, y, t * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(B, bias, cols * 4, cudaMemcpyHostToDevice);
    CHECK(xk_add_rows(NULL, rows, cols, B, Y) == cudaSuccess);
    cudaMemcpy(got, Y, t * 4, cudaMemcpyDeviceToHost);
    size_t bad = 0;
    for (size_t i = 0; i < t; i++)
        bad += got[i] != y[i] + bias[i % cols];
    CHECK_MSG(bad == 0, "add_rows %zux%d: %zu values differ", rows, cols, bad);
    free(y), free(bias), free(got), cudaFree(Y), cudaFree(B);
}

/* conv_cudnn.c: scratch of xk_colsum_scratch(rows, o) doubles, then xk_colsum_add(dy -> dbias) */
static void test_colsum(size_t rows, int cols) {
    size_t t = rows * cols;
    float *a = rand_vec(t, 1), *out0 = rand_vec(cols, 1), *got = malloc(cols * 4 + 4);
    float *A = dev(t * 4), *O = dev(cols * 4);
    double *scr = dev(xk_colsum_scratch(rows, cols) * sizeof(double));
    cudaMemcpy(A, a, t * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(O, out0, cols * 4, cudaMemcpyHostToDevice);
    CHECK(xk_colsum_add(NULL, rows, cols, A, O, scr) == cudaSuccess);
    cudaMemcpy(got, O, cols * 4, cudaMemcpyDeviceToHost);
    float *ref = malloc(cols * 4 + 4);
    for (int j = 0; j < cols; j++) {
        long double s = 0; /* a different summation order, in higher precision */
        for (size_t r = 0; r < rows; r++)
            s += a[r * cols + j];
        ref[j] = out0[j] + (float)(double)s;
    }
    char what[80];
    snprintf(what, sizeof what, "colsum %zux%d", rows, cols);
    CHECK_REL(what, got, ref, cols, 1e-5); /* test_cuda_ops's dbias tolerance */
    free(a), free(out0), free(got), free(ref), cudaFree(A), cudaFree(O), cudaFree(scr);
}

/* round to nearest even by the add-and-truncate formula (not cuda_bf16.h's remainder test) */
static uint16_t ref_bf16(uint32_t x) {
    if ((x & 0x7fffffffu) > 0x7f800000u) return 0x7fff;
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

static void test_bf16(size_t n) {
    uint32_t *bits = malloc(n * 4);
    uint64_t z = 99;
    static const uint32_t special[] = {0,           0x80000000u, 0x7f800000u, 0xff800000u,
                                       0x7fc00000u, 0xffc00001u, 0x7f800001u, 0x00000001u,
                                       0x00008000u, 0x00018000u, 0x3f808000u, 0x3f818000u,
                                       0x7f7fffffu, 0x7f7f8000u, 0x807fffffu, 0x3f80ffffu};
    for (size_t i = 0; i < n; i++) {
        z = xfer_splitmix64(z);
        bits[i] = i < 16 ? special[i] : (uint32_t)z;
        if (i % 5 == 1) bits[i] = (bits[i] & 0xffff0000u) | 0x8000u; /* exact ties */
    }
    float *F = dev(n * 4), *back = dev(n * 4), *acc = dev(n * 4);
    uint16_t *H = dev(n * 2), *got = malloc(n * 2);
    float *gb = malloc(n * 4), *ga = malloc(n * 4), *a0 = rand_vec(n, 1);
    cudaMemcpy(F, bits, n * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(acc, a0, n * 4, cudaMemcpyHostToDevice);
    CHECK(xk_f32_to_bf16(NULL, n, F, H) == cudaSuccess);
    CHECK(xk_bf16_to_f32(NULL, n, H, back, 0) == cudaSuccess);
    CHECK(xk_bf16_to_f32(NULL, n, H, acc, 1) == cudaSuccess);
    cudaMemcpy(got, H, n * 2, cudaMemcpyDeviceToHost);
    cudaMemcpy(gb, back, n * 4, cudaMemcpyDeviceToHost);
    cudaMemcpy(ga, acc, n * 4, cudaMemcpyDeviceToHost);
    size_t bad = 0, badb = 0, bada = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t want = ref_bf16(bits[i]);
        if (got[i] != want && bad++ < 5)
            fprintf(stderr, "bf16(0x%08x) = 0x%04x, want 0x%04x\n", bits[i], got[i], want);
        uint32_t wb = (uint32_t)want << 16, gbits;
        float wf;
        memcpy(&wf, &wb, 4);
        memcpy(&gbits, &gb[i], 4);
        badb += gbits != wb;
        float wa = a0[i] + wf;
        bada += !(ga[i] == wa || (isnan(ga[i]) && isnan(wa)));
    }
    CHECK_MSG(bad == 0, "f32_to_bf16: %zu of %zu patterns differ", bad, n);
    CHECK_MSG(badb == 0, "bf16_to_f32: %zu of %zu differ", badb, n);
    CHECK_MSG(bada == 0, "bf16_to_f32 (accumulate): %zu of %zu differ", bada, n);
    printf("bf16: %zu bit patterns checked\n", n);
    free(bits), free(got), free(gb), free(ga), free(a0);
    cudaFree(F), cudaFree(back), cudaFree(acc), cudaFree(H);
}

/* memory_cuda.c: after a failed runtime call has been reported by check(), the next kernel's
 * launch check must not report it again */
static void test_error_once(void) {
    xfer_err e;
    xfer_err_clear(&e);
    xfer_backend *b = xfer_backend_get(XFER_DEVICE_CUDA, &e);
    float host[4] = {1, 2, 3, 4}, other[4];
    float *d = b->alloc(b, 16, "test", &e);
    b->upload(b, other, host, 16); /* destination is not device memory: the copy fails */
    CHECK_MSG(b->check(b, &e) != XFER_OK && strstr(e.msg, "cudaMemcpyAsync"), "first: %s", e.msg);
    xfer_err_clear(&e);
    b->relu_forward(b, 4, d, d);
    int s = b->check(b, &e);
    CHECK_MSG(s == XFER_OK, "a false second failure after the reported one: %s", e.msg);
    b->free(b, d);
    xfer_backend_release(b);
}

int main(void) {
    int small = getenv("XFER_TEST_SMALL") != NULL;
    test_add_rows(1, 1);
    test_add_rows(33, 7);
    test_add_rows(2 * 5 * 5, 64);
    test_colsum(1, 1);
    test_colsum(9, 3);
    test_colsum(513, 33);
    if (!small) test_colsum(70000, 5); /* more than one part per column */
    test_bf16(small ? 5000 : 1200000);
    test_bf16(1);
    test_error_once();
    printf("kernel launches: %lu\n", xemu_launch_count());
    return test_summary();
}
