/* The compute backend: ONE table of function pointers chosen once at start-up. The nn code calls
 * only these; it never dereferences a tensor pointer itself, so the same model code runs on the CPU
 * (src/backend/cpu, the readable oracle) and on CUDA (src/backend/cuda + the kernels).
 *
 * Conventions (binding for every backend; see docs/engine.md):
 * - Layout: activations are NHWC float32, contiguous ([N][H][W][C]). Convolution filters are OHWI
 *   ([O][kh][kw][I], cuDNN's NHWC filter format). Linear weights are [out][in]. A 2-D activation
 *   [N][F] is an NHWC tensor with H = W = 1.
 * - Every pointer passed to an op or to free/memset/copy is backend memory from alloc(), except
 *   the host side of upload()/download(). Sizes are in elements unless the name says bytes.
 * - Parameter gradients (dw, db, dgamma, dbeta) ACCUMULATE (+=): the model zeroes its flat
 *   gradient buffer once per step. Activation gradients (dx) are OVERWRITTEN.
 * - Ops are void: a backend that can fail at run time (CUDA) records the first failure and
 *   reports it from check(); the CPU backend never fails once shapes are valid (the nn code
 *   validates shapes before calling). Ops may run asynchronously; download() and sync() wait.
 * - Determinism: the same inputs, seed and thread count give bitwise the same outputs.
 * - Labels and predicted classes are int32 in backend memory.
 */
#ifndef XFER_BACKEND_H
#define XFER_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "xfer/config.h"
#include "xfer/error.h"

/* Torch's defaults, used by the models and by `xfer step`. */
#define XFER_BN_MOMENTUM 0.1f /* torch.nn.BatchNorm2d(momentum=0.1) */
#define XFER_BN_EPS 1e-5f     /* torch.nn.BatchNorm2d(eps=1e-5) */

/* 2-D convolution over NHWC input x [n][h][w][c] with OHWI filter [o][kh][kw][c/groups], output
 * y [n][oh][ow][o], oh = (h + 2*pad_h - kh) / stride + 1, ow = (w + 2*pad_w - kw) / stride + 1.
 * Zero padding, no dilation. groups (0 reads as 1) divides c and o; output channel j reads input
 * channels [g*c/groups, (g+1)*c/groups) with g = j / (o/groups) (torch's grouping). Every backend
 * runs groups == 1 and depthwise groups == c == o; other group counts are refused by the model
 * builder (no supported architecture uses them; the CUDA backend would run them). */
typedef struct {
    int n, h, w, c;           /* input */
    int o, kh, kw;            /* filter */
    int stride, pad_h, pad_w; /* stride the same in both directions */
    int groups;
    int oh, ow; /* output (filled by xfer_conv2d_desc_init) */
} xfer_conv2d_desc;

/* Max and average pooling (k x k, stride, padding) over NHWC. Max: padded cells never win; ties:
 * the first maximum in row-major window order wins (torch's CPU semantics). Average: the sum over
 * the window's cells inside the input divided by the window's cell count clipped to the padded
 * input (count_include_pad, torch's rule: padding counts, cells past it in ceil mode do not) or to
 * the input itself (!count_include_pad). ceil_mode: torch's output size
 *   oh = ceil((h + 2*pad - k) / stride) + 1, minus 1 when the last window would start at or past
 *   h + pad;  otherwise floor. */
typedef struct {
    int n, h, w, c;
    int k, stride, pad;
    int oh, ow; /* filled by xfer_pool2d_desc_init */
    int ceil_mode, count_include_pad;
} xfer_pool2d_desc;

void xfer_conv2d_desc_init(xfer_conv2d_desc *d);
void xfer_pool2d_desc_init(xfer_pool2d_desc *d);

/* Dropout's counter-based RNG (the same on every backend, so masks agree bit for bit): element i
 * of a call with (seed, offset) keeps its value iff u >= p, where
 *   u = (splitmix64(seed ^ (0x9E3779B97F4A7C15 * (offset + i + 1))) >> 40) * 2^-24
 * and splitmix64 is Steele et al.'s finaliser (z += 0x9E3779B97F4A7C15; z ^= z>>30; z *=
 * 0xBF58476D1CE4E5B9; z ^= z>>27; z *= 0x94D049BB133111EB; z ^= z>>31). Kept values are scaled by
 * 1/(1-p). */
uint64_t xfer_splitmix64(uint64_t z);
float xfer_dropout_uniform(uint64_t seed, uint64_t counter); /* u for counter = offset + i */

