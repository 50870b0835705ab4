/* Convolutions through cuDNN 9's legacy convolution API in NHWC (activations NHWC, filters OHWI =
 * cuDNN's NHWC filter format). Per shape and precision the descriptors and the three algorithms
 * are chosen once and cached: by default with the cudnnGet*_v7 heuristics (the same choice every
 * run), with XFER_CUDNN_FIND=1 by timed cudnnFind*; deterministic algorithms whose workspace fits
 * are preferred (a fallback to another is warned about). fp32 forces CUDNN_FMA_MATH (no TF32); tf32
 * allows it; bf16 runs on bf16 copies of the operands with fp32 accumulation. */
#include <stdlib.h>
#include <string.h>

#include "cuda_internal.h"
#include "cuda_kernels.h"
#include "xfer/log.h"

#define WS_LIMIT ((size_t)2 << 30) /* never ask cuDNN for more workspace than this */
#define N_ALGO 16

typedef struct {
    xfer_conv2d_desc d;
    xfer_precision prec;
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    int algo[3];
    cudnnMathType_t math[3];
    size_t ws[3];
} conv_plan;

typedef struct {
    conv_plan *p;
    int n, cap;
} plan_cache;

static plan_cache *cache_of(xfer_backend *b) {
    return (plan_cache *)xfer_cuda_ctx(b)->conv_plans;
}

void xfer_cuda_conv_destroy(xfer_backend *b) {
    plan_cache *pc = cache_of(b);
    if (!pc) return;
    for (int i = 0; i < pc->n; i++) {
        conv_plan *p = &pc->p[i];
        if (p->x) cudnnDestroyTensorDescriptor(p->x);
        if (p->y) cudnnDestroyTensorDescriptor(p->y);
        if (p->w) cudnnDestroyFilterDescriptor(p->w);
        if (p->conv) cudnnDestroyConvolutionDescriptor(p->conv);
    }
    free(pc->p);
    free(pc);
    xfer_cuda_ctx(b)->conv_plans = NULL;
}

static int same_desc(const xfer_conv2d_desc *a, const xfer_conv2d_desc *c) {
    return a->n == c->n && a->h == c->h && a->w == c->w && a->c == c->c && a->o == c->o &&
           a->kh == c->kh && a->kw == c->kw && a->stride == c->stride && a->pad_h == c->pad_h &&
           a->pad_w == c->pad_w && a->groups == c->groups;
}

static cudnnMathType_t base_math(xfer_precision p) {
    if (p == XFER_PREC_FP32) return CUDNN_FMA_MATH; /* DEFAULT_MATH would permit TF32 */
    if (p == XFER_PREC_BF16) return CUDNN_TENSOR_OP_MATH;
    return CUDNN_DEFAULT_MATH; /* tf32 permitted */
}

static conv_plan *plan_for(xfer_backend *b, const xfer_conv2d_desc *d) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    plan_cache *pc = cache_of(b);
    if (!pc) {
        pc = calloc(1, sizeof *pc);
        if (!pc) {
            xfer_cuda_record(b, XFER_EINTERNAL, "out of memory (convolution plan cache)");
            return NULL;
        }
        c->conv_plans = pc;
    }
    for (int i = 0; i < pc->n; i++)
        if (pc->p[i].prec == c->prec && same_desc(&pc->p[i].d, d)) return &pc->p[i];
    if (pc->n == pc->cap) {
        int cap = pc->cap ? 2 * pc->cap : 16;
        conv_plan *np = realloc(pc->p, sizeof *np * cap);
        if (!np) {
            xfer_cuda_record(b, XFER_EINTERNAL, "out of memory (convolution plan cache)");
            return NULL;
        }
        pc->p = np;
        pc->cap = cap;
    }
    conv_plan *p = &pc->p[pc->n];
    memset(p, 0, sizeof *p);
    p->d = *d;
    p->prec = c->prec;
    p->algo[0] = p->algo[1] = p->algo[2] = -1;
    cudnnDataType_t dt = c->prec == XFER_PREC_BF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
    int bad =
        CU_DNN(b, cudnnCreateTensorDescriptor(&p->x)) ||
        CU_DNN(b, cudnnCreateTensorDescriptor(&p->y)) ||
        CU_DNN(b, cudnnCreateFilterDescriptor(&p->w)) ||
        CU_DNN(b, cudnnCreateConvolutionDescriptor(&p->conv)) ||
        CU_DNN(b,
               cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NHWC, dt, d->n, d->c, d->h, d->w)) ||
        CU_DNN(b,
               cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NHWC, dt, d->n, d->o, d->oh, d->ow)) ||
        CU_DNN(b, cudnnSetFilter4dDescriptor(p->w, dt, CUDNN_TENSOR_NHWC, d->o, d->c / d->groups,
                                             d->kh, d->kw)) ||
        CU_DNN(b,
               cudnnSetConvolution2dDescriptor(p->conv, d->pad_h, d->pad_w, d->stride, d->stride, 1,
                                               1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT)) ||
        CU_DNN(b, cudnnSetConvolutionGroupCount(p->conv, d->groups)) ||
        CU_DNN(b, cudnnSetConvolutionMathType(p->conv, base_math(c->prec)));
    pc->n++; /* kept even when bad, so its descriptors are destroyed with the cache */
    if (bad) return NULL;
    return p;
}

