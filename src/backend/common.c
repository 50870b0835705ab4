/* Backend-independent pieces of the backend contract: descriptor shapes, dropout's RNG and the
 * choice of backend at start-up. */
#include <stdlib.h>

#include "xfer/backend.h"

void xfer_conv2d_desc_init(xfer_conv2d_desc *d) {
    if (d->groups < 1) d->groups = 1;
    d->oh = (d->h + 2 * d->pad_h - d->kh) / d->stride + 1;
    d->ow = (d->w + 2 * d->pad_w - d->kw) / d->stride + 1;
}

/* torch's pooling_output_shape (dilation 1) */
static int pool_out(int size, int k, int stride, int pad, int ceil_mode) {
    int span = size + 2 * pad - k;
    if (span < 0) return 0;
    int o = (span + (ceil_mode ? stride - 1 : 0)) / stride + 1;
    if (ceil_mode && (o - 1) * stride >= size + pad) o--;
    return o;
}

void xfer_pool2d_desc_init(xfer_pool2d_desc *d) {
    d->oh = pool_out(d->h, d->k, d->stride, d->pad, d->ceil_mode);
    d->ow = pool_out(d->w, d->k, d->stride, d->pad, d->ceil_mode);
}

uint64_t xfer_splitmix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float xfer_dropout_uniform(uint64_t seed, uint64_t counter) {
    uint64_t z = xfer_splitmix64(seed ^ (0x9E3779B97F4A7C15ull * (counter + 1)));
    return (float)(z >> 40) * (1.0f / 16777216.0f);
}

xfer_backend *xfer_backend_get(xfer_device_kind kind, xfer_err *err) {
    if (kind == XFER_DEVICE_CPU) return xfer_backend_cpu_create(err);
    if (kind == XFER_DEVICE_CUDA) return xfer_backend_cuda_create(err);
    /* auto: CUDA when it can be used, else the CPU */
    xfer_err quiet;
    xfer_err_clear(&quiet);
    xfer_backend *b = xfer_backend_cuda_create(&quiet);
    return b ? b : xfer_backend_cpu_create(err);
}

void xfer_backend_release(xfer_backend *b) {
    if (b && b->destroy) b->destroy(b);
}
