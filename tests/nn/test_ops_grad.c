/* Every CPU backend op against a double-precision reference written here: forwards compared with
 * the reference, backwards with central finite differences of L = sum(y * r) for random r (or of
 * the op's scalar loss). One checker runs every case of the table in main(): an op (its set-up,
 * reference, backend forward and backward, and any checks of its own) and a shape. It prints how
 * many cases, forwards and gradients it checked. */
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

/* ---- the checker ----------------------------------------------------------------------------  */
enum { MAX_IN = 5 };

typedef struct op_case op_case;

/* An op under test. setup fills the case from a shape row of the table (name, input lengths,
 * output length, descriptor); prep (optional) adjusts the drawn inputs; ref computes y from the
 * double inputs; fwd and bwd run the backend on the float copies (bwd: the gradient of
 * L = sum(fy * r), or of the scalar loss when the case has no r, into grad[i]); extra (optional)
 * checks what only this op has. */
typedef struct {
    void (*setup)(op_case *c, const int *s);
    void (*prep)(op_case *c);
    void (*ref)(op_case *c);
    void (*fwd)(op_case *c);
    void (*bwd)(op_case *c);
    void (*extra)(op_case *c);
} op_kind;

struct op_case {
    const op_kind *kind;
    char name[128];
    int nin;
    size_t len[MAX_IN];
    const char *grad_name[MAX_IN]; /* NULL: an input without a gradient (not checked) */
    size_t ny, nscratch;
    int no_r; /* L is the op's scalar output y[0] itself */
    union {
        xfer_conv2d_desc conv;
        struct {
            xfer_pool2d_desc d;
            int avg, oh, ow; /* avg: 0 max, 1 adaptive, 2 k/stride/pad average */
        } pool;
        int dims[4];
    } u;
    /* filled by the checker: the inputs and r as doubles holding float values, their float
     * copies, the outputs, zeroed gradient buffers and scratch for the op */
    double *in[MAX_IN], *r, *y;
    float *fin[MAX_IN], *fr, *fy, *grad[MAX_IN], *scratch;
};

static int g_cases, g_fwds, g_grads;

static double dot(const double *y, const double *r, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += y[i] * r[i];
    return s;
}

static void set_in(op_case *c, int i, const char *grad_name, size_t n) {
    c->len[i] = n;
    c->grad_name[i] = grad_name;
    if (i + 1 > c->nin) c->nin = i + 1;
}

static double case_loss(void *p) {
    op_case *c = p;
    c->kind->ref(c);
    return c->no_r ? c->y[0] : dot(c->y, c->r, c->ny);
}

/* Central differences of L with respect to v[0..n), compared with analytic. */
static void fd_check(const char *what, op_case *c, double *v, size_t n, const float *analytic) {
    double *num = malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) {
        double save = v[i];
        v[i] = save + FD_STEP;
        double lp = case_loss(c);
        v[i] = save - FD_STEP;
        double lm = case_loss(c);
        v[i] = save;
        num[i] = (lp - lm) / (2 * FD_STEP);
    }
    double e = rel_err_fd(analytic, num, n);
    CHECK_MSG(e <= FD_TOL, "%s: gradient rel error %.3g > %.3g", what, e, FD_TOL);
    g_grads++;
    free(num);
}

static void fwd_check(const char *what, const float *got, const double *ref, size_t n) {
    double e = rel_err_fd(got, ref, n);
    CHECK_MSG(e <= FWD_TOL, "%s: forward rel error %.3g > %.3g", what, e, FWD_TOL);
    g_fwds++;
}

/* One case: inputs drawn in order and then r, rounded to float; the forward against the
 * reference, every input's gradient against central differences, then the op's own checks. */