typedef struct xfer_backend xfer_backend;

struct xfer_backend {
    const char *name;      /* "cpu", "cuda" */
    xfer_device_kind kind; /* XFER_DEVICE_CPU or XFER_DEVICE_CUDA */
    void *ctx;             /* private state (workspaces, library handles) */

    /* ---- lifetime, errors ---------------------------------------------------------------- */
    /* Frees everything the backend holds (not the memory it handed out). */
    void (*destroy)(xfer_backend *b);
    /* Returns XFER_OK, or the first failure recorded since the last check (then clears it). */
    int (*check)(xfer_backend *b, xfer_err *err);
    /* Waits for all queued work; returns as check(). */
    int (*sync)(xfer_backend *b, xfer_err *err);
    /* Threads for host-parallel loops (CPU: the OpenMP team; OpenBLAS runs single-threaded inside
     * it); <= 0 leaves the default. */
    void (*set_threads)(xfer_backend *b, int threads);

    /* ---- memory ---------------------------------------------------------------------------- */
    /* Returns NULL and fills err (naming `what` and the size) on failure. Memory is 64-byte
     * aligned and uninitialised. */
    void *(*alloc)(xfer_backend *b, size_t bytes, const char *what, xfer_err *err);
    void (*free)(xfer_backend *b, void *p); /* NULL is fine */
    /* host_src may be reused as soon as upload returns. */
    void (*upload)(xfer_backend *b, void *dst, const void *host_src, size_t bytes);
    /* Waits for queued work before copying. */
    int (*download)(xfer_backend *b, void *host_dst, const void *src, size_t bytes, xfer_err *err);
    void (*memset0)(xfer_backend *b, void *dst, size_t bytes);
    void (*copy)(xfer_backend *b, void *dst, const void *src, size_t bytes);

    /* ---- convolution --------------------------------------------------------------------- */
    /* y = conv(x, w) + bias (bias [o] may be NULL). */
    void (*conv2d_forward)(xfer_backend *b, const xfer_conv2d_desc *d, const float *x,
                           const float *w, const float *bias, float *y);
    /* dx = conv_transpose(dy, w), overwritten. */
    void (*conv2d_backward_data)(xfer_backend *b, const xfer_conv2d_desc *d, const float *dy,
                                 const float *w, float *dx);
    /* dw += correlation of x and dy; dbias += sum of dy over n, oh, ow (dbias may be NULL). */
    void (*conv2d_backward_filter)(xfer_backend *b, const xfer_conv2d_desc *d, const float *x,
                                   const float *dy, float *dw, float *dbias);

    /* ---- batch normalisation over m = n*h*w rows of c channels ---------------------------- */
    /* Training: normalise with the batch mean and biased variance; update running_mean/var with
     * momentum (running = (1-momentum)*running + momentum*stat, the unbiased variance m/(m-1) for
     * running_var); save mean and invstd = 1/sqrt(var_biased + eps) [c] for backward. */
    void (*batchnorm_forward_train)(xfer_backend *b, int m, int c, const float *x,
                                    const float *gamma, const float *beta, float *running_mean,
                                    float *running_var, float momentum, float eps, float *y,
                                    float *save_mean, float *save_invstd);
    /* Inference: normalise with the running statistics; also fills save_mean = running_mean and
     * save_invstd = 1/sqrt(running_var + eps) so that backward (batch_stats = 0) can run. */
    void (*batchnorm_forward_eval)(xfer_backend *b, int m, int c, const float *x,
                                   const float *gamma, const float *beta, const float *running_mean,
                                   const float *running_var, float eps, float *y, float *save_mean,
                                   float *save_invstd);
    /* dx overwritten; dgamma += sum(dy * xhat), dbeta += sum(dy). batch_stats = 1 after a
     * training forward (the statistics depend on x), 0 after an eval forward (constants). */
    void (*batchnorm_backward)(xfer_backend *b, int m, int c, const float *x, const float *dy,
                               const float *gamma, const float *save_mean, const float *save_invstd,
                               int batch_stats, float *dx, float *dgamma, float *dbeta);
    /* The backward of y = relu(BN(x)) in one op (relu_y: that y, from the in-place ReLU's output;
     * NULL: BN alone), dy = dL/dy: as batchnorm_backward with dy masked where relu_y <= 0 and,
     * when accumulate, dx += the gradient instead of dx = (a slot that already holds one). dy may
     * be overwritten with the masked gradient. */
    void (*batchnorm_relu_backward)(xfer_backend *b, int m, int c, const float *x,
                                    const float *relu_y, float *dy, const float *gamma,
                                    const float *save_mean, const float *save_invstd,
                                    int batch_stats, int accumulate, float *dx, float *dgamma,
                                    float *dbeta);

