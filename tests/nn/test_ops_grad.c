/* Every CPU backend op against a double-precision reference written here: forwards compared with
 * the reference, backwards with central finite differences of L = sum(y * r) for random r. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "xfer/backend.h"

#define FD_STEP 1e-5
#define FD_TOL 2e-4  /* relative L2 error of a float gradient against double differences */
#define FWD_TOL 1e-5 /* relative L2 error of a float forward against the double reference */

static xfer_backend *g_b;
static uint64_t g_rng = 12345;

static double urand(void) { /* uniform in [-1, 1) */
    g_rng = xfer_splitmix64(g_rng);
    return (double)(g_rng >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

static double *drand_vec(size_t n) {
    double *v = malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++)
        v[i] = urand();
    return v;
}

static float *to_f(const double *v, size_t n) {
    float *f = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        f[i] = (float)v[i];
    return f;
}

/* Rounds a double vector to float values, so reference and backend see the same inputs. */
static void round_f(double *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        v[i] = (float)v[i];
}

static double rel_err_fd(const float *a, const double *b, size_t n) {
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        d += (a[i] - b[i]) * (a[i] - b[i]);
        s += b[i] * b[i];
    }
    return s > 0 ? sqrt(d / s) : sqrt(d);
}

typedef double (*loss_fn)(void *ctx);

/* Central differences of f with respect to v[0..n), compared with analytic. */
static void fd_check(const char *what, loss_fn f, void *ctx, double *v, size_t n,
                     const float *analytic) {
    double *num = malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) {
        double save = v[i];
        v[i] = save + FD_STEP;
        double lp = f(ctx);
        v[i] = save - FD_STEP;
        double lm = f(ctx);
        v[i] = save;
        num[i] = (lp - lm) / (2 * FD_STEP);
    }
    double e = rel_err_fd(analytic, num, n);
    CHECK_MSG(e <= FD_TOL, "%s: gradient rel error %.3g > %.3g", what, e, FD_TOL);
    free(num);
}

static void fwd_check(const char *what, const float *got, const double *ref, size_t n) {
    double e = rel_err_fd(got, ref, n);
    CHECK_MSG(e <= FWD_TOL, "%s: forward rel error %.3g > %.3g", what, e, FWD_TOL);
}

static double dot(const double *y, const double *r, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += y[i] * r[i];
    return s;
}

/* ---- conv2d ------------------------------------------------------------------------------- */
typedef struct {
    xfer_conv2d_desc d;
    double *x, *w, *bias, *r, *y;
} conv_ctx;

static void conv_ref(const xfer_conv2d_desc *d, const double *x, const double *w,
                     const double *bias, double *y) {
    for (int n = 0; n < d->n; n++)
        for (int oy = 0; oy < d->oh; oy++)
            for (int ox = 0; ox < d->ow; ox++)
                for (int o = 0; o < d->o; o++) {
                    double s = bias ? bias[o] : 0;
                    /* torch's groups: output o reads input channels [g*cg, (g+1)*cg) */
                    int groups = d->groups < 1 ? 1 : d->groups, cg = d->c / groups;
                    int c0 = o / (d->o / groups) * cg;
                    for (int ky = 0; ky < d->kh; ky++)
                        for (int kx = 0; kx < d->kw; kx++) {
                            int iy = oy * d->stride - d->pad_h + ky,
                                ix = ox * d->stride - d->pad_w + kx;
                            if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w) continue;
                            for (int c = 0; c < cg; c++)
                                s += x[((n * d->h + iy) * d->w + ix) * d->c + c0 + c] *
                                     w[((o * d->kh + ky) * d->kw + kx) * cg + c];
                        }
                    y[((n * d->oh + oy) * d->ow + ox) * d->o + o] = s;
                }
}

static double conv_loss(void *p) {
    conv_ctx *c = p;
    conv_ref(&c->d, c->x, c->w, c->bias, c->y);
    return dot(c->y, c->r, (size_t)c->d.n * c->d.oh * c->d.ow * c->d.o);
}