static void check_case(const op_kind *k, const int *shape) {
    op_case c;
    memset(&c, 0, sizeof c);
    c.kind = k;
    k->setup(&c, shape);
    for (int i = 0; i < c.nin; i++)
        c.in[i] = drand_vec(c.len[i]);
    c.r = c.no_r ? NULL : drand_vec(c.ny);
    if (k->prep) k->prep(&c);
    for (int i = 0; i < c.nin; i++) {
        round_f(c.in[i], c.len[i]);
        c.fin[i] = to_f(c.in[i], c.len[i]);
        c.grad[i] = calloc(c.len[i] ? c.len[i] : 1, sizeof(float));
    }
    if (c.r) round_f(c.r, c.ny), c.fr = to_f(c.r, c.ny);
    c.y = malloc(sizeof(double) * c.ny);
    c.fy = malloc(sizeof(float) * c.ny);
    c.scratch = malloc(sizeof(float) * (c.nscratch ? c.nscratch : 1));
    k->fwd(&c);
    k->ref(&c);
    fwd_check(c.name, c.fy, c.y, c.ny);
    k->bwd(&c);
    for (int i = 0; i < c.nin; i++) {
        if (!c.grad_name[i]) continue;
        char what[160];
        snprintf(what, sizeof what, "%s %s", c.name, c.grad_name[i]);
        fd_check(what, &c, c.in[i], c.len[i], c.grad[i]);
    }
    if (k->extra) k->extra(&c);
    g_cases++;
    for (int i = 0; i < c.nin; i++)
        free(c.in[i]), free(c.fin[i]), free(c.grad[i]);
    free(c.r), free(c.fr), free(c.y), free(c.fy), free(c.scratch);
}

/* ---- conv2d: shape n h w ci o kh kw stride pad_h pad_w groups bias ----------------------- --- */
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

static void conv_setup(op_case *c, const int *s) {
    xfer_conv2d_desc *d = &c->u.conv;
    *d = (xfer_conv2d_desc){.n = s[0], .h = s[1], .w = s[2], .c = s[3], .o = s[4], .groups = s[10]};
    d->kh = s[5], d->kw = s[6], d->stride = s[7], d->pad_h = s[8], d->pad_w = s[9];
    xfer_conv2d_desc_init(d);
    snprintf(c->name, sizeof c->name, "conv %dx%dx%dx%d o%d k%dx%d s%d p%dx%d g%d%s", s[0], s[1],
             s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11] ? " bias" : "");
    set_in(c, 0, "dx", (size_t)d->n * d->h * d->w * d->c);
    set_in(c, 1, "dw", (size_t)d->o * d->kh * d->kw * (d->c / d->groups));
    if (s[11]) set_in(c, 2, "dbias", (size_t)d->o);
    c->ny = (size_t)d->n * d->oh * d->ow * d->o;
}

static void conv_ref_case(op_case *c) {
    conv_ref(&c->u.conv, c->in[0], c->in[1], c->nin > 2 ? c->in[2] : NULL, c->y);
}

static void conv_fwd(op_case *c) {
    g_b->conv2d_forward(g_b, &c->u.conv, c->fin[0], c->fin[1], c->nin > 2 ? c->fin[2] : NULL,
                        c->fy);
}

static void conv_bwd(op_case *c) {
    g_b->conv2d_backward_data(g_b, &c->u.conv, c->fr, c->fin[1], c->grad[0]);
    g_b->conv2d_backward_filter(g_b, &c->u.conv, c->fin[0], c->fr, c->grad[1],
                                c->nin > 2 ? c->grad[2] : NULL);
}

/* accumulation: a second backward-filter adds the same amount again */
static void conv_accumulates(op_case *c) {
    size_t nw = c->len[1];
    float *dw = c->grad[1], *dw2 = malloc(sizeof(float) * nw);
    memcpy(dw2, dw, sizeof(float) * nw);
    g_b->conv2d_backward_filter(g_b, &c->u.conv, c->fin[0], c->fr, dw2, NULL);
    int acc_ok = 1;
    for (size_t i = 0; i < nw; i++)
        if (fabsf(dw2[i] - 2 * dw[i]) > 1e-4f * (1 + fabsf(dw[i]))) acc_ok = 0;
    CHECK_MSG(acc_ok, "%s: backward filter does not accumulate", c->name);
    free(dw2);
}

static const op_kind conv_op = {conv_setup, NULL,     conv_ref_case,
                                conv_fwd,   conv_bwd, conv_accumulates};

