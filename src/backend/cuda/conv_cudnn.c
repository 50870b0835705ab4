/* Convolutions through cuDNN 9's legacy convolution API in NHWC (activations NHWC, filters OHWI =
 * cuDNN's NHWC filter format). Per shape and precision the descriptors and the three algorithms
 * are chosen once and cached: by default with the cudnnGet*_v7 heuristics (the same choice every
 * run), with XFER_CUDNN_FIND=1 by timed cudnnFind*. Only deterministic algorithms whose workspace
 * fits are taken, unless XFER_CUDNN_NONDETERMINISTIC=1 allows others (then with a warning); no
 * such algorithm is an error naming the convolution. fp32 takes only CUDNN_FMA_MATH algorithms (no
 * TF32, never silently); tf32 allows TF32; bf16 runs on bf16 copies of the operands with fp32
 * accumulation. An algorithm the heuristics offer that then fails synchronously at execution
 * (NOT_SUPPORTED, BAD_PARAM) is marked bad for that plan and the next candidate is used.
 *
 * bf16 with channel counts that are not a multiple of 8 (the stem's C = 3): the operands are not
 * padded. Whether cuDNN has a tensor-core algorithm for such a shape is decided on the device, at
 * run time: the chosen algorithm's math type is logged (debug), and when it is not a tensor-op one
 * a warning names the convolution once (it then runs on CUDA cores, still bf16 in, fp32
 * accumulate). */
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
    unsigned rejected[3]; /* bit a: algorithm a failed at execution for this plan and kind */
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
    if (bad) { /* not cached: a later call must not find it and take it for a valid plan */
        if (p->x) cudnnDestroyTensorDescriptor(p->x);
        if (p->y) cudnnDestroyTensorDescriptor(p->y);
        if (p->w) cudnnDestroyFilterDescriptor(p->w);
        if (p->conv) cudnnDestroyConvolutionDescriptor(p->conv);
        memset(p, 0, sizeof *p);
        return NULL;
    }
    pc->n++;
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

/* The first usable candidate: available, within the workspace limit, not rejected at execution,
 * in fp32 CUDNN_FMA_MATH only (anything else may use TF32); deterministic in pass 1, and only when
 * allow_nondet in pass 2. Returns its index or -1; *pass receives the pass that found it. */