/* One candidate of cudnnGet*_v7 / cudnnFind* (the three perf types share these fields). */
typedef struct {
    int algo;
    cudnnStatus_t status;
    size_t memory;
    cudnnDeterminism_t determinism;
    cudnnMathType_t math;
} candidate;

#define TO_CANDIDATES(perf, count, out)                                                            \
    for (int i_ = 0; i_ < (count); i_++)                                                           \
        (out)[i_] = (candidate) {                                                                  \
            (int)(perf)[i_].algo, (perf)[i_].status, (perf)[i_].memory, (perf)[i_].determinism,    \
                (perf)[i_].mathType                                                                \
        }

/* The first usable candidate, in three passes of decreasing strictness: (1) deterministic and,
 * for fp32, FMA math (no TF32); (2) deterministic, any math but tensor ops for fp32; (3) any.
 * Returns its index or -1; *pass receives the pass that found it. */
static int pick(const candidate *c, int n, xfer_precision prec, int *pass) {
    for (int p = 1; p <= 3; p++)
        for (int i = 0; i < n; i++) {
            if (c[i].status != CUDNN_STATUS_SUCCESS || c[i].memory > WS_LIMIT) continue;
            if (p < 3 && c[i].determinism != CUDNN_DETERMINISTIC) continue;
            if (prec == XFER_PREC_FP32 && p == 1 && c[i].math != CUDNN_FMA_MATH) continue;
            if (prec == XFER_PREC_FP32 && p == 2 &&
                (c[i].math == CUDNN_TENSOR_OP_MATH ||
                 c[i].math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION))
                continue;
            *pass = p;
            return i;
        }
    return -1;
}

static const char *kind_name[3] = {"forward", "backward-data", "backward-filter"};

static int choose(xfer_backend *b, conv_plan *p, conv_kind k) {
    if (p->algo[k] >= 0) return 0;
    cuda_ctx *c = xfer_cuda_ctx(b);
    int got = 0, bad = 0;
    candidate cand[N_ALGO];
    if (k == CONV_FWD) {
        cudnnConvolutionFwdAlgoPerf_t perf[N_ALGO];
        bad = c->use_find
                  ? CU_DNN(b, cudnnFindConvolutionForwardAlgorithm(c->cudnn, p->x, p->w, p->conv,
                                                                   p->y, N_ALGO, &got, perf))
                  : CU_DNN(b, cudnnGetConvolutionForwardAlgorithm_v7(c->cudnn, p->x, p->w, p->conv,
                                                                     p->y, N_ALGO, &got, perf));
        if (!bad) TO_CANDIDATES(perf, got, cand);
    } else if (k == CONV_BWD_DATA) {
        cudnnConvolutionBwdDataAlgoPerf_t perf[N_ALGO];
        bad = c->use_find ? CU_DNN(b, cudnnFindConvolutionBackwardDataAlgorithm(
                                          c->cudnn, p->w, p->y, p->conv, p->x, N_ALGO, &got, perf))
                          : CU_DNN(b, cudnnGetConvolutionBackwardDataAlgorithm_v7(
                                          c->cudnn, p->w, p->y, p->conv, p->x, N_ALGO, &got, perf));
        if (!bad) TO_CANDIDATES(perf, got, cand);
    } else {
        cudnnConvolutionBwdFilterAlgoPerf_t perf[N_ALGO];
        bad = c->use_find ? CU_DNN(b, cudnnFindConvolutionBackwardFilterAlgorithm(
                                          c->cudnn, p->x, p->y, p->conv, p->w, N_ALGO, &got, perf))
                          : CU_DNN(b, cudnnGetConvolutionBackwardFilterAlgorithm_v7(
                                          c->cudnn, p->x, p->y, p->conv, p->w, N_ALGO, &got, perf));
        if (!bad) TO_CANDIDATES(perf, got, cand);
    }
    if (bad) return -1;
    const xfer_conv2d_desc *d = &p->d;
    int pass = 0, i = pick(cand, got, p->prec, &pass);
    if (i < 0) {
        xfer_cuda_record(b, XFER_EINTERNAL,
                         "cuDNN offers no %s algorithm within %zu MiB of workspace for conv n=%d "
                         "%dx%dx%d -> %d (k%dx%d s%d p%d)",
                         kind_name[k], WS_LIMIT >> 20, d->n, d->h, d->w, d->c, d->o, d->kh, d->kw,
                         d->stride, d->pad_h);
        return -1;
    }
    if (pass > 1)
        xfer_warn("cuDNN: conv %s n=%d %dx%dx%d -> %d (k%d s%d p%d) uses algorithm %d which is %s",
                  kind_name[k], d->n, d->h, d->w, d->c, d->o, d->kh, d->stride, d->pad_h,
                  cand[i].algo,
                  pass == 3 ? "not deterministic" : "not FMA-only (TF32 may be used in fp32)");
    p->algo[k] = cand[i].algo;
    p->math[k] = cand[i].math;
    p->ws[k] = cand[i].memory;
    xfer_debug("cuDNN: conv %s n=%d %dx%dx%d -> %d (k%d s%d p%d, %s): algorithm %d, math %d, "
               "workspace %zu bytes",
               kind_name[k], d->n, d->h, d->w, d->c, d->o, d->kh, d->stride, d->pad_h,
               p->prec == XFER_PREC_FP32   ? "fp32"
               : p->prec == XFER_PREC_TF32 ? "tf32"
                                           : "bf16",
               cand[i].algo, (int)cand[i].math, cand[i].memory);
    return 0;
}