/* ---- batch norm: shape m c train relu; inputs x, gamma, beta, running mean and variance --- -- */
/* relu: y = relu(BN(x)) through batchnorm_relu_backward, its dx added onto a preset gradient */
static void bn_setup(op_case *c, const int *s) {
    int m = s[0], ch = s[1];
    c->u.dims[0] = m, c->u.dims[1] = ch, c->u.dims[2] = s[2], c->u.dims[3] = s[3];
    snprintf(c->name, sizeof c->name, "batchnorm%s %s m%d c%d", s[3] ? "+relu" : "",
             s[2] ? "train" : "eval", m, ch);
    set_in(c, 0, "dx", (size_t)m * ch);
    set_in(c, 1, "dgamma", ch);
    set_in(c, 2, "dbeta", ch);
    set_in(c, 3, NULL, ch); /* running mean */
    set_in(c, 4, NULL, ch); /* running variance */
    c->ny = (size_t)m * ch;
    c->nscratch = 2 * (size_t)ch; /* the saved mean and inverse deviation */
}

static void bn_prep(op_case *c) {
    for (size_t j = 0; j < c->len[4]; j++)
        c->in[4][j] = 0.5 + fabs(c->in[4][j]);
}

static void bn_ref(op_case *k) {
    int m = k->u.dims[0], ch = k->u.dims[1], train = k->u.dims[2];
    const double *x = k->in[0], *g = k->in[1], *b = k->in[2], *rm = k->in[3], *rv = k->in[4];
    for (int j = 0; j < ch; j++) {
        double mean = 0, var = 0;
        if (train) {
            for (int i = 0; i < m; i++)
                mean += x[i * ch + j];
            mean /= m;
            for (int i = 0; i < m; i++)
                var += (x[i * ch + j] - mean) * (x[i * ch + j] - mean);
            var /= m;
        } else {
            mean = rm[j];
            var = rv[j];
        }
        double inv = 1.0 / sqrt(var + XFER_BN_EPS);
        for (int i = 0; i < m; i++)
            k->y[i * ch + j] = (x[i * ch + j] - mean) * inv * g[j] + b[j];
    }
    for (int i = 0; k->u.dims[3] && i < m * ch; i++)
        k->y[i] = k->y[i] > 0 ? k->y[i] : 0;
}

static void bn_fwd(op_case *c) {
    int m = c->u.dims[0], ch = c->u.dims[1];
    float **f = c->fin, *sm = c->scratch, *si = c->scratch + ch;
    if (c->u.dims[2])
        g_b->batchnorm_forward_train(g_b, m, ch, f[0], f[1], f[2], f[3], f[4], XFER_BN_MOMENTUM,
                                     XFER_BN_EPS, c->fy, sm, si);
    else
        g_b->batchnorm_forward_eval(g_b, m, ch, f[0], f[1], f[2], f[3], f[4], XFER_BN_EPS, c->fy,
                                    sm, si);
    for (int i = 0; c->u.dims[3] && i < m * ch; i++) /* the in-place ReLU after it */
        c->fy[i] = c->fy[i] > 0.0f ? c->fy[i] : 0.0f;
}

static void bn_bwd(op_case *c) {
    int m = c->u.dims[0], ch = c->u.dims[1];
    size_t n = (size_t)m * ch;
    if (!c->u.dims[3]) {
        g_b->batchnorm_backward(g_b, m, ch, c->fin[0], c->fr, c->fin[1], c->scratch,
                                c->scratch + ch, c->u.dims[2], c->grad[0], c->grad[1], c->grad[2]);
        return;
    }
    float *dy = malloc(sizeof(float) * n); /* the op may overwrite it */
    memcpy(dy, c->fr, sizeof(float) * n);
    for (size_t i = 0; i < n; i++)
        c->grad[0][i] = (float)(i % 7) - 3.0f; /* a gradient the input slot already holds */
    g_b->batchnorm_relu_backward(g_b, m, ch, c->fin[0], c->fy, dy, c->fin[1], c->scratch,
                                 c->scratch + ch, c->u.dims[2], 1, c->grad[0], c->grad[1],
                                 c->grad[2]);
    for (size_t i = 0; i < n; i++)
        c->grad[0][i] -= (float)(i % 7) - 3.0f;
    free(dy);
}

/* training mode's running statistics: momentum 0.1, unbiased variance */
static void bn_running_stats(op_case *c) {
    int m = c->u.dims[0], ch = c->u.dims[1];
    if (!c->u.dims[2]) return;
    const double *x = c->in[0];
    for (int j = 0; j < ch; j++) {
        double mean = 0, var = 0;
        for (int i = 0; i < m; i++)
            mean += x[i * ch + j];
        mean /= m;
        for (int i = 0; i < m; i++)
            var += (x[i * ch + j] - mean) * (x[i * ch + j] - mean);
        var /= (m - 1);
        CHECK_CLOSE(c->fin[3][j], 0.9 * c->in[3][j] + 0.1 * mean, 1e-5, 1e-6);
        CHECK_CLOSE(c->fin[4][j], 0.9 * c->in[4][j] + 0.1 * var, 1e-5, 1e-6);
    }
}