/* kh x kw, padding ph x pw, groups (1 or depthwise) */
static void test_conv_ex(int n, int h, int w, int ci, int o, int kh, int kw, int stride, int ph,
                         int pw, int groups, int bias) {
    char name[128];
    snprintf(name, sizeof name, "conv %dx%dx%dx%d o%d k%dx%d s%d p%dx%d g%d%s", n, h, w, ci, o, kh,
             kw, stride, ph, pw, groups, bias ? " bias" : "");
    conv_ctx c = {{.n = n,
                   .h = h,
                   .w = w,
                   .c = ci,
                   .o = o,
                   .kh = kh,
                   .kw = kw,
                   .stride = stride,
                   .pad_h = ph,
                   .pad_w = pw,
                   .groups = groups},
                  0,
                  0,
                  0,
                  0,
                  0};
    xfer_conv2d_desc_init(&c.d);
    size_t nx = (size_t)n * h * w * ci, nw = (size_t)o * kh * kw * (ci / c.d.groups);
    size_t ny = (size_t)n * c.d.oh * c.d.ow * o;
    c.x = drand_vec(nx);
    c.w = drand_vec(nw);
    c.bias = bias ? drand_vec(o) : NULL;
    c.r = drand_vec(ny);
    c.y = malloc(sizeof(double) * ny);
    round_f(c.x, nx), round_f(c.w, nw), round_f(c.r, ny);
    if (bias) round_f(c.bias, o);
    float *x = to_f(c.x, nx), *wf = to_f(c.w, nw), *bf = bias ? to_f(c.bias, o) : NULL;
    float *r = to_f(c.r, ny), *y = malloc(sizeof(float) * ny);
    float *dx = malloc(sizeof(float) * nx), *dw = calloc(nw, sizeof(float));
    float *db = calloc(o, sizeof(float));
    g_b->conv2d_forward(g_b, &c.d, x, wf, bf, y);
    conv_ref(&c.d, c.x, c.w, c.bias, c.y);
    fwd_check(name, y, c.y, ny);
    g_b->conv2d_backward_data(g_b, &c.d, r, wf, dx);
    g_b->conv2d_backward_filter(g_b, &c.d, x, r, dw, bias ? db : NULL);
    fd_check(name, conv_loss, &c, c.x, nx, dx);
    fd_check(name, conv_loss, &c, c.w, nw, dw);
    if (bias) fd_check(name, conv_loss, &c, c.bias, o, db);
    /* accumulation: a second backward-filter adds the same amount again */
    float *dw2 = malloc(sizeof(float) * nw);
    memcpy(dw2, dw, sizeof(float) * nw);
    g_b->conv2d_backward_filter(g_b, &c.d, x, r, dw2, NULL);
    int acc_ok = 1;
    for (size_t i = 0; i < nw; i++)
        if (fabsf(dw2[i] - 2 * dw[i]) > 1e-4f * (1 + fabsf(dw[i]))) acc_ok = 0;
    CHECK_MSG(acc_ok, "%s: backward filter does not accumulate", name);
    free(dw2);
    free(c.x), free(c.w), free(c.bias), free(c.r), free(c.y);
    free(x), free(wf), free(bf), free(r), free(y), free(dx), free(dw), free(db);
}

static void test_conv(int n, int h, int w, int ci, int o, int k, int stride, int pad, int bias) {
    test_conv_ex(n, h, w, ci, o, k, k, stride, pad, pad, 1, bias);
}

/* ---- batch norm ---------------------------------------------------------------------------- */
typedef struct {
    int m, c, train;
    double *x, *g, *b, *rm, *rv, *r, *y;
} bn_ctx;

static void bn_ref(bn_ctx *k) {
    for (int j = 0; j < k->c; j++) {
        double mean = 0, var = 0;
        if (k->train) {
            for (int i = 0; i < k->m; i++)
                mean += k->x[i * k->c + j];
            mean /= k->m;
            for (int i = 0; i < k->m; i++)
                var += (k->x[i * k->c + j] - mean) * (k->x[i * k->c + j] - mean);
            var /= k->m;
        } else {
            mean = k->rm[j];
            var = k->rv[j];
        }
        double inv = 1.0 / sqrt(var + XFER_BN_EPS);
        for (int i = 0; i < k->m; i++)
            k->y[i * k->c + j] = (k->x[i * k->c + j] - mean) * inv * k->g[j] + k->b[j];
    }
}

static double bn_loss(void *p) {
    bn_ctx *k = p;
    bn_ref(k);
    return dot(k->y, k->r, (size_t)k->m * k->c);
}

