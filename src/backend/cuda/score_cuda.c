/* Host wrappers of the score kernels (include/xfer/cuda_backend.h): inputs may be host or device
 * memory (asked of the runtime), outputs go to the host. Temporary device buffers are freed on
 * every path. */
#include <stdlib.h>
#include <string.h>

#include "cuda_internal.h"
#include "cuda_kernels.h"
#include "xfer/cuda_backend.h"

#define MAX_TMP 8

typedef struct {
    xfer_backend *b;
    void *p[MAX_TMP];
    int n;
} tmp_set;

static int is_cuda(xfer_backend *b, const char *fn, xfer_err *err) {
    if (b && b->kind == XFER_DEVICE_CUDA && b->ctx) return 1;
    xfer_fail(err, XFER_EINPUT, "%s: needs the CUDA backend", fn);
    return 0;
}

static void *tmp_alloc(tmp_set *t, size_t bytes, const char *what, xfer_err *err) {
    void *p = xfer_cuda_malloc(t->b, bytes, what, err);
    if (p) t->p[t->n++] = p;
    return p;
}

static void tmp_free(tmp_set *t) {
    cudaStreamSynchronize(xfer_cuda_ctx(t->b)->stream);
    for (int i = 0; i < t->n; i++)
        cudaFree(t->p[i]);
    t->n = 0;
}

static int on_device(const void *p) {
    struct cudaPointerAttributes a;
    if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged;
}

/* A device view of p (bytes long): p itself, or a temporary copy. */
static const void *dev_view(tmp_set *t, const void *p, size_t bytes, const char *what,
                            xfer_err *err) {
    if (!p || on_device(p)) return p;
    void *d = tmp_alloc(t, bytes, what, err);
    if (!d) return NULL;
    if (CU_RT(t->b,
              cudaMemcpyAsync(d, p, bytes, cudaMemcpyHostToDevice, xfer_cuda_ctx(t->b)->stream)))
        return NULL;
    return d;
}

/* Synchronises, frees the temporaries and returns the backend's status. */
static int finish(tmp_set *t, int status, xfer_err *err) {
    tmp_free(t);
    int s = t->b->check(t->b, status == XFER_OK ? err : NULL);
    return status != XFER_OK ? status : s;
}

static int fetch(xfer_backend *b, void *host, const void *dev, size_t bytes) {
    return CU_RT(
        b, cudaMemcpyAsync(host, dev, bytes, cudaMemcpyDeviceToHost, xfer_cuda_ctx(b)->stream));
}

int xfer_cuda_softmax_max(xfer_backend *b, int n, int k, const float *logits, float *probs_out,
                          double *rowmax, xfer_err *err) {
    if (!is_cuda(b, "softmax_max", err)) return XFER_EINPUT;
    if (n <= 0 || k <= 0) return xfer_fail(err, XFER_EINPUT, "softmax_max: empty %dx%d", n, k);
    tmp_set t = {.b = b};
    cudaStream_t s = xfer_cuda_ctx(b)->stream;
    size_t nk = (size_t)n * k;
    const float *dl = dev_view(&t, logits, nk * sizeof(float), "logits", err);
    float *dp = probs_out ? tmp_alloc(&t, nk * sizeof(float), "probabilities", err) : NULL;
    double *dm = tmp_alloc(&t, (size_t)n * sizeof(double), "row maxima", err);
    if (!dl || (probs_out && !dp) || !dm) return finish(&t, err ? err->code : XFER_EINTERNAL, err);
    if (!CU_LAUNCH(b, xk_softmax_rowmax(s, n, k, dl, dp, dm)) && probs_out)
        fetch(b, probs_out, dp, nk * sizeof(float));
    fetch(b, rowmax, dm, (size_t)n * sizeof(double));
    return finish(&t, XFER_OK, err);
}

int xfer_cuda_emd_onehot(xfer_backend *b, int n, int S, int T, const float *theta, const double *D,
                         const int32_t *labels, double *out, xfer_err *err) {
    if (!is_cuda(b, "emd_onehot", err)) return XFER_EINPUT;
    if (n <= 0 || S <= 0 || T <= 0)
        return xfer_fail(err, XFER_EINPUT, "emd_onehot: empty problem n=%d S=%d T=%d", n, S, T);
    tmp_set t = {.b = b};
    const float *dt = dev_view(&t, theta, (size_t)n * S * sizeof(float), "theta", err);
    const double *dd = dt ? dev_view(&t, D, (size_t)S * T * sizeof(double), "cost matrix", err) : 0;
    const int32_t *dl = dd ? dev_view(&t, labels, (size_t)n * sizeof(int32_t), "labels", err) : 0;
    double *dout = dl ? tmp_alloc(&t, (size_t)n * sizeof(double), "EMD values", err) : NULL;
    if (!dout) return finish(&t, err ? err->code : XFER_EINTERNAL, err);
    if (!CU_LAUNCH(b, xk_emd_onehot(xfer_cuda_ctx(b)->stream, n, S, T, dt, dd, dl, dout)))
        fetch(b, out, dout, (size_t)n * sizeof(double));
    return finish(&t, XFER_OK, err);
}