static const op_kind bn_op = {bn_setup, bn_prep, bn_ref, bn_fwd, bn_bwd, bn_running_stats};

/* ---- pooling --------------------------------------------------------------------------------  */
static void pool_ref(op_case *p) {
    const xfer_pool2d_desc *d = &p->u.pool.d;
    int avg = p->u.pool.avg, oh = p->u.pool.oh, ow = p->u.pool.ow;
    for (int n = 0; n < d->n; n++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
                for (int c = 0; c < d->c; c++) {
                    int y0, y1, x0, x1;
                    if (avg == 1) {
                        y0 = oy * d->h / oh, y1 = ((oy + 1) * d->h + oh - 1) / oh;
                        x0 = ox * d->w / ow, x1 = ((ox + 1) * d->w + ow - 1) / ow;
                    } else {
                        y0 = oy * d->stride - d->pad, y1 = y0 + d->k;
                        x0 = ox * d->stride - d->pad, x1 = x0 + d->k;
                    }
                    double acc = avg ? 0 : -INFINITY;
                    int cnt = 0;
                    /* torch's avg_pool2d divisor: the window clipped to the padded input */
                    int py = (y1 < d->h + d->pad ? y1 : d->h + d->pad) - y0;
                    int px = (x1 < d->w + d->pad ? x1 : d->w + d->pad) - x0;
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++) {
                            if (iy < 0 || iy >= d->h || ix < 0 || ix >= d->w) continue;
                            double v = p->in[0][((n * d->h + iy) * d->w + ix) * d->c + c];
                            if (avg)
                                acc += v;
                            else if (v > acc)
                                acc = v;
                            cnt++;
                        }
                    if (avg == 2 && d->count_include_pad) cnt = py * px;
                    p->y[((n * oh + oy) * ow + ox) * d->c + c] = avg ? acc / cnt : acc;
                }
}

static void pool_fwd(op_case *c) {
    const xfer_pool2d_desc *d = &c->u.pool.d;
    if (c->u.pool.avg == 1)
        g_b->adaptive_avgpool_forward(g_b, d->n, d->h, d->w, d->c, c->u.pool.oh, c->u.pool.ow,
                                      c->fin[0], c->fy);
    else if (c->u.pool.avg == 2)
        g_b->avgpool2d_forward(g_b, d, c->fin[0], c->fy);
    else
        g_b->maxpool2d_forward(g_b, d, c->fin[0], c->fy);
}

static void pool_bwd(op_case *c) {
    const xfer_pool2d_desc *d = &c->u.pool.d;
    if (c->u.pool.avg == 1)
        g_b->adaptive_avgpool_backward(g_b, d->n, d->h, d->w, d->c, c->u.pool.oh, c->u.pool.ow,
                                       c->fr, c->grad[0]);
    else if (c->u.pool.avg == 2)
        g_b->avgpool2d_backward(g_b, d, c->fr, c->grad[0]);
    else
        g_b->maxpool2d_backward(g_b, d, c->fin[0], c->fy, c->fr, c->grad[0]);
}

/* k x k / stride / pad pooling, max (avg 0) or average (avg 2), with ceil_mode and (average)
 * count_include_pad; expect_oh >= 0: torch's output height for this h (checked, from
 * torch.nn.MaxPool2d / AvgPool2d) */
static void pool2d_setup(op_case *c, int avg, int n, int h, int w, int ch, int k, int stride,
                         int pad, int ceil, int cip, int expect_oh) {
    xfer_pool2d_desc *d = &c->u.pool.d;
    *d = (xfer_pool2d_desc){.n = n, .h = h, .w = w, .c = ch, .k = k, .stride = stride, .pad = pad};
    d->ceil_mode = ceil, d->count_include_pad = cip;
    xfer_pool2d_desc_init(d);
    c->u.pool.avg = avg, c->u.pool.oh = d->oh, c->u.pool.ow = d->ow;
    snprintf(c->name, sizeof c->name, "%s n%d %dx%dx%d k%d s%d p%d%s%s",
             avg ? "avgpool" : "maxpool", n, h, w, ch, k, stride, pad, ceil ? " ceil" : "",
             cip ? " count_include_pad" : "");
    if (expect_oh >= 0)
        CHECK_MSG(d->oh == expect_oh, "%s: output height %d, torch's %d", c->name, d->oh,
                  expect_oh);
    set_in(c, 0, "dx", (size_t)n * h * w * ch);
    c->ny = (size_t)n * d->oh * d->ow * ch;
}

