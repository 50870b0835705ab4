/* synthetic datasets: deterministic labelled RGB images generated from (seed, class, index), for
 * tests and GPU timing without real data. A class is a shape (disc, square, triangle, ring) with a
 * texture (solid, stripes, checks) in its own colours on its own background; images vary in
 * position, size, stripe phase and pixel noise, so classes are learnable but not trivial. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"

static void hue_rgb(double hue, double sat, double val, double rgb[3]) {
    hue -= (int)hue;
    double h6 = hue * 6.0;
    int sector = (int)h6;
    double f = h6 - sector;
    double p = val * (1 - sat), q = val * (1 - sat * f), t = val * (1 - sat * (1 - f));
    double r, g, b;
    switch (sector % 6) {
    case 0:
        r = val, g = t, b = p;
        break;
    case 1:
        r = q, g = val, b = p;
        break;
    case 2:
        r = p, g = val, b = t;
        break;
    case 3:
        r = p, g = q, b = val;
        break;
    case 4:
        r = t, g = p, b = val;
        break;
    default:
        r = val, g = p, b = q;
        break;
    }
    rgb[0] = r * 255, rgb[1] = g * 255, rgb[2] = b * 255;
}

static int inside(int shape, double dx, double dy, double r) {
    double ax = dx < 0 ? -dx : dx, ay = dy < 0 ? -dy : dy;
    switch (shape) {
    case 0:
        return dx * dx + dy * dy <= r * r;
    case 1:
        return ax <= r * 0.85 && ay <= r * 0.85;
    case 2:
        return dy <= r * 0.8 && dy >= -r && ax <= (dy + r) * 0.6;
    default: {
        double d2 = dx * dx + dy * dy;
        return d2 <= r * r && d2 >= r * r * 0.36;
    }
    }
}

void xfer_synthetic_image(uint64_t seed, int label, int n_classes, int i, int size, uint8_t *out) {
    (void)n_classes;
    uint64_t ckey = xfer_rng_key(seed, 0xc1a55ULL, (uint64_t)label);
    uint64_t ikey = xfer_rng_key(seed, (uint64_t)label, (uint64_t)i + 1);
    int shape = label % 4, texture = (label / 4) % 3;
    double bg[3], fg[3], fg2[3];
    double hue = xfer_rng_uniform(ckey, 0);
    hue_rgb(hue, 0.25 + 0.3 * xfer_rng_uniform(ckey, 1), 0.35 + 0.4 * xfer_rng_uniform(ckey, 2),
            bg);
    hue_rgb(hue + 0.33 + 0.33 * xfer_rng_uniform(ckey, 3), 0.8, 0.95, fg);
    hue_rgb(hue + 0.66, 0.6, 0.3, fg2);
    int period = 3 + (int)(xfer_rng_uniform(ckey, 4) * 6);
    double cx = size * (0.35 + 0.3 * xfer_rng_uniform(ikey, 0));
    double cy = size * (0.35 + 0.3 * xfer_rng_uniform(ikey, 1));
    double r = size * (0.2 + 0.15 * xfer_rng_uniform(ikey, 2));
    int phase = (int)(xfer_rng_uniform(ikey, 3) * period * 2);
    double shade = 0.85 + 0.3 * xfer_rng_uniform(ikey, 4);
    for (int y = 0; y < size; y++) {
        for (int x = 0; x < size; x++) {
            const double *c = bg;
            if (inside(shape, x - cx, y - cy, r)) {
                int on = 1;
                if (texture == 1) on = ((x + y + phase) / period) % 2 == 0;
                if (texture == 2) on = (((x + phase) / period) + ((y + phase) / period)) % 2 == 0;
                c = on ? fg : fg2;
            }
            uint64_t rnd = xfer_rng_u64(ikey, (uint64_t)(y * size + x) + 16);
            for (int k = 0; k < 3; k++) {
                double v = c[k] * shade + (double)((int)((rnd >> (8 * k)) & 31) - 16);
                out[((size_t)y * size + x) * 3 + k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    }
}

int xfer_scan_synthetic(const xfer_dataset_cfg *cfg, xfer_dataset *ds, xfer_err *err) {
    int nc = cfg->synthetic_classes, per = cfg->synthetic_per_class;
    if (nc <= 0 || per <= 0)
        return xfer_fail(err, XFER_EINPUT,
                         "dataset %s: synthetic needs classes > 0 and per_class > 0 (got %d, %d)",
                         cfg->name, nc, per);
    if (cfg->max_per_class > 0 && per > cfg->max_per_class) per = cfg->max_per_class;
    char **names = calloc((size_t)nc, sizeof *names);
    int *keep = calloc((size_t)nc, sizeof *keep);
    int rc = XFER_OK;
    if (!names || !keep) {
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
        goto done;
    }
    for (int c = 0; c < nc; c++) {
        char b[32];
        snprintf(b, sizeof b, "class%03d", c);
        if (!(names[c] = strdup(b))) {
            rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
            goto done;
        }
    }
    rc = xfer_select_classes(cfg, names, names, nc, keep, "synthetic", err);
    if (rc != XFER_OK) goto done;
    int k = 0;
    for (int c = 0; c < nc; c++)
        k += keep[c];
    ds->class_names = calloc((size_t)k, sizeof(char *));
    ds->class_dirs = calloc((size_t)k, sizeof(char *));
    if (!ds->class_names || !ds->class_dirs) {
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
        goto done;
    }
    ds->n_classes = k;
    rc = xfer_dataset_alloc_items(ds, k * per, 0, err);
    if (rc != XFER_OK) goto done;
    ds->synth_size = cfg->synthetic_size;
    ds->synth_seed = cfg->synthetic_seed;
    ds->synth_per_class = per;
    int label = 0;
    for (int c = 0; c < nc; c++) {
        if (!keep[c]) continue;
        ds->class_names[label] = strdup(names[c]);
        ds->class_dirs[label] = strdup(names[c]);
        if (!ds->class_names[label] || !ds->class_dirs[label]) {
            rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
            goto done;
        }
        for (int i = 0; i < per; i++) {
            int j = ds->n++;
            char b[64];
            snprintf(b, sizeof b, "synthetic/%s/%d", names[c], i);
            ds->paths[j] = strdup(b);
            ds->labels[j] = label;
            /* the generator is keyed by the original class number so that include/exclude
             * keep each class's look */
            ds->src_index[j] = c * per + i;
            if (!ds->paths[j]) {
                rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
                goto done;
            }
        }
        label++;
    }
    uint64_t h;
    xfer_fp_init(&h);
    xfer_fp_str(&h, "synthetic-v1");
    xfer_fp_i64(&h, nc);
    xfer_fp_i64(&h, per);
    xfer_fp_i64(&h, cfg->synthetic_size);
    xfer_fp_i64(&h, (int64_t)cfg->synthetic_seed);
    xfer_fp_finish(h, ds, ds->fingerprint);
done:
    for (int c = 0; names && c < nc; c++)
        free(names[c]);
    free(names);
    free(keep);
    return rc;
}