    /* ---- elementwise ------------------------------------------------------------------------ */
    void (*relu_forward)(xfer_backend *b, size_t n, const float *x, float *y); /* y may be x */
    /* dx = dy where y > 0 else 0, from the OUTPUT y (so the forward may run in place); dx may
     * be dy. */
    void (*relu_backward)(xfer_backend *b, size_t n, const float *y, const float *dy, float *dx);
    /* y = a + c (residual add); y may alias a or c. */
    void (*add)(xfer_backend *b, size_t n, const float *a, const float *c, float *y);
    /* ReLU6 (min(max(x, 0), 6)); backward from the output y: dx = dy where 0 < y < 6 else 0.
     * y may be x, dx may be dy. */
    void (*relu6_forward)(xfer_backend *b, size_t n, const float *x, float *y);
    void (*relu6_backward)(xfer_backend *b, size_t n, const float *y, const float *dy, float *dx);
    /* y[r][j] = x[r][j] * scale[j] + shift[j] over rows r < m of c channels (shift may be NULL:
     * 0); scale and shift are backend memory [c]. torchvision's transform_input, and (shift NULL)
     * its backward. y may be x. */
    void (*channel_affine)(xfer_backend *b, int m, int c, const float *x, const float *scale,
                           const float *shift, float *y);
    /* Strided 2-D copy of rows x cols floats: dst[r*dst_ld + j] = src[r*src_ld + j]. Channel
     * concatenation in NHWC writes each input into its channel slice (dst offset by the slice's
     * first channel, dst_ld the total channels); its backward reads the slices back out. */
    void (*copy_strided)(xfer_backend *b, size_t rows, int cols, const float *src, int src_ld,
                         float *dst, int dst_ld);
    /* Dropout with probability p (0 <= p < 1) using the RNG above; mask [n] records kept
     * elements (1/0) for backward. p == 0 copies x to y and sets the mask to 1. */
    void (*dropout_forward)(xfer_backend *b, size_t n, float p, uint64_t seed, uint64_t offset,
                            const float *x, float *y, uint8_t *mask);
    void (*dropout_backward)(xfer_backend *b, size_t n, float p, const uint8_t *mask,
                             const float *dy, float *dx);

    /* ---- pooling ---------------------------------------------------------------------------- */
    void (*maxpool2d_forward)(xfer_backend *b, const xfer_pool2d_desc *d, const float *x, float *y);
    /* dx overwritten: each dy goes to the first maximum of its window in x. */
    void (*maxpool2d_backward)(xfer_backend *b, const xfer_pool2d_desc *d, const float *x,
                               const float *y, const float *dy, float *dx);
    /* Average pooling k x k / stride / pad (xfer_pool2d_desc: ceil_mode, count_include_pad);
     * backward: dx overwritten, each dy spread evenly over its window's input cells with the
     * forward's divisor. */
    void (*avgpool2d_forward)(xfer_backend *b, const xfer_pool2d_desc *d, const float *x, float *y);
    void (*avgpool2d_backward)(xfer_backend *b, const xfer_pool2d_desc *d, const float *dy,
                               float *dx);
    /* Adaptive average pool NHWC [n][h][w][c] -> [n][oh][ow][c], torch's bins: rows
     * floor(i*h/oh) .. ceil((i+1)*h/oh) - 1 (same for columns). */
    void (*adaptive_avgpool_forward)(xfer_backend *b, int n, int h, int w, int c, int oh, int ow,
                                     const float *x, float *y);
    void (*adaptive_avgpool_backward)(xfer_backend *b, int n, int h, int w, int c, int oh, int ow,
                                      const float *dy, float *dx);

    /* ---- linear ----------------------------------------------------------------------------- */
    /* y[n][out] = x[n][in] * W^T + bias (bias may be NULL). */
    void (*linear_forward)(xfer_backend *b, int n, int in, int out, const float *x, const float *w,
                           const float *bias, float *y);
    /* dx overwritten (may be NULL: not needed); dw += dy^T x; dbias += column sums of dy. */
    void (*linear_backward)(xfer_backend *b, int n, int in, int out, const float *x, const float *w,
                            const float *dy, float *dx, float *dw, float *dbias);