/* shape n h w c k stride pad ceil expect_oh */
static void maxpool_setup(op_case *c, const int *s) {
    pool2d_setup(c, 0, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], 0, s[8]);
}

/* shape n h w c k stride pad ceil count_include_pad expect_oh */
static void avgpool_setup(op_case *c, const int *s) {
    pool2d_setup(c, 2, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9]);
}

/* shape n h w c oh ow: torch's adaptive bins */
static void adaptive_setup(op_case *c, const int *s) {
    c->u.pool.d = (xfer_pool2d_desc){.n = s[0], .h = s[1], .w = s[2], .c = s[3]};
    c->u.pool.avg = 1, c->u.pool.oh = s[4], c->u.pool.ow = s[5];
    snprintf(c->name, sizeof c->name, "adaptive avgpool n%d %dx%dx%d -> %dx%d", s[0], s[1], s[2],
             s[3], s[4], s[5]);
    set_in(c, 0, "dx", (size_t)s[0] * s[1] * s[2] * s[3]);
    c->ny = (size_t)s[0] * s[4] * s[5] * s[3];
}

static const op_kind maxpool_op = {maxpool_setup, NULL, pool_ref, pool_fwd, pool_bwd, NULL};
static const op_kind avgpool_op = {avgpool_setup, NULL, pool_ref, pool_fwd, pool_bwd, NULL};
static const op_kind adaptive_op = {adaptive_setup, NULL, pool_ref, pool_fwd, pool_bwd, NULL};

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

/* ---- linear: shape n in out ------------------------------------------------------------------ */
static void lin_setup(op_case *c, const int *s) {
    c->u.dims[0] = s[0], c->u.dims[1] = s[1], c->u.dims[2] = s[2];
    snprintf(c->name, sizeof c->name, "linear %dx%d -> %d", s[0], s[1], s[2]);
    set_in(c, 0, "dx", (size_t)s[0] * s[1]);
    set_in(c, 1, "dw", (size_t)s[2] * s[1]);
    set_in(c, 2, "db", s[2]);
    c->ny = (size_t)s[0] * s[2];
}

static void lin_ref(op_case *l) {
    int n = l->u.dims[0], in = l->u.dims[1], out = l->u.dims[2];
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            double s = l->in[2][o];
            for (int j = 0; j < in; j++)
                s += l->in[0][i * in + j] * l->in[1][o * in + j];
            l->y[i * out + o] = s;
        }
}

static void lin_fwd(op_case *c) {
    g_b->linear_forward(g_b, c->u.dims[0], c->u.dims[1], c->u.dims[2], c->fin[0], c->fin[1],
                        c->fin[2], c->fy);
}

static void lin_bwd(op_case *c) {
    g_b->linear_backward(g_b, c->u.dims[0], c->u.dims[1], c->u.dims[2], c->fin[0], c->fin[1], c->fr,
                         c->grad[0], c->grad[1], c->grad[2]);
}

static const op_kind linear_op = {lin_setup, NULL, lin_ref, lin_fwd, lin_bwd, NULL};

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

/* ---- ReLU6: shape n -------------------------------------------------------------------------  */
static void relu6_setup(op_case *c, const int *s) {
    snprintf(c->name, sizeof c->name, "relu6 n%d", s[0]);
    set_in(c, 0, "dx", s[0]);
    c->ny = s[0];
}

static void relu6_prep(op_case *c) { /* spread over (-8, 8), away from the kinks at 0 and 6 */
    double *x = c->in[0];
    for (size_t i = 0; i < c->len[0]; i++)
        x[i] = 8 * x[i] + (fabs(8 * x[i]) < 0.01 || fabs(8 * x[i] - 6) < 0.01 ? 0.1 : 0);
}

static void relu6_ref(op_case *c) {
    for (size_t i = 0; i < c->ny; i++) {
        double x = c->in[0][i];
        c->y[i] = x < 0 ? 0 : x > 6 ? 6 : x;
    }
}

