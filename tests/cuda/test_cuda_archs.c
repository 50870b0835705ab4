/* The ops of the wider architectures on CUDA against the CPU backend (the oracle), through the
 * backend's function table as the layers call it (src/backend/cuda/ops_archs_cuda.c ->
 * kernels/archs.cu, kernels/pool.cu): ReLU6, the per-channel affine of transform_input, the strided
 * copy of channel concatenation, average pooling (k / stride / pad, ceil_mode, count_include_pad)
 * forward and backward, max pooling in ceil mode, and on a GPU the depthwise convolution (cuDNN's
 * group count). Odd sizes: n = 1, c = 1, 3, 5, 33, n % 32 != 0, windows past the input in ceil
 * mode. The elementwise ops, the copy and average pooling do the CPU's float operations in its
 * order, so they must agree to the last bit; max pooling backward sums the chosen windows in
 * window order (<= 1e-6, as tests/cuda/test_cuda_ops.c); convolutions fp32 <= 1e-5. Built with
 * XFER_TEST_EMU (tests/kernel_emu) it runs on the kernel emulator, which has no cuDNN: the
 * depthwise convolution is skipped there. XFER_TEST_SMALL=1 keeps shapes tiny. */
#include "cuda_test.h"

static xfer_backend *cpu, *gpu;
static int small;

/* ---- ReLU6, channel affine --------------------------------------------------------------- */
static void test_relu6(size_t n) {
    float *x = rand_vec(n, 8), *dy = rand_vec(n, 1);
    for (size_t i = 0; i < n; i += 5) /* the boundaries: 0 and 6 pass no gradient */
        x[i] = (i / 5) % 2 ? 6.0f : 0.0f;
    float *r = malloc(n * 4 * 3), *g = malloc(n * 4 * 3);
    xfer_backend *bs[2] = {cpu, gpu};
    for (int k = 0; k < 2; k++) {
        xfer_backend *b = bs[k];
        float *o = k ? g : r;
        float *X = put(b, x, n * 4), *Y = put(b, NULL, n * 4), *DY = put(b, dy, n * 4);
        float *DX = put(b, NULL, n * 4);
        b->relu6_forward(b, n, X, Y);
        b->relu6_backward(b, n, Y, DY, DX);
        get(b, o, Y, n * 4);
        get(b, o + n, DX, n * 4);
        b->relu6_forward(b, n, X, X);       /* in place */
        b->relu6_backward(b, n, X, DY, DY); /* dx may be dy */
        get(b, o + 2 * n, DY, n * 4);
        b->free(b, X), b->free(b, Y), b->free(b, DY), b->free(b, DX);
    }
    char t[80];
    snprintf(t, sizeof t, "relu6 fwd n%zu", n);
    CHECK_REL(t, g, r, n, 0.0);
    snprintf(t, sizeof t, "relu6 bwd n%zu", n);
    CHECK_REL(t, g + n, r + n, n, 0.0);
    snprintf(t, sizeof t, "relu6 in place n%zu", n);
    CHECK_REL(t, g + 2 * n, r + 2 * n, n, 0.0);
    free(x), free(dy), free(r), free(g);
}

static void test_affine(int m, int c) {
    size_t n = (size_t)m * c;
    float *x = rand_vec(n, 3), *sc = rand_vec(c, 2), *sh = rand_vec(c, 1);
    float *r = malloc(n * 4 * 3), *g = malloc(n * 4 * 3);
    xfer_backend *bs[2] = {cpu, gpu};
    for (int k = 0; k < 2; k++) {
        xfer_backend *b = bs[k];
        float *o = k ? g : r;
        float *X = put(b, x, n * 4), *S = put(b, sc, c * 4), *T = put(b, sh, c * 4);
        float *Y = put(b, NULL, n * 4);
        b->channel_affine(b, m, c, X, S, T, Y);
        get(b, o, Y, n * 4);
        b->channel_affine(b, m, c, X, S, NULL, Y); /* the backward: scale only */
        get(b, o + n, Y, n * 4);
        b->channel_affine(b, m, c, X, S, T, X); /* in place */
        get(b, o + 2 * n, X, n * 4);
        b->free(b, X), b->free(b, S), b->free(b, T), b->free(b, Y);
    }
    static const char *names[] = {"scale+shift", "scale only", "in place"};
    for (int i = 0; i < 3; i++) {
        char t[80];
        snprintf(t, sizeof t, "channel_affine %s m%d c%d", names[i], m, c);
        CHECK_REL(t, g + i * n, r + i * n, n, 0.0);
    }
    free(x), free(sc), free(sh), free(r), free(g);
}

