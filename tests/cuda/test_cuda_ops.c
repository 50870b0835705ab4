/* Every backend op on CUDA against the CPU backend (the oracle) on random inputs, including odd
 * sizes (n = 1, n % 32 != 0, n % 8 != 0, c not a multiple of 4). fp32 (TF32 off):
 * relative error <= 1e-5, <= 1e-4 for reductions over large extents; convolutions and linear
 * layers also in tf32 (<= 5e-3) and bf16 (<= 3e-2). Exact ops (dropout masks, argmax, pooling
 * selections, SGD) must agree to the last bit or nearly. XFER_TEST_SMALL=1 keeps shapes tiny
 * (for compute-sanitizer). Built with XFER_TEST_EMU (tests/kernel_emu) it runs on the kernel
 * emulator, where convolutions (cuDNN) are not emulated and are skipped. */
#include "cuda_test.h"

static xfer_backend *cpu, *gpu;
static int small;

static const char *prec_name[] = {"fp32", "tf32", "bf16"};
static const double prec_tol[] = {1e-5, 5e-3, 3e-2};

/* ---- convolution ------------------------------------------------------------------------ */
typedef struct {
    float *y, *dx, *dw, *db;
} conv_out;

static void conv_run(xfer_backend *b, const xfer_conv2d_desc *d, const float *x, const float *w,
                     const float *bias, const float *dy, const float *dw0, const float *db0,
                     conv_out *o) {
    size_t nx = (size_t)d->n * d->h * d->w * d->c, ny = (size_t)d->n * d->oh * d->ow * d->o;
    size_t nw = (size_t)d->o * d->kh * d->kw * d->c;
    float *X = put(b, x, nx * 4), *W = put(b, w, nw * 4), *B = put(b, bias, d->o * 4);
    float *Y = put(b, NULL, ny * 4), *DY = put(b, dy, ny * 4), *DX = put(b, NULL, nx * 4);
    float *DW = put(b, dw0, nw * 4), *DB = put(b, db0, d->o * 4);
    b->conv2d_forward(b, d, X, W, B, Y);
    b->conv2d_backward_data(b, d, DY, W, DX);
    b->conv2d_backward_filter(b, d, X, DY, DW, DB);
    get(b, o->y, Y, ny * 4);
    get(b, o->dx, DX, nx * 4);
    get(b, o->dw, DW, nw * 4);
    get(b, o->db, DB, d->o * 4);
    void *all[] = {X, W, B, Y, DY, DX, DW, DB};
    for (int i = 0; i < 8; i++)
        b->free(b, all[i]);
}