static void relu6_fwd(op_case *c) {
    g_b->relu6_forward(g_b, c->ny, c->fin[0], c->fy);
}

static void relu6_bwd(op_case *c) {
    g_b->relu6_backward(g_b, c->ny, c->fy, c->fr, c->grad[0]);
}

static void relu6_saturates(op_case *c) {
    int sat = 0;
    for (size_t i = 0; i < c->ny; i++)
        sat += c->fy[i] == 6.0f;
    CHECK_MSG(sat > 0, "relu6 test has no saturated input");
}

static const op_kind relu6_op = {relu6_setup, relu6_prep, relu6_ref,
                                 relu6_fwd,   relu6_bwd,  relu6_saturates};

/* ---- channel affine (transform_input): shape m c; inputs x, scale, shift --------------------  */
static void affine_setup(op_case *c, const int *s) {
    c->u.dims[0] = s[0], c->u.dims[1] = s[1];
    snprintf(c->name, sizeof c->name, "channel affine m%d c%d", s[0], s[1]);
    set_in(c, 0, "dx", (size_t)s[0] * s[1]);
    set_in(c, 1, NULL, s[1]); /* scale and shift are constants: no gradient */
    set_in(c, 2, NULL, s[1]);
    c->ny = (size_t)s[0] * s[1];
}

static void affine_ref(op_case *c) {
    int ch = c->u.dims[1];
    for (size_t i = 0; i < c->ny; i++)
        c->y[i] = c->in[0][i] * c->in[1][i % ch] + c->in[2][i % ch];
}

static void affine_fwd(op_case *c) {
    g_b->channel_affine(g_b, c->u.dims[0], c->u.dims[1], c->fin[0], c->fin[1], c->fin[2], c->fy);
}

static void affine_bwd(op_case *c) { /* the backward: scale only (shift NULL) */
    g_b->channel_affine(g_b, c->u.dims[0], c->u.dims[1], c->fr, c->fin[1], NULL, c->grad[0]);
}

static const op_kind affine_op = {affine_setup, NULL, affine_ref, affine_fwd, affine_bwd, NULL};

/* ---- concatenation [x1 | x2] in NHWC (strided copies): shape m c1 c2 ---------------------- -- */
static void concat_setup(op_case *c, const int *s) {
    c->u.dims[0] = s[0], c->u.dims[1] = s[1], c->u.dims[2] = s[2];
    snprintf(c->name, sizeof c->name, "concat m%d %d+%d", s[0], s[1], s[2]);
    set_in(c, 0, "dx1", (size_t)s[0] * s[1]);
    set_in(c, 1, "dx2", (size_t)s[0] * s[2]);
    c->ny = (size_t)s[0] * (s[1] + s[2]);
}

static void concat_ref(op_case *c) {
    int m = c->u.dims[0], c1 = c->u.dims[1], c2 = c->u.dims[2];
    for (int i = 0; i < m; i++)
        for (int j = 0; j < c1 + c2; j++)
            c->y[i * (c1 + c2) + j] = j < c1 ? c->in[0][i * c1 + j] : c->in[1][i * c2 + j - c1];
}

static void concat_fwd(op_case *c) { /* forward: copies into channel slices */
    int m = c->u.dims[0], c1 = c->u.dims[1], c2 = c->u.dims[2];
    g_b->copy_strided(g_b, m, c1, c->fin[0], c1, c->fy, c1 + c2);
    g_b->copy_strided(g_b, m, c2, c->fin[1], c2, c->fy + c1, c1 + c2);
}

static void concat_bwd(op_case *c) { /* backward: reads the slices */
    int m = c->u.dims[0], c1 = c->u.dims[1], c2 = c->u.dims[2];
    g_b->copy_strided(g_b, m, c1, c->fr, c1 + c2, c->grad[0], c1);
    g_b->copy_strided(g_b, m, c2, c->fr + c1, c1 + c2, c->grad[1], c2);
}

static const op_kind concat_op = {concat_setup, NULL, concat_ref, concat_fwd, concat_bwd, NULL};

/* ---- softmax + cross-entropy: shape n k (n <= 5); L is the mean loss itself -----------------  */
static const int32_t xent_labels[5] = {0, 6, 3, 3, 1};