/* ---- channel concatenation (copy_strided) as nn's concat layer does it ------------------- */
static void test_concat(size_t rows, int ca, int cb) {
    int ct = ca + cb;
    size_t na = rows * ca, nb = rows * cb, nt = rows * ct;
    float *a = rand_vec(na, 1), *bb = rand_vec(nb, 1), *fill = rand_vec(nt, 1);
    float *r = malloc((nt + na + nb) * 4), *g = malloc((nt + na + nb) * 4);
    xfer_backend *bs[2] = {cpu, gpu};
    for (int k = 0; k < 2; k++) {
        xfer_backend *b = bs[k];
        float *o = k ? g : r;
        float *A = put(b, a, na * 4), *B = put(b, bb, nb * 4), *Y = put(b, fill, nt * 4);
        float *DA = put(b, NULL, na * 4), *DB = put(b, NULL, nb * 4);
        b->copy_strided(b, rows, ca, A, ca, Y, ct);
        b->copy_strided(b, rows, cb, B, cb, Y + ca, ct);
        get(b, o, Y, nt * 4);
        b->copy_strided(b, rows, ca, Y, ct, DA, ca); /* the backward: the slices read back */
        b->copy_strided(b, rows, cb, Y + ca, ct, DB, cb);
        get(b, o + nt, DA, na * 4);
        get(b, o + nt + na, DB, nb * 4);
        b->copy_strided(b, 0, ca, A, ca, Y, ct); /* nothing to copy */
        b->free(b, A), b->free(b, B), b->free(b, Y), b->free(b, DA), b->free(b, DB);
    }
    char t[80];
    snprintf(t, sizeof t, "concat rows%zu %d+%d", rows, ca, cb);
    CHECK_REL(t, g, r, nt, 0.0);
    snprintf(t, sizeof t, "concat backward rows%zu %d+%d", rows, ca, cb);
    CHECK_REL(t, g + nt, r + nt, na + nb, 0.0);
    /* the oracle itself: the slices are the inputs */
    CHECK_MSG(memcmp(r + nt, a, na * 4) == 0 && memcmp(r + nt + na, bb, nb * 4) == 0,
              "cpu concat does not round-trip");
    free(a), free(bb), free(fill), free(r), free(g);
}

/* ---- pooling ----------------------------------------------------------------------------- */
/* Forward and backward of one pooling on both backends; max: max pooling (ties planted), else
 * average pooling. Bitwise except max-pool backward (windows summed in window order). */
