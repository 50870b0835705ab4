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

/* ---- the harness: one case run on both backends, its outputs compared part by part -------- */
/* Runs a case on backend b, writing its outputs one after another into out. */
typedef void (*run_fn)(xfer_backend *b, const void *cs, float *out);

typedef struct {
    const char *name;
    size_t len;
    double tol; /* 0: bitwise */
} part;

/* Runs cs on the CPU backend (the oracle) and on the GPU and checks each part of the outputs,
 * laid out consecutively, as "<what> <part>". */
static void compare(const char *what, run_fn run, const void *cs, const part *p, int np) {
    size_t tot = 0;
    for (int i = 0; i < np; i++)
        tot += p[i].len;
    float *r = malloc(tot * 4 + 4), *g = malloc(tot * 4 + 4);
    run(cpu, cs, r);
    run(gpu, cs, g);
    size_t off = 0;
    for (int i = 0; i < np; i++) {
        char t[224];
        snprintf(t, sizeof t, "%s %s", what, p[i].name);
        CHECK_REL(t, g + off, r + off, p[i].len, p[i].tol);
        off += p[i].len;
    }
    free(r), free(g);
}

/* ---- ReLU6, channel affine --------------------------------------------------------------- */
typedef struct {
    size_t n;
    const float *x, *dy;
} relu6_case;