static void test_conv(int n, int h, int w, int c, int o, int k, int stride, int pad) {
    xfer_conv2d_desc d = {.n = n,
                          .h = h,
                          .w = w,
                          .c = c,
                          .o = o,
                          .kh = k,
                          .kw = k,
                          .stride = stride,
                          .pad_h = pad,
                          .pad_w = pad};
    xfer_conv2d_desc_init(&d);
    size_t nx = (size_t)n * h * w * c, ny = (size_t)n * d.oh * d.ow * o, nw = (size_t)o * k * k * c;
    float *x = rand_vec(nx, 1), *wt = rand_vec(nw, 0.3), *bias = rand_vec(o, 1);
    float *dy = rand_vec(ny, 1), *dw0 = rand_vec(nw, 1), *db0 = rand_vec(o, 1);
    conv_out r = {malloc(ny * 4), malloc(nx * 4), malloc(nw * 4), malloc(o * 4)};
    conv_out g = {malloc(ny * 4), malloc(nx * 4), malloc(nw * 4), malloc(o * 4)};
    conv_run(cpu, &d, x, wt, bias, dy, dw0, db0, &r);
    /* reductions: forward over k*k*c, backward-filter over n*oh*ow (large extents) */
    int large = (size_t)n * d.oh * d.ow > 4096 || (size_t)k * k * c > 1024;
    for (int p = 0; p < 3; p++) {
        xfer_err e;
        xfer_err_clear(&e);
        CHECK(xfer_cuda_set_precision(gpu, (xfer_precision)p, &e) == XFER_OK);
        conv_run(gpu, &d, x, wt, bias, dy, dw0, db0, &g);
        double tol = prec_tol[p] * (p == 0 && large ? 10 : 1);
        char what[160];
        snprintf(what, sizeof what, "conv %s n%d %dx%dx%d->%d k%d s%d p%d", prec_name[p], n, h, w,
                 c, o, k, stride, pad);
        char t[200];
        snprintf(t, sizeof t, "%s fwd", what);
        CHECK_REL(t, g.y, r.y, ny, tol);
        snprintf(t, sizeof t, "%s bwd-data", what);
        CHECK_REL(t, g.dx, r.dx, nx, tol);
        snprintf(t, sizeof t, "%s bwd-filter", what);
        CHECK_REL(t, g.dw, r.dw, nw, p == 0 ? 1e-4 : tol);
        snprintf(t, sizeof t, "%s dbias", what);
        CHECK_REL(t, g.db, r.db, o, 1e-5);
    }
    xfer_err e;
    xfer_cuda_set_precision(gpu, XFER_PREC_FP32, &e);
    free(x), free(wt), free(bias), free(dy), free(dw0), free(db0);
    free(r.y), free(r.dx), free(r.dw), free(r.db), free(g.y), free(g.dx), free(g.dw), free(g.db);
}

/* ---- linear ------------------------------------------------------------------------------ */
static void linear_run(xfer_backend *b, int n, int in, int out, const float *x, const float *w,
                       const float *bias, const float *dy, const float *dw0, float *y, float *dx,
                       float *dw, float *db) {
    float *X = put(b, x, (size_t)n * in * 4), *W = put(b, w, (size_t)out * in * 4);
    float *B = put(b, bias, out * 4), *Y = put(b, NULL, (size_t)n * out * 4);
    float *DY = put(b, dy, (size_t)n * out * 4), *DX = put(b, NULL, (size_t)n * in * 4);
    float *DW = put(b, dw0, (size_t)out * in * 4), *DB = put(b, NULL, out * 4);
    b->linear_forward(b, n, in, out, X, W, B, Y);
    b->linear_backward(b, n, in, out, X, W, DY, DX, DW, DB);
    get(b, y, Y, (size_t)n * out * 4);
    get(b, dx, DX, (size_t)n * in * 4);
    get(b, dw, DW, (size_t)out * in * 4);
    get(b, db, DB, out * 4);
    void *all[] = {X, W, B, Y, DY, DX, DW, DB};
    for (int i = 0; i < 8; i++)
        b->free(b, all[i]);
}