static void test_bn(int m, int c, int train) {
    const char *name = train ? "batchnorm train" : "batchnorm eval";
    bn_ctx k = {m,
                c,
                train,
                drand_vec((size_t)m * c),
                drand_vec(c),
                drand_vec(c),
                drand_vec(c),
                drand_vec(c),
                drand_vec((size_t)m * c),
                malloc(sizeof(double) * m * c)};
    size_t n = (size_t)m * c;
    for (int j = 0; j < c; j++)
        k.rv[j] = 0.5 + fabs(k.rv[j]);
    round_f(k.x, n), round_f(k.g, c), round_f(k.b, c), round_f(k.rm, c), round_f(k.rv, c);
    round_f(k.r, n);
    float *x = to_f(k.x, n), *g = to_f(k.g, c), *bb = to_f(k.b, c), *rm = to_f(k.rm, c);
    float *rv = to_f(k.rv, c), *r = to_f(k.r, n), *y = malloc(sizeof(float) * n);
    float *sm = malloc(sizeof(float) * c), *si = malloc(sizeof(float) * c);
    float *dx = malloc(sizeof(float) * n), *dg = calloc(c, sizeof(float));
    float *db = calloc(c, sizeof(float));
    if (train)
        g_b->batchnorm_forward_train(g_b, m, c, x, g, bb, rm, rv, XFER_BN_MOMENTUM, XFER_BN_EPS, y,
                                     sm, si);
    else
        g_b->batchnorm_forward_eval(g_b, m, c, x, g, bb, rm, rv, XFER_BN_EPS, y, sm, si);
    bn_ref(&k);
    fwd_check(name, y, k.y, n);
    if (train) { /* running statistics: momentum 0.1, unbiased variance */
        for (int j = 0; j < c; j++) {
            double mean = 0, var = 0;
            for (int i = 0; i < m; i++)
                mean += k.x[i * c + j];
            mean /= m;
            for (int i = 0; i < m; i++)
                var += (k.x[i * c + j] - mean) * (k.x[i * c + j] - mean);
            var /= (m - 1);
            CHECK_CLOSE(rm[j], 0.9 * k.rm[j] + 0.1 * mean, 1e-5, 1e-6);
            CHECK_CLOSE(rv[j], 0.9 * k.rv[j] + 0.1 * var, 1e-5, 1e-6);
        }
    }
    g_b->batchnorm_backward(g_b, m, c, x, r, g, sm, si, train, dx, dg, db);
    fd_check(name, bn_loss, &k, k.x, n, dx);
    fd_check(name, bn_loss, &k, k.g, c, dg);
    fd_check(name, bn_loss, &k, k.b, c, db);
    free(k.x), free(k.g), free(k.b), free(k.rm), free(k.rv), free(k.r), free(k.y);
    free(x), free(g), free(bb), free(rm), free(rv), free(r), free(y), free(sm), free(si);
    free(dx), free(dg), free(db);
}

/* ---- pooling ------------------------------------------------------------------------------- */
typedef struct {
    xfer_pool2d_desc d;
    int avg, aoh, aow;
    double *x, *r, *y;
} pool_ctx;

static void pool_ref(pool_ctx *p) {
    const xfer_pool2d_desc *d = &p->d;
    int oh = p->avg == 1 ? p->aoh : d->oh, ow = p->avg == 1 ? p->aow : d->ow;
    for (int n = 0; n < d->n; n++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
                for (int c = 0; c < d->c; c++) {
                    int y0, y1, x0, x1;
                    if (p->avg == 1) {
                        y0 = oy * d->h / oh, y1 = ((oy + 1) * d->h + oh - 1) / oh;
                        x0 = ox * d->w / ow, x1 = ((ox + 1) * d->w + ow - 1) / ow;
                    } else {
                        y0 = oy * d->stride - d->pad, y1 = y0 + d->k;
                        x0 = ox * d->stride - d->pad, x1 = x0 + d->k;
                    }
                    double acc = p->avg ? 0 : -INFINITY;
                    int cnt = 0;
                    /* torch's avg_pool2d divisor: the window clipped to the padded input */
                    int py = (y1 < d->h + d->pad ? y1 : d->h + d->pad) - y0;
                    int px = (x1 < d->w + d->pad ? x1 : d->w + d->pad) - x0;
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++) {
                            if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w) continue;
                            double v = p->x[((n * d->h + iy) * d->w + ix) * d->c + c];
                            if (p->avg)
                                acc += v;
                            else if (v > acc)
                                acc = v;
                            cnt++;
                        }
                    if (p->avg == 2 && d->count_include_pad) cnt = py * px;
                    p->y[((n * oh + oy) * ow + ox) * d->c + c] = p->avg ? acc / cnt : acc;
                }
}

static double pool_loss(void *v) {
    pool_ctx *p = v;
    pool_ref(p);
    int oh = p->avg == 1 ? p->aoh : p->d.oh, ow = p->avg == 1 ? p->aow : p->d.ow;
    return dot(p->y, p->r, (size_t)p->d.n * oh * ow * p->d.c);
}