static void pool_case(int max, int n, int h, int w, int c, int k, int stride, int pad,
                      int ceil_mode, int cip) {
    xfer_pool2d_desc d = {.n = n, .h = h, .w = w, .c = c, .k = k, .stride = stride, .pad = pad};
    d.ceil_mode = ceil_mode, d.count_include_pad = cip;
    xfer_pool2d_desc_init(&d);
    size_t nx = (size_t)n * h * w * c, ny = (size_t)n * d.oh * d.ow * c;
    float *x = rand_vec(nx, 1), *dy = rand_vec(ny, 1);
    for (size_t i = 0; max && i < nx; i += 7)
        x[i] = 0.25f; /* ties: the first maximum must win on both backends */
    float *r = malloc((ny + nx) * 4), *g = malloc((ny + nx) * 4);
    xfer_backend *bs[2] = {cpu, gpu};
    for (int kk = 0; kk < 2; kk++) {
        xfer_backend *b = bs[kk];
        float *o = kk ? g : r;
        float *X = put(b, x, nx * 4), *Y = put(b, NULL, ny * 4), *DY = put(b, dy, ny * 4);
        float *DX = put(b, NULL, nx * 4);
        if (max) {
            b->maxpool2d_forward(b, &d, X, Y);
            b->maxpool2d_backward(b, &d, X, Y, DY, DX);
        } else {
            b->avgpool2d_forward(b, &d, X, Y);
            b->avgpool2d_backward(b, &d, DY, DX);
        }
        get(b, o, Y, ny * 4);
        get(b, o + ny, DX, nx * 4);
        b->free(b, X), b->free(b, Y), b->free(b, DY), b->free(b, DX);
    }
    char t[160];
    snprintf(t, sizeof t, "%s n%d %dx%dx%d k%d s%d p%d ceil%d cip%d -> %dx%d fwd",
             max ? "maxpool" : "avgpool", n, h, w, c, k, stride, pad, ceil_mode, cip, d.oh, d.ow);
    CHECK_REL(t, g, r, ny, 0.0);
    memcpy(t + strlen(t) - 3, "bwd", 3);
    CHECK_REL(t, g + ny, r + ny, nx, max ? 1e-6 : 0.0);
    free(x), free(dy), free(r), free(g);
}

static void test_avgpool(int n, int h, int w, int c, int k, int stride, int pad, int ceil_mode,
                         int cip) {
    pool_case(0, n, h, w, c, k, stride, pad, ceil_mode, cip);
}

static void test_maxpool_ceil(int n, int h, int w, int c, int k, int stride, int pad) {
    pool_case(1, n, h, w, c, k, stride, pad, 1, 0);
}

/* ---- depthwise convolution (cuDNN groups; not on the emulator) --------------------------- */
static void conv_run(xfer_backend *b, const xfer_conv2d_desc *d, const float *x, const float *w,
                     const float *bias, const float *dy, float *out, size_t nx, size_t nw,
                     size_t ny) {
    float *X = put(b, x, nx * 4), *W = put(b, w, nw * 4), *B = put(b, bias, d->o * 4);
    float *Y = put(b, NULL, ny * 4), *DY = put(b, dy, ny * 4), *DX = put(b, NULL, nx * 4);
    float *DW = put(b, NULL, nw * 4), *DB = put(b, NULL, d->o * 4);
    b->conv2d_forward(b, d, X, W, B, Y);
    b->conv2d_backward_data(b, d, DY, W, DX);
    b->conv2d_backward_filter(b, d, X, DY, DW, DB);
    get(b, out, Y, ny * 4);
    get(b, out + ny, DX, nx * 4);
    get(b, out + ny + nx, DW, nw * 4);
    get(b, out + ny + nx + nw, DB, d->o * 4);
    void *all[] = {X, W, B, Y, DY, DX, DW, DB};
    for (int i = 0; i < 8; i++)
        b->free(b, all[i]);
}