static void test_linear(int n, int in, int out) {
    size_t nx = (size_t)n * in, ny = (size_t)n * out, nw = (size_t)out * in;
    float *x = rand_vec(nx, 1), *w = rand_vec(nw, 0.2), *bias = rand_vec(out, 1);
    float *dy = rand_vec(ny, 1), *dw0 = rand_vec(nw, 1);
    float *ry = malloc(ny * 4), *rdx = malloc(nx * 4), *rdw = malloc(nw * 4),
          *rdb = malloc(out * 4);
    float *gy = malloc(ny * 4), *gdx = malloc(nx * 4), *gdw = malloc(nw * 4),
          *gdb = malloc(out * 4);
    linear_run(cpu, n, in, out, x, w, bias, dy, dw0, ry, rdx, rdw, rdb);
    for (int p = 0; p < 3; p++) {
        xfer_err e;
        xfer_err_clear(&e);
        CHECK(xfer_cuda_set_precision(gpu, (xfer_precision)p, &e) == XFER_OK);
        linear_run(gpu, n, in, out, x, w, bias, dy, dw0, gy, gdx, gdw, gdb);
        double tol = prec_tol[p] * (p == 0 && in > 1024 ? 10 : 1);
        char t[120];
        snprintf(t, sizeof t, "linear %s %dx%d->%d fwd", prec_name[p], n, in, out);
        CHECK_REL(t, gy, ry, ny, tol);
        snprintf(t, sizeof t, "linear %s %dx%d->%d dx", prec_name[p], n, in, out);
        CHECK_REL(t, gdx, rdx, nx, tol);
        snprintf(t, sizeof t, "linear %s %dx%d->%d dw", prec_name[p], n, in, out);
        CHECK_REL(t, gdw, rdw, nw, tol);
        snprintf(t, sizeof t, "linear %s %dx%d->%d dbias", prec_name[p], n, in, out);
        CHECK_REL(t, gdb, rdb, out, 1e-5);
    }
    xfer_err e;
    xfer_cuda_set_precision(gpu, XFER_PREC_FP32, &e);
    free(x), free(w), free(bias), free(dy), free(dw0);
    free(ry), free(rdx), free(rdw), free(rdb), free(gy), free(gdx), free(gdw), free(gdb);
}

/* ---- batch norm -------------------------------------------------------------------------- */
static void bn_run(xfer_backend *b, int m, int c, const float *x, const float *gamma,
                   const float *beta, const float *rm0, const float *rv0, const float *dy,
                   int train, float *out /* y, dx: m*c each; rm, rv, sm, si, dg, db: c each */) {
    size_t mc = (size_t)m * c * 4;
    float *X = put(b, x, mc), *G = put(b, gamma, c * 4), *Bt = put(b, beta, c * 4);
    float *RM = put(b, rm0, c * 4), *RV = put(b, rv0, c * 4), *Y = put(b, NULL, mc);
    float *SM = put(b, NULL, c * 4), *SI = put(b, NULL, c * 4), *DY = put(b, dy, mc);
    float *DX = put(b, NULL, mc), *DG = put(b, gamma, c * 4), *DB = put(b, beta, c * 4);
    if (train)
        b->batchnorm_forward_train(b, m, c, X, G, Bt, RM, RV, XFER_BN_MOMENTUM, XFER_BN_EPS, Y, SM,
                                   SI);
    else
        b->batchnorm_forward_eval(b, m, c, X, G, Bt, RM, RV, XFER_BN_EPS, Y, SM, SI);
    b->batchnorm_backward(b, m, c, X, DY, G, SM, SI, train, DX, DG, DB);
    size_t mcf = (size_t)m * c;
    get(b, out, Y, mc);
    get(b, out + mcf, DX, mc);
    float *cs[] = {RM, RV, SM, SI, DG, DB};
    for (int i = 0; i < 6; i++)
        get(b, out + 2 * mcf + (size_t)i * c, cs[i], c * 4);
    void *all[] = {X, G, Bt, RM, RV, Y, SM, SI, DY, DX, DG, DB};
    for (int i = 0; i < 12; i++)
        b->free(b, all[i]);
}

static void test_bn(int m, int c) {
    size_t mc = (size_t)m * c, tot = 2 * mc + 6 * (size_t)c;
    float *x = rand_vec(mc, 2), *gamma = rand_vec(c, 1), *beta = rand_vec(c, 1);
    float *rm = rand_vec(c, 0.5), *rv = malloc(c * 4), *dy = rand_vec(mc, 1);
    for (int j = 0; j < c; j++)
        rv[j] = 0.5f + (float)fabs(urand());
    for (size_t i = 0; i < mc; i++)
        x[i] += 0.7f; /* a non-zero mean */
    float *r = malloc(tot * 4), *g = malloc(tot * 4);
    static const char *names[] = {"y",         "dx",          "running_mean", "running_var",
                                  "save_mean", "save_invstd", "dgamma",       "dbeta"};
    for (int train = 0; train < 2; train++) {
        bn_run(cpu, m, c, x, gamma, beta, rm, rv, dy, train, r);
        bn_run(gpu, m, c, x, gamma, beta, rm, rv, dy, train, g);
        double tol = m > 4096 ? 1e-4 : 1e-5;
        for (int i = 0; i < 8; i++) {
            size_t off = i < 2 ? (size_t)i * mc : 2 * mc + (size_t)(i - 2) * c;
            size_t len = i < 2 ? mc : (size_t)c;
            char t[120];
            snprintf(t, sizeof t, "batchnorm %s m%d c%d %s", train ? "train" : "eval", m, c,
                     names[i]);
            CHECK_REL(t, g + off, r + off, len, tol);
        }
    }
    free(x), free(gamma), free(beta), free(rm), free(rv), free(dy), free(r), free(g);
}