/* Sets the plan's math type for kind k and returns the workspace (NULL + recorded on failure;
 * *ws_bytes 0 gives whatever pointer, possibly NULL, which cuDNN accepts). */
static int prepare(xfer_backend *b, conv_plan *p, conv_kind k, void **ws) {
    if (choose(b, p, k)) return -1;
    if (CU_DNN(b, cudnnSetConvolutionMathType(p->conv, p->math[k]))) return -1;
    *ws = NULL;
    if (p->ws[k]) {
        *ws = xfer_cuda_workspace(b, p->ws[k]);
        if (!*ws) return -1;
    }
    return 0;
}

static size_t nx(const xfer_conv2d_desc *d) {
    return (size_t)d->n * d->h * d->w * d->c;
}
static size_t ny(const xfer_conv2d_desc *d) {
    return (size_t)d->n * d->oh * d->ow * d->o;
}
static size_t nw(const xfer_conv2d_desc *d) {
    return (size_t)d->o * d->kh * d->kw * d->c;
}

/* bf16 scratch carved into three operands (each rounded to 256 bytes) */
static int lowp(xfer_backend *b, size_t n0, size_t n1, size_t n2, void **p0, void **p1, void **p2) {
    size_t a0 = (n0 * 2 + 255) / 256 * 256, a1 = (n1 * 2 + 255) / 256 * 256;
    size_t a2 = (n2 * 2 + 255) / 256 * 256;
    char *base = xfer_cuda_lowp_scratch(b, a0 + a1 + a2);
    if (!base) return -1;
    *p0 = base;
    *p1 = base + a0;
    *p2 = base + a0 + a1;
    return 0;
}

static void conv_fwd(xfer_backend *b, const xfer_conv2d_desc *d, const float *x, const float *w,
                     const float *bias, float *y) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    conv_plan *p = plan_for(b, d);
    void *ws;
    if (!p || prepare(b, p, CONV_FWD, &ws)) return;
    const float one = 1.0f, zero = 0.0f;
    cudnnConvolutionFwdAlgo_t algo = (cudnnConvolutionFwdAlgo_t)p->algo[CONV_FWD];
    if (p->prec == XFER_PREC_BF16) {
        void *xl, *wl, *yl;
        if (lowp(b, nx(d), nw(d), ny(d), &xl, &wl, &yl)) return;
        if (CU_LAUNCH(b, xk_f32_to_bf16(c->stream, nx(d), x, xl)) ||
            CU_LAUNCH(b, xk_f32_to_bf16(c->stream, nw(d), w, wl)) ||
            CU_DNN(b, cudnnConvolutionForward(c->cudnn, &one, p->x, xl, p->w, wl, p->conv, algo, ws,
                                              p->ws[CONV_FWD], &zero, p->y, yl)) ||
            CU_LAUNCH(b, xk_bf16_to_f32(c->stream, ny(d), yl, y, 0)))
            return;
    } else if (CU_DNN(b, cudnnConvolutionForward(c->cudnn, &one, p->x, x, p->w, w, p->conv, algo,
                                                 ws, p->ws[CONV_FWD], &zero, p->y, y))) {
        return;
    }
    if (bias) CU_LAUNCH(b, xk_add_rows(c->stream, (size_t)d->n * d->oh * d->ow, d->o, bias, y));
}