int xfer_cuda_sinkhorn(xfer_backend *b, int B, int S, int T, const double *a, const double *bh,
                       const double *D, double eps, int iters, double *out, xfer_err *err) {
    if (!is_cuda(b, "sinkhorn", err)) return XFER_EINPUT;
    if (B <= 0 || S <= 0 || T <= 0 || !(eps > 0) || iters < 0)
        return xfer_fail(err, XFER_EINPUT, "sinkhorn: bad problem B=%d S=%d T=%d eps=%g iters=%d",
                         B, S, T, eps, iters);
    tmp_set t = {.b = b};
    const double *da = dev_view(&t, a, (size_t)B * S * sizeof(double), "source histograms", err);
    const double *db =
        da ? dev_view(&t, bh, (size_t)B * T * sizeof(double), "target histograms", err) : 0;
    const double *dd = db ? dev_view(&t, D, (size_t)S * T * sizeof(double), "cost matrix", err) : 0;
    double *work = dd ? tmp_alloc(&t, (size_t)B * (S + T) * sizeof(double), "duals", err) : 0;
    double *dout = work ? tmp_alloc(&t, (size_t)B * sizeof(double), "costs", err) : NULL;
    if (!dout) return finish(&t, err ? err->code : XFER_EINTERNAL, err);
    if (!CU_LAUNCH(b, xk_sinkhorn_log(xfer_cuda_ctx(b)->stream, B, S, T, da, db, dd, eps, iters,
                                      dout, work)))
        fetch(b, out, dout, (size_t)B * sizeof(double));
    return finish(&t, XFER_OK, err);
}

int xfer_cuda_feature_stats(xfer_backend *b, int n, int F, const float *feats, int K,
                            const int32_t *labels, double *mean, double *cov, double *class_sums,
                            int *counts, xfer_err *err) {
    if (!is_cuda(b, "feature_stats", err)) return XFER_EINPUT;
    if (n <= 1 || F <= 0 || K < 0 || (K > 0 && !labels))
        return xfer_fail(err, XFER_EINPUT, "feature_stats: bad problem n=%d F=%d K=%d", n, F, K);
    cuda_ctx *c = xfer_cuda_ctx(b);
    tmp_set t = {.b = b};
    const float *dx = dev_view(&t, feats, (size_t)n * F * sizeof(float), "features", err);
    double *dmean = dx ? tmp_alloc(&t, (size_t)F * sizeof(double), "feature mean", err) : NULL;
    if (!dmean) return finish(&t, err ? err->code : XFER_EINTERNAL, err);
    if (CU_LAUNCH(b, xk_feature_mean(c->stream, n, F, dx, dmean))) return finish(&t, XFER_OK, err);
    if (mean) fetch(b, mean, dmean, (size_t)F * sizeof(double));
    if (cov) {
        double *xc = tmp_alloc(&t, (size_t)n * F * sizeof(double), "centred features", err);
        double *dc = xc ? tmp_alloc(&t, (size_t)F * F * sizeof(double), "covariance", err) : 0;
        if (!dc) return finish(&t, err ? err->code : XFER_EINTERNAL, err);
        /* row-major Xc [n][F] is column-major Xc^T (F x n); cov = Xc^T Xc = gemm(N, T) */
        double alpha = 1.0 / (n - 1), beta = 0.0;
        if (CU_LAUNCH(b, xk_center(c->stream, n, F, dx, dmean, xc)) ||
            CU_BLAS(b, cublasDgemm(c->cublas, CUBLAS_OP_N, CUBLAS_OP_T, F, F, n, &alpha, xc, F, xc,
                                   F, &beta, dc, F)))
            return finish(&t, XFER_OK, err);
        fetch(b, cov, dc, (size_t)F * F * sizeof(double)); /* symmetric: layout does not matter */
    }
    if (K > 0 && (class_sums || counts)) {
        const int32_t *dl = dev_view(&t, labels, (size_t)n * sizeof(int32_t), "labels", err);
        double *ds = dl ? tmp_alloc(&t, (size_t)K * F * sizeof(double), "class sums", err) : 0;
        int *dn = ds ? tmp_alloc(&t, (size_t)K * sizeof(int), "class counts", err) : NULL;
        if (!dn) return finish(&t, err ? err->code : XFER_EINTERNAL, err);
        if (CU_LAUNCH(b, xk_class_sums(c->stream, n, F, K, dx, dl, ds, dn)))
            return finish(&t, XFER_OK, err);
        if (class_sums) fetch(b, class_sums, ds, (size_t)K * F * sizeof(double));
        if (counts) fetch(b, counts, dn, (size_t)K * sizeof(int));
    }
    return finish(&t, XFER_OK, err);
}