static void xent_setup(op_case *c, const int *s) {
    CHECK_MSG(s[0] <= 5, "softmax_xent: %d rows, labels for 5", s[0]);
    c->u.dims[0] = s[0] <= 5 ? s[0] : 5, c->u.dims[1] = s[1];
    snprintf(c->name, sizeof c->name, "softmax_xent %dx%d", c->u.dims[0], s[1]);
    set_in(c, 0, "dlogits", (size_t)c->u.dims[0] * s[1]);
    c->ny = 1;
    c->no_r = 1;
}

static void xent_prep(op_case *c) {
    for (size_t i = 0; i < c->len[0]; i++)
        c->in[0][i] *= 5;
}

static void xent_ref(op_case *c) {
    int n = c->u.dims[0], k = c->u.dims[1];
    const double *l = c->in[0];
    double t = 0;
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < k; j++)
            s += exp(l[i * k + j]);
        t += log(s) - l[i * k + xent_labels[i]];
    }
    c->y[0] = t / n;
}

static void xent_fwd(op_case *c) {
    g_b->softmax_xent(g_b, c->u.dims[0], c->u.dims[1], c->fin[0], xent_labels, c->fy, NULL);
}

static void xent_bwd(op_case *c) {
    float loss;
    g_b->softmax_xent(g_b, c->u.dims[0], c->u.dims[1], c->fin[0], xent_labels, &loss, c->grad[0]);
}

/* the loss to 1e-6, stability with huge logits, softmax, argmax and count_correct */
static void xent_more(op_case *c) {
    int n = c->u.dims[0], k = c->u.dims[1];
    const float *l = c->fin[0];
    xent_ref(c);
    CHECK_CLOSE(c->fy[0], c->y[0], 1e-6, 0);
    float big[2] = {1e30f, -1e30f}, bl;
    int32_t zero = 0, one = 1;
    g_b->softmax_xent(g_b, 1, 2, big, &zero, &bl, NULL);
    CHECK(bl == 0.0f);
    g_b->softmax_xent(g_b, 1, 2, big, &one, &bl, NULL);
    CHECK(isfinite(bl) && bl > 1e29f);
    float *probs = malloc(sizeof(float) * n * k);
    g_b->softmax(g_b, n, k, l, probs);
    double s0 = 0;
    for (int j = 0; j < k; j++)
        s0 += probs[j];
    CHECK_CLOSE(s0, 1.0, 1e-6, 0);
    int32_t pred[5];
    g_b->argmax(g_b, n, k, l, pred);
    float correct = 1.0f;
    g_b->count_correct(g_b, n, k, l, xent_labels, &correct);
    int expect = 0;
    for (int i = 0; i < n; i++) {
        int best = 0;
        for (int j = 1; j < k; j++)
            if (c->in[0][i * k + j] > c->in[0][i * k + best]) best = j;
        CHECK(pred[i] == best);
        expect += best == xent_labels[i];
    }
    CHECK(correct == 1.0f + (float)expect);
    free(probs);
}

static const op_kind xent_op = {xent_setup, xent_prep, xent_ref, xent_fwd, xent_bwd, xent_more};

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