static void conv_bwd_data(xfer_backend *b, const xfer_conv2d_desc *d, const float *dy,
                          const float *w, float *dx) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    conv_plan *p = plan_for(b, d);
    void *ws;
    if (!p || prepare(b, p, CONV_BWD_DATA, &ws)) return;
    const float one = 1.0f, zero = 0.0f;
    cudnnConvolutionBwdDataAlgo_t algo = (cudnnConvolutionBwdDataAlgo_t)p->algo[CONV_BWD_DATA];
    if (p->prec == XFER_PREC_BF16) {
        void *dyl, *wl, *dxl;
        if (lowp(b, ny(d), nw(d), nx(d), &dyl, &wl, &dxl)) return;
        if (CU_LAUNCH(b, xk_f32_to_bf16(c->stream, ny(d), dy, dyl)) ||
            CU_LAUNCH(b, xk_f32_to_bf16(c->stream, nw(d), w, wl)) ||
            CU_DNN(b,
                   cudnnConvolutionBackwardData(c->cudnn, &one, p->w, wl, p->y, dyl, p->conv, algo,
                                                ws, p->ws[CONV_BWD_DATA], &zero, p->x, dxl)))
            return;
        CU_LAUNCH(b, xk_bf16_to_f32(c->stream, nx(d), dxl, dx, 0));
        return;
    }
    CU_DNN(b, cudnnConvolutionBackwardData(c->cudnn, &one, p->w, w, p->y, dy, p->conv, algo, ws,
                                           p->ws[CONV_BWD_DATA], &zero, p->x, dx));
}

static void conv_bwd_filter(xfer_backend *b, const xfer_conv2d_desc *d, const float *x,
                            const float *dy, float *dw, float *dbias) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    conv_plan *p = plan_for(b, d);
    void *ws;
    if (!p || prepare(b, p, CONV_BWD_FILTER, &ws)) return;
    const float one = 1.0f, zero = 0.0f;
    cudnnConvolutionBwdFilterAlgo_t algo =
        (cudnnConvolutionBwdFilterAlgo_t)p->algo[CONV_BWD_FILTER];
    if (p->prec == XFER_PREC_BF16) {
        void *xl, *dyl, *dwl;
        if (lowp(b, nx(d), ny(d), nw(d), &xl, &dyl, &dwl)) return;
        if (CU_LAUNCH(b, xk_f32_to_bf16(c->stream, nx(d), x, xl)) ||
            CU_LAUNCH(b, xk_f32_to_bf16(c->stream, ny(d), dy, dyl)) ||
            CU_DNN(b, cudnnConvolutionBackwardFilter(c->cudnn, &one, p->x, xl, p->y, dyl, p->conv,
                                                     algo, ws, p->ws[CONV_BWD_FILTER], &zero, p->w,
                                                     dwl)) ||
            CU_LAUNCH(b, xk_bf16_to_f32(c->stream, nw(d), dwl, dw, 1)))
            return;
    } else if (CU_DNN(b, cudnnConvolutionBackwardFilter(c->cudnn, &one, p->x, x, p->y, dy, p->conv,
                                                        algo, ws, p->ws[CONV_BWD_FILTER], &one,
                                                        p->w, dw))) {
        return; /* beta = 1: dw accumulates */
    }
    if (dbias) {
        size_t rows = (size_t)d->n * d->oh * d->ow;
        double *scr = xfer_cuda_reduce_scratch(b, xk_colsum_scratch(rows, d->o));
        if (scr) CU_LAUNCH(b, xk_colsum_add(c->stream, rows, d->o, dy, dbias, scr));
    }
}

void xfer_cuda_install_conv(xfer_backend *b) {
    b->conv2d_forward = conv_fwd;
    b->conv2d_backward_data = conv_bwd_data;
    b->conv2d_backward_filter = conv_bwd_filter;
}