static int pick(const candidate *c, int n, xfer_precision prec, unsigned rejected, int allow_nondet,
                int *pass) {
    for (int p = 1; p <= (allow_nondet ? 2 : 1); p++)
        for (int i = 0; i < n; i++) {
            if (c[i].status != CUDNN_STATUS_SUCCESS || c[i].memory > WS_LIMIT) continue;
            if (c[i].algo >= 0 && c[i].algo < 32 && (rejected >> c[i].algo & 1u)) continue;
            if (p == 1 && c[i].determinism != CUDNN_DETERMINISTIC) continue;
            if (prec == XFER_PREC_FP32 && c[i].math != CUDNN_FMA_MATH) continue;
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
    /* the descriptor's math type is shared by the three kinds: the previous kind's choice must
     * not restrict (or widen) what this query offers */
    if (CU_DNN(b, cudnnSetConvolutionMathType(p->conv, base_math(p->prec)))) return -1;
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
    int allow_nondet = c->allow_nondet;
    int pass = 0, i = pick(cand, got, p->prec, p->rejected[k], allow_nondet, &pass);
    if (i < 0) {
        xfer_cuda_record(b, XFER_EINTERNAL,
                         "cuDNN offers no %s%s algorithm within %zu MiB of workspace for conv n=%d "
                         "%dx%dx%d -> %d (k%dx%d s%d p%d)%s",
                         allow_nondet ? "" : "deterministic ",
                         p->prec == XFER_PREC_FP32 ? "FMA-math (no TF32)" : "", WS_LIMIT >> 20,
                         d->n, d->h, d->w, d->c, d->o, d->kh, d->kw, d->stride, d->pad_h,
                         allow_nondet ? "" : " (XFER_CUDNN_NONDETERMINISTIC=1 would allow others)");
        return -1;
    }
    if (pass > 1)
        xfer_warn("cuDNN: conv %s n=%d %dx%dx%d -> %d (k%d s%d p%d) uses algorithm %d, which is "
                  "not deterministic (XFER_CUDNN_NONDETERMINISTIC=1)",
                  kind_name[k], d->n, d->h, d->w, d->c, d->o, d->kh, d->stride, d->pad_h,
                  cand[i].algo);
    if (p->prec == XFER_PREC_BF16 && cand[i].math != CUDNN_TENSOR_OP_MATH &&
        cand[i].math != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
        xfer_warn("cuDNN: bf16 conv %s n=%d %dx%dx%d -> %d (k%d s%d p%d): no tensor-core "
                  "algorithm on this device (channels not a multiple of 8?), runs on CUDA cores",
                  kind_name[k], d->n, d->h, d->w, d->c, d->o, d->kh, d->stride, d->pad_h);
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

/* After executing kind k with the plan's algorithm: 0 done, -1 failed (recorded), 1 the algorithm
 * failed synchronously as not supported or a bad parameter although the heuristics offered it:
 * it is rejected for this plan and the caller tries the next candidate. cuDNN 9 groups its
 * statuses: 2000-2999 BAD_PARAM*, 3000-3999 NOT_SUPPORTED*. */
static int executed(xfer_backend *b, conv_plan *p, conv_kind k, cudnnStatus_t st, const char *call,
                    int line) {
    if (st == CUDNN_STATUS_SUCCESS) return 0;
    int family = (int)st / 1000;
    if ((family == 2 || family == 3) && p->algo[k] >= 0 && p->algo[k] < 32) {
        xfer_debug("cuDNN: conv %s algorithm %d failed at execution (%s): trying the next one",
                   kind_name[k], p->algo[k], cudnnGetErrorString(st));
        p->rejected[k] |= 1u << p->algo[k];
        p->algo[k] = -1;
        cudnnGetLastErrorString((char[512]){0}, 512); /* consume its message */
        return 1;
    }
    xfer_cuda_dnn_fail(b, st, call, __FILE__, line);
    return -1;
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
    if (!p) return;
    const float one = 1.0f, zero = 0.0f;
    const void *X = x, *W = w;
    void *Y = y, *xl = NULL, *wl = NULL, *yl = NULL;
    if (p->prec == XFER_PREC_BF16) {
        if (lowp(b, nx(d), nw(d), ny(d), &xl, &wl, &yl) ||
            CU_LAUNCH(b, xk_f32_to_bf16(c->stream, nx(d), x, xl)) ||
            CU_LAUNCH(b, xk_f32_to_bf16(c->stream, nw(d), w, wl)))
            return;
        X = xl, W = wl, Y = yl;
    }
    for (int r = 1; r == 1;) {
        if (prepare(b, p, CONV_FWD, &ws)) return;
        cudnnConvolutionFwdAlgo_t algo = (cudnnConvolutionFwdAlgo_t)p->algo[CONV_FWD];
        r = executed(b, p, CONV_FWD,
                     cudnnConvolutionForward(c->cudnn, &one, p->x, X, p->w, W, p->conv, algo, ws,
                                             p->ws[CONV_FWD], &zero, p->y, Y),
                     "cudnnConvolutionForward", __LINE__);
        if (r < 0) return;
    }
    if (yl && CU_LAUNCH(b, xk_bf16_to_f32(c->stream, ny(d), yl, y, 0))) return;
    if (bias) CU_LAUNCH(b, xk_add_rows(c->stream, (size_t)d->n * d->oh * d->ow, d->o, bias, y));
}

static void conv_bwd_data(xfer_backend *b, const xfer_conv2d_desc *d, const float *dy,
                          const float *w, float *dx) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    conv_plan *p = plan_for(b, d);
    void *ws;
    if (!p) return;
    const float one = 1.0f, zero = 0.0f;
    const void *DY = dy, *W = w;
    void *DX = dx, *dyl = NULL, *wl = NULL, *dxl = NULL;
    if (p->prec == XFER_PREC_BF16) {
        if (lowp(b, ny(d), nw(d), nx(d), &dyl, &wl, &dxl) ||
            CU_LAUNCH(b, xk_f32_to_bf16(c->stream, ny(d), dy, dyl)) ||
            CU_LAUNCH(b, xk_f32_to_bf16(c->stream, nw(d), w, wl)))
            return;
        DY = dyl, W = wl, DX = dxl;
    }
    for (int r = 1; r == 1;) {
        if (prepare(b, p, CONV_BWD_DATA, &ws)) return;
        cudnnConvolutionBwdDataAlgo_t algo = (cudnnConvolutionBwdDataAlgo_t)p->algo[CONV_BWD_DATA];
        r = executed(b, p, CONV_BWD_DATA,
                     cudnnConvolutionBackwardData(c->cudnn, &one, p->w, W, p->y, DY, p->conv, algo,
                                                  ws, p->ws[CONV_BWD_DATA], &zero, p->x, DX),
                     "cudnnConvolutionBackwardData", __LINE__);
        if (r < 0) return;
    }
    if (dxl) CU_LAUNCH(b, xk_bf16_to_f32(c->stream, nx(d), dxl, dx, 0));
}

static void conv_bwd_filter(xfer_backend *b, const xfer_conv2d_desc *d, const float *x,
                            const float *dy, float *dw, float *dbias) {
    cuda_ctx *c = xfer_cuda_ctx(b);
    conv_plan *p = plan_for(b, d);
    void *ws;
    if (!p) return;
    const float one = 1.0f, zero = 0.0f;
    const void *X = x, *DY = dy;
    void *DW = dw, *xl = NULL, *dyl = NULL, *dwl = NULL;
    if (p->prec == XFER_PREC_BF16) {
        if (lowp(b, nx(d), ny(d), nw(d), &xl, &dyl, &dwl) ||
            CU_LAUNCH(b, xk_f32_to_bf16(c->stream, nx(d), x, xl)) ||
            CU_LAUNCH(b, xk_f32_to_bf16(c->stream, ny(d), dy, dyl)))
            return;
        X = xl, DY = dyl, DW = dwl;
    }
    /* fp32: beta = 1, dw accumulates; bf16: into the bf16 copy (beta 0), accumulated below */
    const float *beta = dwl ? &zero : &one;
    for (int r = 1; r == 1;) {
        if (prepare(b, p, CONV_BWD_FILTER, &ws)) return;
        cudnnConvolutionBwdFilterAlgo_t algo =
            (cudnnConvolutionBwdFilterAlgo_t)p->algo[CONV_BWD_FILTER];
        r = executed(b, p, CONV_BWD_FILTER,
                     cudnnConvolutionBackwardFilter(c->cudnn, &one, p->x, X, p->y, DY, p->conv,
                                                    algo, ws, p->ws[CONV_BWD_FILTER], beta, p->w,
                                                    DW),
                     "cudnnConvolutionBackwardFilter", __LINE__);
        if (r < 0) return;
    }
    if (dwl && CU_LAUNCH(b, xk_bf16_to_f32(c->stream, nw(d), dwl, dw, 1))) return;
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