/* ---- elementwise, dropout ---------------------------------------------------------------- */
static void test_elementwise(size_t n) {
    float *x = rand_vec(n, 1), *c = rand_vec(n, 1), *dy = rand_vec(n, 1);
    float *r = malloc(n * 4 * 6), *g = malloc(n * 4 * 6);
    uint8_t *rm = malloc(n), *gm = malloc(n);
    xfer_backend *bs[2] = {cpu, gpu};
    for (int k = 0; k < 2; k++) {
        xfer_backend *b = bs[k];
        float *o = k ? g : r;
        float *X = put(b, x, n * 4), *C = put(b, c, n * 4), *DY = put(b, dy, n * 4);
        float *Y = put(b, NULL, n * 4), *T = put(b, NULL, n * 4);
        uint8_t *M = put(b, NULL, n);
        b->relu_forward(b, n, X, Y);
        get(b, o, Y, n * 4);
        b->relu_backward(b, n, Y, DY, T);
        get(b, o + n, T, n * 4);
        b->add(b, n, X, C, T);
        get(b, o + 2 * n, T, n * 4);
        b->dropout_forward(b, n, 0.3f, 77, 1000, X, T, M);
        get(b, o + 3 * n, T, n * 4);
        get(b, k ? gm : rm, M, n);
        b->dropout_backward(b, n, 0.3f, M, DY, T);
        get(b, o + 4 * n, T, n * 4);
        b->relu_forward(b, n, X, X); /* in place */
        get(b, o + 5 * n, X, n * 4);
        void *all[] = {X, C, DY, Y, T, M};
        for (int i = 0; i < 6; i++)
            b->free(b, all[i]);
    }
    static const char *names[] = {"relu fwd",    "relu bwd",    "add",
                                  "dropout fwd", "dropout bwd", "relu in place"};
    for (int i = 0; i < 6; i++)
        CHECK_REL(names[i], g + i * n, r + i * n, n, 0.0);
    CHECK_MSG(memcmp(rm, gm, n) == 0, "dropout masks differ");
    free(x), free(c), free(dy), free(r), free(g), free(rm), free(gm);
}