static void relu6_run(xfer_backend *b, const void *cs, float *o) {
    const relu6_case *t = cs;
    size_t n = t->n;
    float *X = put(b, t->x, n * 4), *Y = put(b, NULL, n * 4), *DY = put(b, t->dy, n * 4);
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

static void test_relu6(size_t n) {
    float *x = rand_vec(n, 8), *dy = rand_vec(n, 1);
    for (size_t i = 0; i < n; i += 5) /* the boundaries: 0 and 6 pass no gradient */
        x[i] = (i / 5) % 2 ? 6.0f : 0.0f;
    relu6_case t = {n, x, dy};
    const part p[] = {{"fwd", n, 0.0}, {"bwd", n, 0.0}, {"in place", n, 0.0}};
    char what[80];
    snprintf(what, sizeof what, "relu6 n%zu", n);
    compare(what, relu6_run, &t, p, 3);
    free(x), free(dy);
}

typedef struct {
    int m, c;
    const float *x, *sc, *sh;
} affine_case;

static void affine_run(xfer_backend *b, const void *cs, float *o) {
    const affine_case *t = cs;
    int m = t->m, c = t->c;
    size_t n = (size_t)m * c;
    float *X = put(b, t->x, n * 4), *S = put(b, t->sc, c * 4), *T = put(b, t->sh, c * 4);
    float *Y = put(b, NULL, n * 4);
    b->channel_affine(b, m, c, X, S, T, Y);
    get(b, o, Y, n * 4);
    b->channel_affine(b, m, c, X, S, NULL, Y); /* the backward: scale only */
    get(b, o + n, Y, n * 4);
    b->channel_affine(b, m, c, X, S, T, X); /* in place */
    get(b, o + 2 * n, X, n * 4);
    b->free(b, X), b->free(b, S), b->free(b, T), b->free(b, Y);
}

static void test_affine(int m, int c) {
    size_t n = (size_t)m * c;
    float *x = rand_vec(n, 3), *sc = rand_vec(c, 2), *sh = rand_vec(c, 1);
    affine_case t = {m, c, x, sc, sh};
    const part p[] = {{"scale+shift", n, 0.0}, {"scale only", n, 0.0}, {"in place", n, 0.0}};
    char what[80];
    snprintf(what, sizeof what, "channel_affine m%d c%d", m, c);
    compare(what, affine_run, &t, p, 3);
    free(x), free(sc), free(sh);
}

/* ---- channel concatenation (copy_strided) as nn's concat layer does it ------------------- */
typedef struct {
    size_t rows;
    int ca, cb;
    const float *a, *b, *fill;
} concat_case;

static void concat_run(xfer_backend *b, const void *cs, float *o) {
    const concat_case *t = cs;
    size_t rows = t->rows;
    int ca = t->ca, cb = t->cb, ct = ca + cb;
    size_t na = rows * ca, nb = rows * cb, nt = rows * ct;
    float *A = put(b, t->a, na * 4), *B = put(b, t->b, nb * 4), *Y = put(b, t->fill, nt * 4);
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

static void test_concat(size_t rows, int ca, int cb) {
    size_t na = rows * ca, nb = rows * cb, nt = rows * (ca + cb);
    float *a = rand_vec(na, 1), *bb = rand_vec(nb, 1), *fill = rand_vec(nt, 1);
    concat_case t = {rows, ca, cb, a, bb, fill};
    const part p[] = {{"fwd", nt, 0.0}, {"backward", na + nb, 0.0}};
    char what[80];
    snprintf(what, sizeof what, "concat rows%zu %d+%d", rows, ca, cb);
    compare(what, concat_run, &t, p, 2);
    /* the oracle itself: the slices are the inputs */
    float *r = malloc((nt + na + nb) * 4);
    concat_run(cpu, &t, r);
    CHECK_MSG(memcmp(r + nt, a, na * 4) == 0 && memcmp(r + nt + na, bb, nb * 4) == 0,
              "cpu concat does not round-trip");
    free(a), free(bb), free(fill), free(r);
}

/* ---- pooling ----------------------------------------------------------------------------- */
/* One pooling: max (ties planted; max pooling runs in ceil mode here) or average; big: a larger
 * shape left out with XFER_TEST_SMALL. */
typedef struct {
    int max, n, h, w, c, k, stride, pad, ceil_mode, cip, big;
} pool_shape;

typedef struct {
    xfer_pool2d_desc d;
    int max;
    const float *x, *dy;
} pool_case;

static void pool_run(xfer_backend *b, const void *cs, float *o) {
    const pool_case *t = cs;
    const xfer_pool2d_desc *d = &t->d;
    size_t nx = (size_t)d->n * d->h * d->w * d->c, ny = (size_t)d->n * d->oh * d->ow * d->c;
    float *X = put(b, t->x, nx * 4), *Y = put(b, NULL, ny * 4), *DY = put(b, t->dy, ny * 4);
    float *DX = put(b, NULL, nx * 4);
    if (t->max) {
        b->maxpool2d_forward(b, d, X, Y);
        b->maxpool2d_backward(b, d, X, Y, DY, DX);
    } else {
        b->avgpool2d_forward(b, d, X, Y);
        b->avgpool2d_backward(b, d, DY, DX);
    }
    get(b, o, Y, ny * 4);
    get(b, o + ny, DX, nx * 4);
    b->free(b, X), b->free(b, Y), b->free(b, DY), b->free(b, DX);
}

/* Forward and backward on both backends: bitwise except max-pool backward (windows summed in
 * window order). */
static void test_pool(const pool_shape *s) {
    pool_case t = {{.n = s->n,
                    .h = s->h,
                    .w = s->w,
                    .c = s->c,
                    .k = s->k,
                    .stride = s->stride,
                    .pad = s->pad,
                    .ceil_mode = s->ceil_mode,
                    .count_include_pad = s->cip},
                   s->max,
                   NULL,
                   NULL};
    xfer_pool2d_desc_init(&t.d);
    size_t nx = (size_t)s->n * s->h * s->w * s->c, ny = (size_t)s->n * t.d.oh * t.d.ow * s->c;
    float *x = rand_vec(nx, 1), *dy = rand_vec(ny, 1);
    for (size_t i = 0; s->max && i < nx; i += 7)
        x[i] = 0.25f; /* ties: the first maximum must win on both backends */
    t.x = x, t.dy = dy;
    const part p[] = {{"fwd", ny, 0.0}, {"bwd", nx, s->max ? 1e-6 : 0.0}};
    char what[160];
    snprintf(what, sizeof what, "%s n%d %dx%dx%d k%d s%d p%d ceil%d cip%d -> %dx%d",
             s->max ? "maxpool" : "avgpool", s->n, s->h, s->w, s->c, s->k, s->stride, s->pad,
             s->ceil_mode, s->cip, t.d.oh, t.d.ow);
    compare(what, pool_run, &t, p, 2);
    free(x), free(dy);
}

/* ---- depthwise convolution (cuDNN groups; not on the emulator) --------------------------- */
typedef struct {
    int n, h, w, c, k, stride, pad;
} dw_shape;

typedef struct {
    xfer_conv2d_desc d;
    const float *x, *w, *bias, *dy;
} conv_case;

static void conv_run(xfer_backend *b, const void *cs, float *out) {
    const conv_case *t = cs;
    const xfer_conv2d_desc *d = &t->d;
    size_t nx = (size_t)d->n * d->h * d->w * d->c, ny = (size_t)d->n * d->oh * d->ow * d->o;
    size_t nw = (size_t)d->o * d->kh * d->kw * (d->c / d->groups);
    float *X = put(b, t->x, nx * 4), *W = put(b, t->w, nw * 4), *B = put(b, t->bias, d->o * 4);
    float *Y = put(b, NULL, ny * 4), *DY = put(b, t->dy, ny * 4), *DX = put(b, NULL, nx * 4);
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

static void test_depthwise(const dw_shape *s) {
    conv_case t = {.d = {.n = s->n, .h = s->h, .w = s->w, .c = s->c, .o = s->c, .groups = s->c}};
    t.d.kh = t.d.kw = s->k, t.d.stride = s->stride, t.d.pad_h = t.d.pad_w = s->pad;
    xfer_conv2d_desc_init(&t.d);
    size_t nx = (size_t)s->n * s->h * s->w * s->c, ny = (size_t)s->n * t.d.oh * t.d.ow * s->c;
    size_t nw = (size_t)s->c * s->k * s->k;
    float *x = rand_vec(nx, 1), *wt = rand_vec(nw, 0.5), *bias = rand_vec(s->c, 1);
    float *dy = rand_vec(ny, 1);
    t.x = x, t.w = wt, t.bias = bias, t.dy = dy;
    /* backward-filter sums over n*oh*ow: test_cuda_ops's large-extent tolerance */
    const part p[] = {{"fwd", ny, 1e-5},
                      {"bwd-data", nx, 1e-5},
                      {"bwd-filter", nw, 1e-4},
                      {"dbias", (size_t)s->c, 1e-5}};
    char what[160];
    snprintf(what, sizeof what, "depthwise n%d %dx%dx%d k%d s%d p%d", s->n, s->h, s->w, s->c, s->k,
             s->stride, s->pad);
    compare(what, conv_run, &t, p, 4);
    free(x), free(wt), free(bias), free(dy);
}

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

int main(void) {
    open_backends(&cpu, &gpu);
    small = getenv("XFER_TEST_SMALL") != NULL;
    xfer_err e;
    xfer_err_clear(&e);
    const size_t relu6_cases[] = {small ? 1000 : 100003, 1, 33};
    for (int i = 0; i < COUNT(relu6_cases); i++)
        test_relu6(relu6_cases[i]);
    const int affine_cases[][2] = {
        {small ? 50 : 4099, 3}, /* transform_input: 3 channels */
        {1, 1},
        {37, 5},
        {9, 33},
    };
    for (int i = 0; i < COUNT(affine_cases); i++)
        test_affine(affine_cases[i][0], affine_cases[i][1]);
    const struct {
        size_t rows;
        int ca, cb;
    } concat_cases[] = {
        {small ? 20 : 2 * 17 * 17, 64, 96}, /* an Inception block's branches */
        {1, 1, 1},
        {37, 3, 5},
    };
    for (int i = 0; i < COUNT(concat_cases); i++)
        test_concat(concat_cases[i].rows, concat_cases[i].ca, concat_cases[i].cb);
    /* average pooling: Inception's 3/1/1 branch (count_include_pad on and off), GoogLeNet-style
     * ceil mode with a window past the input, DenseNet's 2/2 transition, odd sizes; max pooling
     * in ceil mode: GoogLeNet's MaxPool2d(3, 2, ceil_mode=True) and odd sizes */
    static const pool_shape pool_cases[] = {
        /* max n  h   w   c   k  s  p  ceil cip big */
        {0, 2, 9, 11, 5, 3, 1, 1, 0, 1, 0},     {0, 2, 9, 11, 5, 3, 1, 1, 0, 0, 0},
        {0, 2, 8, 9, 7, 3, 2, 0, 1, 1, 0},      {0, 2, 8, 9, 7, 3, 2, 1, 1, 1, 0},
        {0, 2, 8, 9, 7, 3, 2, 1, 1, 0, 0},      {0, 3, 7, 7, 3, 2, 2, 0, 0, 1, 0},
        {0, 3, 7, 7, 3, 2, 2, 0, 1, 1, 0},      {0, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0},
        {0, 1, 5, 6, 33, 5, 3, 2, 1, 0, 0},     {0, 4, 35, 35, 64, 3, 1, 1, 0, 1, 1},
        {1, 2, 8, 9, 5, 3, 2, 0, 1, 0, 0},      {1, 1, 7, 7, 3, 2, 2, 0, 1, 0, 0},
        {1, 3, 6, 5, 1, 3, 2, 1, 1, 0, 0},      {1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 0},
        {1, 2, 112, 112, 16, 3, 2, 0, 1, 0, 1},
    };
    for (int i = 0; i < COUNT(pool_cases); i++)
        if (!(small && pool_cases[i].big)) test_pool(&pool_cases[i]);
    static const dw_shape dw_cases[] = {
        {2, 9, 9, 5, 3, 1, 1},
        {2, 9, 8, 32, 3, 2, 1}, /* MobileNetV2's stride-2 depthwise */
        {1, 7, 7, 3, 5, 1, 2},
    };
    if (gpu->conv2d_forward) {
        for (int i = 0; i < COUNT(dw_cases); i++)
            test_depthwise(&dw_cases[i]);
    } else {
        printf("depthwise convolution: not on this backend (emulator: no cuDNN)\n");
    }
    CHECK(gpu->sync(gpu, &e) == XFER_OK);
    if (e.code) fprintf(stderr, "cuda: %s\n", e.msg);
    xfer_backend_release(gpu);
    xfer_backend_release(cpu);
    return test_summary();
}