static void test_pool(int avg, int n, int h, int w, int c, int k, int stride, int pad, int aoh,
                      int aow) {
    char name[64];
    snprintf(name, sizeof name, "%s %dx%d -> %s", avg ? "adaptive avgpool" : "maxpool", h, w,
             avg ? "adaptive" : (pad ? "3x3/2 pad 1" : "3x3/2"));
    pool_ctx p = {{.n = n, .h = h, .w = w, .c = c, .k = k, .stride = stride, .pad = pad},
                  avg,
                  aoh,
                  aow,
                  0,
                  0,
                  0};
    if (!avg) xfer_pool2d_desc_init(&p.d);
    int oh = avg ? aoh : p.d.oh, ow = avg ? aow : p.d.ow;
    size_t nx = (size_t)n * h * w * c, ny = (size_t)n * oh * ow * c;
    p.x = drand_vec(nx), p.r = drand_vec(ny), p.y = malloc(sizeof(double) * ny);
    round_f(p.x, nx), round_f(p.r, ny);
    float *x = to_f(p.x, nx), *r = to_f(p.r, ny), *y = malloc(sizeof(float) * ny);
    float *dx = malloc(sizeof(float) * nx);
    if (avg) {
        g_b->adaptive_avgpool_forward(g_b, n, h, w, c, aoh, aow, x, y);
        g_b->adaptive_avgpool_backward(g_b, n, h, w, c, aoh, aow, r, dx);
    } else {
        g_b->maxpool2d_forward(g_b, &p.d, x, y);
        g_b->maxpool2d_backward(g_b, &p.d, x, y, r, dx);
    }
    pool_ref(&p);
    fwd_check(name, y, p.y, ny);
    fd_check(name, pool_loss, &p, p.x, nx, dx);
    free(p.x), free(p.r), free(p.y), free(x), free(r), free(y), free(dx);
}

/* k x k / stride / pad pooling with ceil_mode (max or average) and count_include_pad (average);
 * expect_oh: torch's output size for this h (checked, from torch.nn.MaxPool2d / AvgPool2d). */
static void test_pool2d(int avg, int n, int h, int w, int c, int k, int stride, int pad, int ceil,
                        int cip, int expect_oh) {
    char name[96];
    snprintf(name, sizeof name, "%s %dx%d k%d s%d p%d%s%s", avg ? "avgpool" : "maxpool", h, w, k,
             stride, pad, ceil ? " ceil" : "", cip ? " count_include_pad" : "");
    pool_ctx p = {{.n = n,
                   .h = h,
                   .w = w,
                   .c = c,
                   .k = k,
                   .stride = stride,
                   .pad = pad,
                   .ceil_mode = ceil,
                   .count_include_pad = cip},
                  avg ? 2 : 0,
                  0,
                  0,
                  0,
                  0,
                  0};
    xfer_pool2d_desc_init(&p.d);
    CHECK_MSG(p.d.oh == expect_oh, "%s: output height %d, torch's %d", name, p.d.oh, expect_oh);
    size_t nx = (size_t)n * h * w * c, ny = (size_t)n * p.d.oh * p.d.ow * c;
    p.x = drand_vec(nx), p.r = drand_vec(ny), p.y = malloc(sizeof(double) * ny);
    round_f(p.x, nx), round_f(p.r, ny);
    float *x = to_f(p.x, nx), *r = to_f(p.r, ny), *y = malloc(sizeof(float) * ny);
    float *dx = malloc(sizeof(float) * nx);
    if (avg) {
        g_b->avgpool2d_forward(g_b, &p.d, x, y);
        g_b->avgpool2d_backward(g_b, &p.d, r, dx);
    } else {
        g_b->maxpool2d_forward(g_b, &p.d, x, y);
        g_b->maxpool2d_backward(g_b, &p.d, x, y, r, dx);
    }
    pool_ref(&p);
    fwd_check(name, y, p.y, ny);
    fd_check(name, pool_loss, &p, p.x, nx, dx);
    free(p.x), free(p.r), free(p.y), free(x), free(r), free(y), free(dx);
}

/* torch's avg_pool2d(2, 2, padding 1, ceil_mode, count_include_pad) of arange(25) in 5x5: the
 * last windows hold one real row/column and are divided by the cells inside the padded input */
static void test_avgpool_torch_values(void) {
    xfer_pool2d_desc d = {.n = 1,
                          .h = 5,
                          .w = 5,
                          .c = 1,
                          .k = 2,
                          .stride = 2,
                          .pad = 1,
                          .ceil_mode = 1,
                          .count_include_pad = 1};
    xfer_pool2d_desc_init(&d);
    float x[25], y[9];
    const float want[9] = {0.0f, 0.75f, 1.75f, 3.75f, 9.0f, 11.0f, 8.75f, 19.0f, 21.0f};
    for (int i = 0; i < 25; i++)
        x[i] = (float)i;
    g_b->avgpool2d_forward(g_b, &d, x, y);
    int ok = d.oh == 3 && d.ow == 3;
    for (int i = 0; ok && i < 9; i++)
        ok &= fabsf(y[i] - want[i]) < 1e-6f;
    CHECK_MSG(ok, "avgpool 2/2 pad 1 ceil count_include_pad differs from torch's values");
}