    /* ---- loss, scoring ---------------------------------------------------------------------- */
    /* Fused, numerically stable softmax + cross-entropy, mean over the batch:
     * loss[0] = -(1/n) sum_i log softmax(logits_i)[labels_i]; dlogits = (softmax - onehot) / n.
     * Labels must be in [0, k) (checked by the caller). loss and dlogits are backend memory;
     * dlogits may be NULL. */
    void (*softmax_xent)(xfer_backend *b, int n, int k, const float *logits, const int32_t *labels,
                         float *loss, float *dlogits);
    /* probs[n][k] = softmax(logits) (may alias logits). */
    void (*softmax)(xfer_backend *b, int n, int k, const float *logits, float *probs);
    /* pred[i] = argmax_j logits[i][j] (first maximum). */
    void (*argmax)(xfer_backend *b, int n, int k, const float *logits, int32_t *pred);
    /* correct[0] += number of rows whose argmax equals the label (a float so it can be
     * accumulated on the device over an epoch without host synchronisation). */
    void (*count_correct)(xfer_backend *b, int n, int k, const float *logits, const int32_t *labels,
                          float *correct);

    /* ---- optimiser -------------------------------------------------------------------------- */
    /* torch.optim.SGD over a flat buffer of n parameters, dampening 0:
     *   g = grad + wd * p;  if momentum != 0: buf = first_step ? g : momentum * buf + g;
     *   g = nesterov ? g + momentum * buf : buf;  p -= lr * g.
     * momentum_buf may be NULL when momentum == 0. */
    void (*sgd_update)(xfer_backend *b, size_t n, float *params, const float *grads,
                       float *momentum_buf, float lr, float momentum, float weight_decay,
                       int nesterov, int first_step);

    /* ---- layout ----------------------------------------------------------------------------- */
    void (*nchw_to_nhwc)(xfer_backend *b, int n, int c, int h, int w, const float *src, float *dst);
    void (*nhwc_to_nchw)(xfer_backend *b, int n, int c, int h, int w, const float *src, float *dst);

    /* ---- a training step without host synchronisation (xfer_model_train_step_dev) ---------- */
    /* y[i] += alpha * x[i] for i < n (float): the epoch's device-side loss and accuracy sums. */
    void (*axpy)(xfer_backend *b, size_t n, float alpha, const float *x, float *y);
    /* sgd_update with the learning rate read from backend memory lr[0] when the op runs (so one
     * captured CUDA graph serves every epoch of a StepLR schedule); bitwise the same as
     * sgd_update with that value. */
    void (*sgd_update_dev)(xfer_backend *b, size_t n, float *params, const float *grads,
                           float *momentum_buf, const float *lr, float momentum, float weight_decay,
                           int nesterov, int first_step);

    /* ---- recorded op sequences (CUDA graphs); NULL where unsupported or switched off -------- */
    /* capture_begin: the ops enqueued until capture_end are recorded, not run (nothing may
     * allocate, synchronise or download in between). capture_end returns the recording in *out
     * (an opaque handle) or fails, leaving no error behind in check(): the caller may run the
     * same ops uncaptured instead. graph_valid: 0 when backend scratch memory the recording
     * refers to has been replaced since (grow-only buffers grew): re-record. graph_launch runs
     * the recording asynchronously; graph_free releases it (NULL is fine). */
    int (*capture_begin)(xfer_backend *b, xfer_err *err);
    int (*capture_end)(xfer_backend *b, void **out, xfer_err *err);
    int (*graph_valid)(xfer_backend *b, const void *graph);
    int (*graph_launch)(xfer_backend *b, void *graph, xfer_err *err);
    void (*graph_free)(xfer_backend *b, void *graph);
};

/* Returns the backend for a device kind (AUTO: CUDA when compiled in and a device is present,
 * else CPU). The CPU backend is always available; CUDA fails with XFER_EINPUT and a message
 * ("not available in this build" / "no CUDA device") when it cannot be used. The caller owns the
 * result and releases it with xfer_backend_release(). */
xfer_backend *xfer_backend_get(xfer_device_kind kind, xfer_err *err);
void xfer_backend_release(xfer_backend *b);

/* Constructors, one per backend (the CUDA one lives in src/backend/cuda or the nocuda stub). */
xfer_backend *xfer_backend_cpu_create(xfer_err *err);
xfer_backend *xfer_backend_cuda_create(xfer_err *err);

#endif