/* ---- pooling ----------------------------------------------------------------------------- */
static void test_pool(int n, int h, int w, int c, int k, int stride, int pad, int aoh, int aow) {
    xfer_pool2d_desc d = {.n = n, .h = h, .w = w, .c = c, .k = k, .stride = stride, .pad = pad};
    xfer_pool2d_desc_init(&d);
    size_t nx = (size_t)n * h * w * c, ny = (size_t)n * d.oh * d.ow * c,
           na = (size_t)n * aoh * aow * c;
    float *x = rand_vec(nx, 1), *dy = rand_vec(ny, 1), *da = rand_vec(na, 1);
    for (size_t i = 0; i < nx; i += 7)
        x[i] = 0.25f; /* ties: the first maximum must win on both backends */
    size_t tot = ny + nx + na + nx;
    float *r = malloc(tot * 4), *g = malloc(tot * 4);
    xfer_backend *bs[2] = {cpu, gpu};
    for (int kk = 0; kk < 2; kk++) {
        xfer_backend *b = bs[kk];
        float *o = kk ? g : r;
        float *X = put(b, x, nx * 4), *Y = put(b, NULL, ny * 4), *DY = put(b, dy, ny * 4);
        float *DX = put(b, NULL, nx * 4), *A = put(b, NULL, na * 4), *DA = put(b, da, na * 4);
        b->maxpool2d_forward(b, &d, X, Y);
        b->maxpool2d_backward(b, &d, X, Y, DY, DX);
        get(b, o, Y, ny * 4);
        get(b, o + ny, DX, nx * 4);
        b->adaptive_avgpool_forward(b, n, h, w, c, aoh, aow, X, A);
        get(b, o + ny + nx, A, na * 4);
        b->adaptive_avgpool_backward(b, n, h, w, c, aoh, aow, DA, DX);
        get(b, o + ny + nx + na, DX, nx * 4);
        void *all[] = {X, Y, DY, DX, A, DA};
        for (int i = 0; i < 6; i++)
            b->free(b, all[i]);
    }
    CHECK_REL("maxpool fwd", g, r, ny, 0.0);
    CHECK_REL("maxpool bwd", g + ny, r + ny, nx, 1e-6);
    CHECK_REL("adaptive avgpool fwd", g + ny + nx, r + ny + nx, na, 1e-6);
    CHECK_REL("adaptive avgpool bwd", g + ny + nx + na, r + ny + nx + na, nx, 1e-6);
    free(x), free(dy), free(da), free(r), free(g);
}

/* ---- loss, row ops, sgd, layout ---------------------------------------------------------- */
static void test_loss(int n, int k) {
    size_t nk = (size_t)n * k;
    float *l = rand_vec(nk, 4);
    int32_t *lab = malloc(n * 4);
    for (int i = 0; i < n; i++)
        lab[i] = (int32_t)((xfer_splitmix64((uint64_t)i) >> 20) % (uint64_t)k);
    for (int i = 0; i < n; i += 3) /* some correct predictions and a tie */
        l[(size_t)i * k + lab[i]] = 9.0f;
    l[1] = l[0] = 10.0f;
    float *r = malloc((2 * nk + 3) * 4), *g = malloc((2 * nk + 3) * 4);
    int32_t *rp = malloc(n * 4), *gp = malloc(n * 4);
    xfer_backend *bs[2] = {cpu, gpu};
    for (int kk = 0; kk < 2; kk++) {
        xfer_backend *b = bs[kk];
        float *o = kk ? g : r;
        float *L = put(b, l, nk * 4), *D = put(b, NULL, nk * 4), *P = put(b, NULL, nk * 4);
        int32_t *Lab = put(b, lab, n * 4), *Pr = put(b, NULL, n * 4);
        float *loss = put(b, NULL, 8), corr0[1] = {5.0f};
        float *corr = put(b, corr0, 4);
        b->softmax_xent(b, n, k, L, Lab, loss, D);
        b->softmax(b, n, k, L, P);
        b->argmax(b, n, k, L, Pr);
        b->count_correct(b, n, k, L, Lab, corr);
        get(b, o, D, nk * 4);
        get(b, o + nk, P, nk * 4);
        get(b, o + 2 * nk, loss, 4);
        get(b, o + 2 * nk + 1, corr, 4);
        b->softmax_xent(b, n, k, L, Lab, loss, NULL); /* dlogits may be NULL */
        get(b, o + 2 * nk + 2, loss, 4);
        get(b, kk ? gp : rp, Pr, n * 4);
        void *all[] = {L, D, P, Lab, Pr, loss, corr};
        for (int i = 0; i < 7; i++)
            b->free(b, all[i]);
    }
    CHECK_REL("softmax_xent dlogits", g, r, nk, 1e-6);
    CHECK_REL("softmax", g + nk, r + nk, nk, 1e-6);
    CHECK_REL("softmax_xent loss", g + 2 * nk, r + 2 * nk, 1, 1e-6);
    CHECK_REL("softmax_xent loss (no dlogits)", g + 2 * nk + 2, r + 2 * nk + 2, 1, 1e-6);
    CHECK_MSG(g[2 * nk + 1] == r[2 * nk + 1], "count_correct %g vs cpu %g", g[2 * nk + 1],
              r[2 * nk + 1]);
    CHECK_MSG(memcmp(gp, rp, n * 4) == 0, "argmax differs");
    free(l), free(lab), free(r), free(g), free(rp), free(gp);
}