static void test_maxpool_ties(void) {
    /* all-equal window: torch gives the gradient to the first element */
    xfer_pool2d_desc d = {.n = 1, .h = 3, .w = 3, .c = 1, .k = 3, .stride = 2};
    xfer_pool2d_desc_init(&d);
    float x[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, y[1], dy[1] = {2}, dx[9];
    g_b->maxpool2d_forward(g_b, &d, x, y);
    g_b->maxpool2d_backward(g_b, &d, x, y, dy, dx);
    CHECK(d.oh == 1 && y[0] == 1 && dx[0] == 2 && dx[1] == 0 && dx[8] == 0);
}

/* ---- linear -------------------------------------------------------------------------------- */
typedef struct {
    int n, in, out;
    double *x, *w, *b, *r, *y;
} lin_ctx;

static double lin_loss(void *v) {
    lin_ctx *l = v;
    for (int i = 0; i < l->n; i++)
        for (int o = 0; o < l->out; o++) {
            double s = l->b[o];
            for (int j = 0; j < l->in; j++)
                s += l->x[i * l->in + j] * l->w[o * l->in + j];
            l->y[i * l->out + o] = s;
        }
    return dot(l->y, l->r, (size_t)l->n * l->out);
}

static void test_linear(int n, int in, int out) {
    lin_ctx l = {n,
                 in,
                 out,
                 drand_vec((size_t)n * in),
                 drand_vec((size_t)out * in),
                 drand_vec(out),
                 drand_vec((size_t)n * out),
                 malloc(sizeof(double) * n * out)};
    size_t nx = (size_t)n * in, nw = (size_t)out * in, ny = (size_t)n * out;
    round_f(l.x, nx), round_f(l.w, nw), round_f(l.b, out), round_f(l.r, ny);
    float *x = to_f(l.x, nx), *w = to_f(l.w, nw), *b = to_f(l.b, out), *r = to_f(l.r, ny);
    float *y = malloc(sizeof(float) * ny), *dx = malloc(sizeof(float) * nx);
    float *dw = calloc(nw, sizeof(float)), *db = calloc(out, sizeof(float));
    g_b->linear_forward(g_b, n, in, out, x, w, b, y);
    lin_loss(&l);
    fwd_check("linear", y, l.y, ny);
    g_b->linear_backward(g_b, n, in, out, x, w, r, dx, dw, db);
    fd_check("linear dx", lin_loss, &l, l.x, nx, dx);
    fd_check("linear dw", lin_loss, &l, l.w, nw, dw);
    fd_check("linear db", lin_loss, &l, l.b, out, db);
    free(l.x), free(l.w), free(l.b), free(l.r), free(l.y);
    free(x), free(w), free(b), free(r), free(y), free(dx), free(dw), free(db);
}

/* ---- relu, add, dropout --------------------------------------------------------------------- */
static void test_elementwise(void) {
    enum { N = 257 };
    float x[N], y[N], dy[N], dx[N], a[N];
    uint8_t mask[N];
    for (int i = 0; i < N; i++) {
        x[i] = (float)urand();
        dy[i] = (float)urand();
    }
    g_b->relu_forward(g_b, N, x, y);
    g_b->relu_backward(g_b, N, y, dy, dx);
    int ok = 1;
    for (int i = 0; i < N; i++)
        ok &= y[i] == (x[i] > 0 ? x[i] : 0) && dx[i] == (x[i] > 0 ? dy[i] : 0);
    CHECK_MSG(ok, "relu forward/backward");
    g_b->add(g_b, N, x, dy, a);
    ok = 1;
    for (int i = 0; i < N; i++)
        ok &= a[i] == x[i] + dy[i];
    CHECK_MSG(ok, "add");
    /* dropout: kept fraction near 1-p, kept values scaled, backward uses the same mask */
    enum { M = 20000 };
    float *dxv = malloc(sizeof(float) * M), *dyv = malloc(sizeof(float) * M);
    float *xv = malloc(sizeof(float) * M), *yv = malloc(sizeof(float) * M);
    uint8_t *mv = malloc(M);
    for (int i = 0; i < M; i++)
        xv[i] = dyv[i] = 1.0f + (float)(i % 7);
    g_b->dropout_forward(g_b, M, 0.5f, 42, 1000, xv, yv, mv);
    g_b->dropout_backward(g_b, M, 0.5f, mv, dyv, dxv);
    int kept = 0;
    ok = 1;
    for (int i = 0; i < M; i++) {
        kept += mv[i];
        int expect = xfer_dropout_uniform(42, 1000 + (uint64_t)i) >= 0.5f;
        ok &= mv[i] == expect && yv[i] == (mv[i] ? xv[i] * 2.0f : 0.0f) && dxv[i] == yv[i];
    }
    CHECK_MSG(ok, "dropout mask/scale");
    CHECK_MSG(fabs(kept / (double)M - 0.5) < 0.02, "dropout kept fraction %g", kept / (double)M);
    g_b->dropout_forward(g_b, N, 0.0f, 42, 0, x, y, mask);
    ok = 1;
    for (int i = 0; i < N; i++)
        ok &= y[i] == x[i] && mask[i] == 1;
    CHECK_MSG(ok, "dropout p=0 is the identity");
    free(dxv), free(dyv), free(xv), free(yv), free(mv);
}

/* ---- ReLU6, channel affine, concatenation (strided copies) --------------------------------- */
typedef struct {
    int m, c1, c2;
    double *x, *x2, *scale, *shift, *r;
    int which; /* 0 relu6, 1 affine, 2 concat */
} ew_ctx;

static double ew_loss(void *v) {
    ew_ctx *e = v;
    double s = 0;
    for (int i = 0; i < e->m; i++) {
        int ct = e->c1 + (e->which == 2 ? e->c2 : 0);
        for (int j = 0; j < ct; j++) {
            double y;
            if (e->which == 0) {
                double x = e->x[(size_t)i * e->c1 + j];
                y = x < 0 ? 0 : x > 6 ? 6 : x;
            } else if (e->which == 1) {
                y = e->x[(size_t)i * e->c1 + j] * e->scale[j] + e->shift[j];
            } else {
                y = j < e->c1 ? e->x[(size_t)i * e->c1 + j] : e->x2[(size_t)i * e->c2 + j - e->c1];
            }
            s += y * e->r[(size_t)i * ct + j];
        }
    }
    return s;
}

static void test_archs_elementwise(void) {
    enum { M = 11, C1 = 3, C2 = 5 };
    ew_ctx e = {M,
                C1,
                C2,
                drand_vec(M * C1),
                drand_vec(M * C2),
                drand_vec(C1),
                drand_vec(C1),
                drand_vec(M * (C1 + C2)),
                0};
    for (int i = 0; i < M * C1; i++) /* spread over (-8, 8), away from the kinks at 0 and 6 */
        e.x[i] = 8 * e.x[i] + (fabs(8 * e.x[i]) < 0.01 || fabs(8 * e.x[i] - 6) < 0.01 ? 0.1 : 0);
    round_f(e.x, M * C1), round_f(e.x2, M * C2), round_f(e.scale, C1), round_f(e.shift, C1);
    round_f(e.r, M * (C1 + C2));
    float *x = to_f(e.x, M * C1), *x2 = to_f(e.x2, M * C2), *sc = to_f(e.scale, C1);
    float *sh = to_f(e.shift, C1), *r = to_f(e.r, M * (C1 + C2));
    float y[M * (C1 + C2)], dx[M * C1], dx2[M * C2];
    double ref[M * (C1 + C2)];
    /* relu6 */
    g_b->relu6_forward(g_b, M * C1, x, y);
    g_b->relu6_backward(g_b, M * C1, y, r, dx);
    for (int i = 0; i < M * C1; i++)
        ref[i] = e.x[i] < 0 ? 0 : e.x[i] > 6 ? 6 : e.x[i];
    fwd_check("relu6", y, ref, M * C1);
    e.which = 0;
    fd_check("relu6", ew_loss, &e, e.x, M * C1, dx);
    int sat = 0;
    for (int i = 0; i < M * C1; i++)
        sat += y[i] == 6.0f;
    CHECK_MSG(sat > 0, "relu6 test has no saturated input");
    /* channel affine (transform_input) and its backward (shift NULL) */
    g_b->channel_affine(g_b, M, C1, x, sc, sh, y);
    g_b->channel_affine(g_b, M, C1, r, sc, NULL, dx);
    for (int i = 0; i < M * C1; i++)
        ref[i] = e.x[i] * e.scale[i % C1] + e.shift[i % C1];
    fwd_check("channel affine", y, ref, M * C1);
    e.which = 1;
    fd_check("channel affine", ew_loss, &e, e.x, M * C1, dx);
    /* concatenation [x | x2] in NHWC: forward copies into channel slices, backward reads them */
    g_b->copy_strided(g_b, M, C1, x, C1, y, C1 + C2);
    g_b->copy_strided(g_b, M, C2, x2, C2, y + C1, C1 + C2);
    g_b->copy_strided(g_b, M, C1, r, C1 + C2, dx, C1);
    g_b->copy_strided(g_b, M, C2, r + C1, C1 + C2, dx2, C2);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < C1 + C2; j++)
            ref[i * (C1 + C2) + j] = j < C1 ? e.x[i * C1 + j] : e.x2[i * C2 + j - C1];
    fwd_check("concat", y, ref, M * (C1 + C2));
    e.which = 2;
    fd_check("concat dx1", ew_loss, &e, e.x, M * C1, dx);
    fd_check("concat dx2", ew_loss, &e, e.x2, M * C2, dx2);
    free(e.x), free(e.x2), free(e.scale), free(e.shift), free(e.r);
    free(x), free(x2), free(sc), free(sh), free(r);
}