/* The table: every op and shape the checker runs. */
static const struct {
    const op_kind *op;
    int s[12];
} cases[] = {
    /* conv: n h w ci o kh kw stride pad_h pad_w groups bias */
    {&conv_op, {2, 5, 6, 3, 4, 3, 3, 1, 1, 1, 1, 1}},
    {&conv_op, {2, 7, 7, 2, 3, 3, 3, 2, 1, 1, 1, 0}},
    {&conv_op, {1, 9, 8, 3, 2, 5, 5, 2, 2, 2, 1, 1}},     /* AlexNet-like 5x5 */
    {&conv_op, {2, 11, 11, 3, 2, 11, 11, 4, 2, 2, 1, 1}}, /* AlexNet's first layer, small */
    {&conv_op, {2, 4, 5, 3, 4, 1, 1, 1, 0, 0, 1, 0}},     /* pointwise fast path */
    {&conv_op, {2, 5, 5, 3, 4, 1, 1, 2, 0, 0, 1, 0}},     /* ResNet downsample */
    {&conv_op, {1, 9, 9, 2, 3, 7, 7, 2, 3, 3, 1, 0}},     /* ResNet conv1 */
    /* stride 1: backward data as a convolution of dy (padding k - 1 - pad), or col2im */
    {&conv_op, {2, 6, 5, 4, 3, 3, 3, 1, 0, 0, 1, 0}}, /* unpadded: dy padded by 2 */
    {&conv_op, {1, 4, 4, 2, 3, 3, 3, 1, 3, 3, 1, 0}}, /* pad > k - 1: col2im */
    /* non-square kernels and padding (Inception-v3's 1x7, 7x1, 1x3, 3x1) */
    {&conv_op, {2, 6, 9, 3, 4, 1, 7, 1, 0, 3, 1, 0}},
    {&conv_op, {2, 9, 5, 3, 2, 7, 1, 1, 3, 0, 1, 1}},
    {&conv_op, {1, 5, 6, 4, 3, 3, 1, 2, 1, 0, 1, 0}},
    /* depthwise (groups == c == o): MobileNetV2 3x3 s1/s2, MNASNet 5x5 s2, bias */
    {&conv_op, {2, 7, 6, 5, 5, 3, 3, 1, 1, 1, 5, 0}},
    {&conv_op, {2, 8, 8, 70, 70, 3, 3, 2, 1, 1, 70, 0}}, /* > one 64-channel block */
    {&conv_op, {1, 9, 7, 3, 3, 5, 5, 2, 2, 2, 3, 1}},
    /* batch norm: m c train relu */
    {&bn_op, {24, 5, 1, 0}},
    {&bn_op, {24, 5, 0, 0}},
    {&bn_op, {24, 5, 1, 1}},
    {&bn_op, {24, 5, 0, 1}},
    /* max pooling: n h w c k stride pad ceil expect_oh (-1: not checked) */
    {&maxpool_op, {2, 7, 6, 3, 3, 2, 1, 0, -1}},
    {&maxpool_op, {2, 7, 7, 3, 3, 2, 0, 0, -1}},
    /* adaptive average pooling: n h w c oh ow */
    {&adaptive_op, {2, 5, 7, 3, 3, 3}}, /* overlapping bins */
    {&adaptive_op, {2, 4, 4, 3, 1, 1}},
    {&adaptive_op, {1, 3, 2, 2, 6, 6}}, /* upsampling bins (AlexNet on small inputs) */
    /* ceil mode (GoogLeNet) */
    {&maxpool_op, {2, 8, 7, 3, 3, 2, 0, 1, 4}},
    {&maxpool_op, {2, 5, 5, 2, 2, 2, 1, 1, 3}}, /* the window past h + pad is dropped */
    {&maxpool_op, {1, 6, 6, 2, 3, 1, 1, 1, 6}}, /* GoogLeNet's branch4 pool */
    /* average pooling (DenseNet's transition, Inception's 3x3/1/1): n h w c k stride pad ceil
     * count_include_pad expect_oh */
    {&avgpool_op, {2, 6, 5, 3, 2, 2, 0, 0, 1, 3}},
    {&avgpool_op, {2, 5, 6, 3, 3, 1, 1, 0, 1, 5}},
    {&avgpool_op, {2, 5, 6, 3, 3, 1, 1, 0, 0, 5}},
    {&avgpool_op, {1, 5, 5, 2, 2, 2, 1, 1, 1, 3}},
    {&avgpool_op, {1, 7, 7, 2, 3, 2, 1, 1, 0, 4}},
    /* linear: n in out */
    {&linear_op, {3, 7, 5}},
    /* the wider architectures' elementwise ops: relu6 n; affine m c; concat m c1 c2 */
    {&relu6_op, {33}},
    {&affine_op, {11, 3}},
    {&concat_op, {11, 3, 5}},
    /* softmax + cross-entropy: n k */
    {&xent_op, {5, 7}},
};

int main(void) {
    xfer_err err;
    xfer_err_clear(&err);
    g_b = xfer_backend_get(XFER_DEVICE_CPU, &err);
    CHECK(g_b != NULL);
    if (!g_b) return test_summary();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(cases[i].op, cases[i].s);
    printf("ops checked: %d cases, %d forwards against the reference, %d gradients against finite "
           "differences\n",
           g_cases, g_fwds, g_grads);
    test_maxpool_ties();
    test_avgpool_torch_values();
    test_elementwise();
    test_sgd(0);
    test_sgd(1);
    test_layout();
    CHECK(g_b->check(g_b, &err) == XFER_OK);
    xfer_backend_release(g_b);
    return test_summary();
}
