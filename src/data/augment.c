/* The per-image transform of the batcher (see batcher.h): RandomResizedCrop + flip for training,
 * centre crop for evaluation, then normalization. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xfer/batcher.h"
#include "xfer/data.h"
#include "xfer/image.h"

#define RRC_ATTEMPTS 10 /* torchvision's RandomResizedCrop.get_params */
#define RRC_RATIO_MIN (3.0 / 4.0)
#define RRC_RATIO_MAX (4.0 / 3.0)
#define FLIP_COUNTER 1000 /* counter of the flip draw, after the crop's draws */

/* randint(0, n) for n >= 1: uniform in [0, n) */
static int rand_below(uint64_t key, uint64_t ctr, int n) {
    return (int)(xfer_rng_u64(key, ctr) % (uint64_t)n);
}

void xfer_rrc_params(uint64_t key, int H, int W, double scale_min, int *oi, int *oj, int *oh,
                     int *ow) {
    double area = (double)H * W;
    double lr0 = log(RRC_RATIO_MIN), lr1 = log(RRC_RATIO_MAX);
    for (int a = 0; a < RRC_ATTEMPTS; a++) {
        double target = area * (scale_min + (1.0 - scale_min) * xfer_rng_uniform(key, 4 * a));
        double aspect = exp(lr0 + (lr1 - lr0) * xfer_rng_uniform(key, 4 * a + 1));
        /* Python's round(): half to even, as nearbyint in the default rounding mode */
        int w = (int)nearbyint(sqrt(target * aspect));
        int h = (int)nearbyint(sqrt(target / aspect));
        if (w > 0 && w <= W && h > 0 && h <= H) {
            *oi = rand_below(key, 4 * a + 2, H - h + 1);
            *oj = rand_below(key, 4 * a + 3, W - w + 1);
            *oh = h;
            *ow = w;
            return;
        }
    }
    double in_ratio = (double)W / H;
    int w, h;
    if (in_ratio < RRC_RATIO_MIN) {
        w = W;
        h = (int)nearbyint(w / RRC_RATIO_MIN);
    } else if (in_ratio > RRC_RATIO_MAX) {
        h = H;
        w = (int)nearbyint(h * RRC_RATIO_MAX);
    } else {
        w = W;
        h = H;
    }
    *oi = (H - h) / 2;
    *oj = (W - w) / 2;
    *oh = h;
    *ow = w;
}

int xfer_augment_image(const uint8_t *src, int S, const xfer_batcher_opts *o, int epoch, int idx,
                       float *dst, int crop_out[5]) {
    int T = o->image_size;
    uint8_t *tmp = malloc((size_t)T * T * 3);
    if (!tmp) return XFER_EINTERNAL;
    uint64_t key = xfer_rng_key(o->seed, (uint64_t)epoch + 1, (uint64_t)idx);
    int ci, cj, ch, cw, flip = 0;
    int rc = XFER_OK;
    if (o->train && o->random_resized_crop) {
        xfer_rrc_params(key, S, S, o->crop_scale_min, &ci, &cj, &ch, &cw);
        rc = xfer_resample_rgb(src, S, S, cj, ci, cj + cw, ci + ch, T, T, 0, 0, T, T, tmp);
    } else if (S >= T) {
        ci = cj = (int)nearbyint((S - T) / 2.0);
        ch = cw = T;
        for (int y = 0; y < T; y++)
            memcpy(tmp + (size_t)y * T * 3, src + ((size_t)(ci + y) * S + cj) * 3, (size_t)T * 3);
    } else {
        ci = cj = 0;
        ch = cw = S;
        rc = xfer_resample_rgb(src, S, S, 0, 0, S, S, T, T, 0, 0, T, T, tmp);
    }
    if (o->train && o->hflip) flip = xfer_rng_uniform(key, FLIP_COUNTER) < 0.5;
    if (rc == XFER_OK) {
        float scale[3], shift[3];
        for (int c = 0; c < 3; c++) {
            scale[c] = 1.0f / (255.0f * o->std[c]);
            shift[c] = -o->mean[c] / o->std[c];
        }
        for (int y = 0; y < T; y++) {
            const uint8_t *in = tmp + (size_t)y * T * 3;
            float *out = dst + (size_t)y * T * 3;
            for (int x = 0; x < T; x++) {
                int sx = flip ? T - 1 - x : x;
                for (int c = 0; c < 3; c++)
                    out[3 * x + c] = in[3 * sx + c] * scale[c] + shift[c];
            }
        }
    }
    free(tmp);
    if (crop_out) {
        crop_out[0] = ci, crop_out[1] = cj, crop_out[2] = ch, crop_out[3] = cw;
        crop_out[4] = flip;
    }
    return rc;
}