/* ---- softmax + cross-entropy ------------------------------------------------------------------
 */
typedef struct {
    int n, k;
    double *l;
    int32_t *lab;
} xent_ctx;

static double xent_loss(void *v) {
    xent_ctx *c = v;
    double t = 0;
    for (int i = 0; i < c->n; i++) {
        double s = 0;
        for (int j = 0; j < c->k; j++)
            s += exp(c->l[i * c->k + j]);
        t += log(s) - c->l[i * c->k + c->lab[i]];
    }
    return t / c->n;
}

static void test_xent(void) {
    enum { N = 5, K = 7 };
    int32_t lab[N] = {0, 6, 3, 3, 1};
    xent_ctx c = {N, K, drand_vec(N * K), lab};
    for (int i = 0; i < N * K; i++)
        c.l[i] = (float)(c.l[i] * 5);
    float *l = to_f(c.l, N * K), loss, dl[N * K], probs[N * K];
    g_b->softmax_xent(g_b, N, K, l, lab, &loss, dl);
    CHECK_CLOSE(loss, xent_loss(&c), 1e-6, 0);
    fd_check("softmax_xent", xent_loss, &c, c.l, N * K, dl);
    /* stability: huge logits give a finite loss */
    float big[2] = {1e30f, -1e30f}, bl;
    int32_t zero = 0, one = 1;
    g_b->softmax_xent(g_b, 1, 2, big, &zero, &bl, NULL);
    CHECK(bl == 0.0f);
    g_b->softmax_xent(g_b, 1, 2, big, &one, &bl, NULL);
    CHECK(isfinite(bl) && bl > 1e29f);
    g_b->softmax(g_b, N, K, l, probs);
    double s0 = 0;
    for (int j = 0; j < K; j++)
        s0 += probs[j];
    CHECK_CLOSE(s0, 1.0, 1e-6, 0);
    int32_t pred[N];
    g_b->argmax(g_b, N, K, l, pred);
    float correct = 1.0f;
    g_b->count_correct(g_b, N, K, l, lab, &correct);
    int expect = 0;
    for (int i = 0; i < N; i++) {
        int best = 0;
        for (int j = 1; j < K; j++)
            if (c.l[i * K + j] > c.l[i * K + best]) best = j;
        CHECK(pred[i] == best);
        expect += best == lab[i];
    }
    CHECK(correct == 1.0f + (float)expect);
    free(c.l), free(l);
}