static void test_sgd(size_t n) {
    float *p = rand_vec(n, 1), *gr = rand_vec(n, 1), *buf = rand_vec(n, 1);
    float *r = malloc(n * 8), *g = malloc(n * 8);
    for (int variant = 0; variant < 4; variant++) {
        float mom = variant == 3 ? 0.0f : 0.9f, wd = variant == 2 ? 0.0f : 5e-4f;
        int nest = variant == 1, first = variant == 0;
        xfer_backend *bs[2] = {cpu, gpu};
        for (int kk = 0; kk < 2; kk++) {
            xfer_backend *b = bs[kk];
            float *o = kk ? g : r;
            float *P = put(b, p, n * 4), *G = put(b, gr, n * 4), *B = put(b, buf, n * 4);
            b->sgd_update(b, n, P, G, mom != 0.0f ? B : NULL, 0.01f, mom, wd, nest, first);
            get(b, o, P, n * 4);
            get(b, o + n, B, n * 4);
            b->free(b, P), b->free(b, G), b->free(b, B);
        }
        char t[80];
        snprintf(t, sizeof t, "sgd variant %d params", variant);
        CHECK_REL(t, g, r, n, 0.0);
        snprintf(t, sizeof t, "sgd variant %d momentum", variant);
        CHECK_REL(t, g + n, r + n, n, 0.0);
    }
    free(p), free(gr), free(buf), free(r), free(g);
}

/* the device-side training step's ops: axpy and SGD with the learning rate in backend memory */
static void test_axpy_sgd_dev(size_t n) {
    float *p = rand_vec(n, 1), *gr = rand_vec(n, 1), *buf = rand_vec(n, 1), lr[1] = {0.03f};
    float *r = malloc(n * 12), *g = malloc(n * 12);
    xfer_backend *bs[2] = {cpu, gpu};
    for (int kk = 0; kk < 2; kk++) {
        xfer_backend *b = bs[kk];
        float *o = kk ? g : r;
        float *P = put(b, p, n * 4), *G = put(b, gr, n * 4), *B = put(b, buf, n * 4);
        float *L = put(b, lr, 4);
        b->axpy(b, n, -0.7f, G, B);
        get(b, o + 2 * n, B, n * 4);
        b->sgd_update_dev(b, n, P, G, B, L, 0.9f, 1e-4f, 1, 0);
        get(b, o, P, n * 4);
        get(b, o + n, B, n * 4);
        b->free(b, P), b->free(b, G), b->free(b, B), b->free(b, L);
    }
    CHECK_REL("axpy", g + 2 * n, r + 2 * n, n, 0.0);
    CHECK_REL("sgd_dev params", g, r, n, 0.0);
    CHECK_REL("sgd_dev momentum", g + n, r + n, n, 0.0);
    free(p), free(gr), free(buf), free(r), free(g);
}