static void test_depthwise(int n, int h, int w, int c, int k, int stride, int pad) {
    xfer_conv2d_desc d = {.n = n, .h = h, .w = w, .c = c, .o = c, .groups = c};
    d.kh = d.kw = k, d.stride = stride, d.pad_h = d.pad_w = pad;
    xfer_conv2d_desc_init(&d);
    size_t nx = (size_t)n * h * w * c, ny = (size_t)n * d.oh * d.ow * c, nw = (size_t)c * k * k;
    float *x = rand_vec(nx, 1), *wt = rand_vec(nw, 0.5), *bias = rand_vec(c, 1);
    float *dy = rand_vec(ny, 1);
    size_t tot = ny + nx + nw + c;
    float *r = malloc(tot * 4), *g = malloc(tot * 4);
    conv_run(cpu, &d, x, wt, bias, dy, r, nx, nw, ny);
    conv_run(gpu, &d, x, wt, bias, dy, g, nx, nw, ny);
    char t[160];
    snprintf(t, sizeof t, "depthwise n%d %dx%dx%d k%d s%d p%d", n, h, w, c, k, stride, pad);
    static const char *part[] = {"fwd", "bwd-data", "bwd-filter", "dbias"};
    size_t off[] = {0, ny, ny + nx, ny + nx + nw}, len[] = {ny, nx, nw, (size_t)c};
    for (int i = 0; i < 4; i++) {
        char tt[200];
        snprintf(tt, sizeof tt, "%s %s", t, part[i]);
        /* backward-filter sums over n*oh*ow: test_cuda_ops's large-extent tolerance */
        CHECK_REL(tt, g + off[i], r + off[i], len[i], i == 2 ? 1e-4 : 1e-5);
    }
    free(x), free(wt), free(bias), free(dy), free(r), free(g);
}

int main(void) {
    open_backends(&cpu, &gpu);
    small = getenv("XFER_TEST_SMALL") != NULL;
    xfer_err e;
    xfer_err_clear(&e);
    test_relu6(small ? 1000 : 100003);
    test_relu6(1);
    test_relu6(33);
    test_affine(small ? 50 : 4099, 3); /* transform_input: 3 channels */
    test_affine(1, 1);
    test_affine(37, 5);
    test_affine(9, 33);
    test_concat(small ? 20 : 2 * 17 * 17, 64, 96); /* an Inception block's branches */
    test_concat(1, 1, 1);
    test_concat(37, 3, 5);
    /* average pooling: Inception's 3/1/1 branch (count_include_pad on and off), GoogLeNet-style
     * ceil mode with a window past the input, DenseNet's 2/2 transition, odd sizes */
    test_avgpool(2, 9, 11, 5, 3, 1, 1, 0, 1);
    test_avgpool(2, 9, 11, 5, 3, 1, 1, 0, 0);
    test_avgpool(2, 8, 9, 7, 3, 2, 0, 1, 1);
    test_avgpool(2, 8, 9, 7, 3, 2, 1, 1, 1);
    test_avgpool(2, 8, 9, 7, 3, 2, 1, 1, 0);
    test_avgpool(3, 7, 7, 3, 2, 2, 0, 0, 1);
    test_avgpool(3, 7, 7, 3, 2, 2, 0, 1, 1);
    test_avgpool(1, 1, 1, 1, 1, 1, 0, 0, 1);
    test_avgpool(1, 5, 6, 33, 5, 3, 2, 1, 0);
    if (!small) test_avgpool(4, 35, 35, 64, 3, 1, 1, 0, 1);
    test_maxpool_ceil(2, 8, 9, 5, 3, 2, 0); /* GoogLeNet's MaxPool2d(3, 2, ceil_mode=True) */
    test_maxpool_ceil(1, 7, 7, 3, 2, 2, 0);
    test_maxpool_ceil(3, 6, 5, 1, 3, 2, 1);
    test_maxpool_ceil(1, 1, 1, 1, 1, 1, 0);
    if (!small) test_maxpool_ceil(2, 112, 112, 16, 3, 2, 0);
    if (gpu->conv2d_forward) {
        test_depthwise(2, 9, 9, 5, 3, 1, 1);
        test_depthwise(2, 9, 8, 32, 3, 2, 1); /* MobileNetV2's stride-2 depthwise */
        test_depthwise(1, 7, 7, 3, 5, 1, 2);
    } else {
        printf("depthwise convolution: not on this backend (emulator: no cuDNN)\n");
    }
    CHECK(gpu->sync(gpu, &e) == XFER_OK);
    if (e.code) fprintf(stderr, "cuda: %s\n", e.msg);
    xfer_backend_release(gpu);
    xfer_backend_release(cpu);
    return test_summary();
}