/* ---- SGD ---------------------------------------------------------------------------------- */
static void test_sgd(int nesterov) {
    enum { N = 33 };
    float p[N], g[N], buf[N];
    double rp[N], rbuf[N];
    const float lr = 0.1f, mom = 0.9f, wd = 5e-4f;
    for (int i = 0; i < N; i++)
        rp[i] = p[i] = (float)urand();
    for (int step = 0; step < 3; step++) {
        for (int i = 0; i < N; i++)
            g[i] = (float)urand();
        g_b->sgd_update(g_b, N, p, g, buf, lr, mom, wd, nesterov, step == 0);
        for (int i = 0; i < N; i++) { /* torch.optim.SGD's documented update */
            double d = g[i] + wd * rp[i];
            rbuf[i] = step == 0 ? d : mom * rbuf[i] + d;
            double u = nesterov ? d + mom * rbuf[i] : rbuf[i];
            rp[i] -= lr * u;
        }
    }
    for (int i = 0; i < N; i++)
        CHECK_CLOSE(p[i], rp[i], 1e-5, 1e-6);
}

static void test_layout(void) {
    enum { N = 2, C = 3, H = 4, W = 5 };
    float a[N * C * H * W], b[N * C * H * W], c[N * C * H * W];
    for (int i = 0; i < N * C * H * W; i++)
        a[i] = (float)i;
    g_b->nchw_to_nhwc(g_b, N, C, H, W, a, b);
    CHECK(b[((1 * H + 2) * W + 3) * C + 1] == a[((1 * C + 1) * H + 2) * W + 3]);
    g_b->nhwc_to_nchw(g_b, N, C, H, W, b, c);
    CHECK(memcmp(a, c, sizeof a) == 0);
}