static void test_layout(int n, int c, int h, int w) {
    size_t t = (size_t)n * c * h * w;
    float *x = rand_vec(t, 1), *r = malloc(t * 8), *g = malloc(t * 8);
    xfer_backend *bs[2] = {cpu, gpu};
    for (int kk = 0; kk < 2; kk++) {
        xfer_backend *b = bs[kk];
        float *o = kk ? g : r;
        float *X = put(b, x, t * 4), *Y = put(b, NULL, t * 4);
        b->nchw_to_nhwc(b, n, c, h, w, X, Y);
        get(b, o, Y, t * 4);
        b->nhwc_to_nchw(b, n, c, h, w, X, Y);
        get(b, o + t, Y, t * 4);
        b->free(b, X), b->free(b, Y);
    }
    CHECK_REL("nchw_to_nhwc", g, r, t, 0.0);
    CHECK_REL("nhwc_to_nchw", g + t, r + t, t, 0.0);
    free(x), free(r), free(g);
}

#ifndef XFER_TEST_FAKE_CUDA
static void test_errors(void) {
    xfer_err e;
    xfer_err_clear(&e);
    void *p = gpu->alloc(gpu, (size_t)1 << 52, "a test tensor", &e);
    CHECK(p == NULL);
    CHECK_MSG(strstr(e.msg, "out of memory") && strstr(e.msg, "a test tensor") &&
                  strstr(e.msg, "MiB free"),
              "OOM message: %s", e.msg);
    CHECK(gpu->check(gpu, &e) == XFER_OK); /* a failed alloc is reported, not left pending */
}
#endif

int main(void) {
    open_backends(&cpu, &gpu);
    small = getenv("XFER_TEST_SMALL") != NULL;
    xfer_err e;
    xfer_err_clear(&e);
    if (!gpu->conv2d_forward) printf("convolutions: not on this backend (emulator: no cuDNN)\n");
    if (gpu->conv2d_forward) {
        test_conv(2, 9, 9, 5, 7, 3, 2, 1);
        test_conv(3, 6, 7, 8, 4, 1, 1, 0);
    }
    if (!small && gpu->conv2d_forward) {
        test_conv(2, 32, 32, 3, 16, 7, 2, 3);  /* a ResNet stem */
        test_conv(4, 28, 28, 64, 64, 3, 1, 1); /* a ResNet block, large extents */
        test_conv(2, 31, 31, 3, 16, 11, 4, 2); /* AlexNet's first layer */
        test_conv(8, 14, 14, 32, 64, 1, 2, 0); /* a downsample */
    }
    test_linear(5, 37, 11);
    if (!small) test_linear(16, 2304, 300);
    test_bn(50, 12);
    if (!small) test_bn(8 * 28 * 28, 64);
    test_elementwise(small ? 1000 : 100003);
    test_pool(2, 9, 11, 5, 3, 2, 1, 3, 4);
    if (!small) test_pool(4, 56, 56, 16, 3, 2, 1, 7, 7);
    test_loss(small ? 9 : 67, small ? 5 : 102);
    test_sgd(small ? 1000 : 100003);
    test_layout(2, 3, 5, 7);
    test_axpy_sgd_dev(small ? 1000 : 100003);
    /* odd sizes: one element or row, n % 32 != 0, n % 8 != 0, c not a multiple of 4 */
    test_linear(1, 3, 1);
    test_linear(13, 33, 7);
    test_bn(1, 3);
    test_bn(33, 7);
    test_bn(37, 45);
    test_elementwise(1);
    test_elementwise(33);
    test_pool(1, 5, 7, 3, 2, 2, 0, 1, 1);
    test_pool(3, 4, 5, 1, 3, 1, 1, 3, 2);
    test_loss(1, 2);
    test_loss(2, 1);
    test_loss(13, 33);
    test_loss(9, 31);
    test_sgd(1);
    test_sgd(33);
    test_axpy_sgd_dev(1);
    test_axpy_sgd_dev(257);
    test_layout(1, 1, 1, 1);
    test_layout(3, 5, 1, 9);
#ifndef XFER_TEST_FAKE_CUDA
    test_errors();
#endif
    CHECK(gpu->sync(gpu, &e) == XFER_OK);
    if (e.code) fprintf(stderr, "cuda: %s\n", e.msg);
    xfer_backend_release(gpu);
    xfer_backend_release(cpu);
    return test_summary();
}