int main(void) {
    xfer_err err;
    xfer_err_clear(&err);
    g_b = xfer_backend_get(XFER_DEVICE_CPU, &err);
    CHECK(g_b != NULL);
    if (!g_b) return test_summary();
    test_conv(2, 5, 6, 3, 4, 3, 1, 1, 1);
    test_conv(2, 7, 7, 2, 3, 3, 2, 1, 0);
    test_conv(1, 9, 8, 3, 2, 5, 2, 2, 1);    /* AlexNet-like 5x5 */
    test_conv(2, 11, 11, 3, 2, 11, 4, 2, 1); /* AlexNet's first layer shape, small */
    test_conv(2, 4, 5, 3, 4, 1, 1, 0, 0);    /* pointwise fast path */
    test_conv(2, 5, 5, 3, 4, 1, 2, 0, 0);    /* ResNet downsample */
    test_conv(1, 9, 9, 2, 3, 7, 2, 3, 0);    /* ResNet conv1 */
    /* stride 1: backward data as a convolution of dy (padding k - 1 - pad), or col2im */
    test_conv(2, 6, 5, 4, 3, 3, 1, 0, 0); /* unpadded: dy padded by 2 */
    test_conv(1, 4, 4, 2, 3, 3, 1, 3, 0); /* pad > k - 1: col2im */
    /* non-square kernels and padding (Inception-v3's 1x7, 7x1, 1x3, 3x1) */
    test_conv_ex(2, 6, 9, 3, 4, 1, 7, 1, 0, 3, 1, 0);
    test_conv_ex(2, 9, 5, 3, 2, 7, 1, 1, 3, 0, 1, 1);
    test_conv_ex(1, 5, 6, 4, 3, 3, 1, 2, 1, 0, 1, 0);
    /* depthwise (groups == c == o): MobileNetV2 3x3 s1/s2, MNASNet 5x5 s2, bias */
    test_conv_ex(2, 7, 6, 5, 5, 3, 3, 1, 1, 1, 5, 0);
    test_conv_ex(2, 8, 8, 70, 70, 3, 3, 2, 1, 1, 70, 0); /* > one 64-channel block */
    test_conv_ex(1, 9, 7, 3, 3, 5, 5, 2, 2, 2, 3, 1);
    test_bn(24, 5, 1);
    test_bn(24, 5, 0);
    test_pool(0, 2, 7, 6, 3, 3, 2, 1, 0, 0);
    test_pool(0, 2, 7, 7, 3, 3, 2, 0, 0, 0);
    test_pool(1, 2, 5, 7, 3, 0, 0, 0, 3, 3); /* overlapping adaptive bins */
    test_pool(1, 2, 4, 4, 3, 0, 0, 0, 1, 1);
    test_pool(1, 1, 3, 2, 2, 0, 0, 0, 6, 6); /* upsampling bins (AlexNet on small inputs) */
    test_maxpool_ties();
    /* ceil mode (GoogLeNet) and average pooling (DenseNet's transition, Inception's 3x3/1/1) */
    test_pool2d(0, 2, 8, 7, 3, 3, 2, 0, 1, 0, 4);
    test_pool2d(0, 2, 5, 5, 2, 2, 2, 1, 1, 0, 3); /* the window past h + pad is dropped */
    test_pool2d(0, 1, 6, 6, 2, 3, 1, 1, 1, 0, 6); /* GoogLeNet's branch4 pool */
    test_pool2d(1, 2, 6, 5, 3, 2, 2, 0, 0, 1, 3);
    test_pool2d(1, 2, 5, 6, 3, 3, 1, 1, 0, 1, 5);
    test_pool2d(1, 2, 5, 6, 3, 3, 1, 1, 0, 0, 5);
    test_pool2d(1, 1, 5, 5, 2, 2, 2, 1, 1, 1, 3);
    test_pool2d(1, 1, 7, 7, 2, 3, 2, 1, 1, 0, 4);
    test_avgpool_torch_values();
    test_linear(3, 7, 5);
    test_elementwise();
    test_archs_elementwise();
    test_xent();
    test_sgd(0);
    test_sgd(1);
    test_layout();
    CHECK(g_b->check(g_b, &err) == XFER_OK);
    xfer_backend_release(g_b);
    return test_summary();
}
