/* Test driver for the training recipe (not installed): the cosine schedule, the SGD update of the
 * CPU backend under it, and the mean per-class accuracy, on inputs from the Python test, which
 * compares them with torch and sklearn.
 *   train_tool sgd IN OUT: IN = int32 n, steps, steps_per_epoch, t_max, nesterov; float64
 *     momentum, weight_decay, lr, eta_min; float32 params[n], grads[steps][n]. OUT = float64
 *     lr[steps] (the schedule's, before the float cast), float32 params[n] after the steps.
 *   train_tool mpc IN: IN = int32 n, k, pred[n], label[n]; prints the mean per-class accuracy. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfer/backend.h"
#include "xfer/train.h"

static int rd(FILE *f, void *p, size_t size, size_t n) {
    return fread(p, size, n, f) == n ? 0 : -1;
}

static int cmd_sgd(const char *in, const char *out) {
    FILE *f = fopen(in, "rb");
    if (!f) return 2;
    int32_t h[5];
    double d[4];
    if (rd(f, h, sizeof *h, 5) || rd(f, d, sizeof *d, 4)) return 2;
    size_t n = (size_t)h[0];
    int steps = h[1], per_epoch = h[2], t_max = h[3], nesterov = h[4];
    float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g), *buf = calloc(n, sizeof *buf);
    double *lrs = malloc((size_t)steps * sizeof *lrs);
    if (!p || !g || !buf || !lrs || rd(f, p, sizeof *p, n)) return 2;
    xfer_err err;
    xfer_err_clear(&err);
    xfer_backend *b = xfer_backend_cpu_create(&err);
    if (!b) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    for (int s = 0; s < steps; s++) {
        if (rd(f, g, sizeof *g, n)) return 2;
        lrs[s] = xfer_cosine_lr(d[2], d[3], t_max, s / per_epoch);
        b->sgd_update(b, n, p, g, buf, (float)lrs[s], (float)d[0], (float)d[1], nesterov, s == 0);
    }
    fclose(f);
    FILE *o = fopen(out, "wb");
    if (!o || fwrite(lrs, sizeof *lrs, (size_t)steps, o) != (size_t)steps ||
        fwrite(p, sizeof *p, n, o) != n || fclose(o) != 0)
        return 1;
    b->destroy(b);
    free(p);
    free(g);
    free(buf);
    free(lrs);
    return 0;
}

static int cmd_mpc(const char *in) {
    FILE *f = fopen(in, "rb");
    if (!f) return 2;
    int32_t h[2];
    if (rd(f, h, sizeof *h, 2)) return 2;
    int32_t *pred = malloc((size_t)h[0] * sizeof *pred + 1), *lab = malloc((size_t)h[0] * 4 + 1);
    if (!pred || !lab || rd(f, pred, 4, (size_t)h[0]) || rd(f, lab, 4, (size_t)h[0])) return 2;
    fclose(f);
    printf("%.17g\n", xfer_mean_per_class(pred, lab, h[0], h[1]));
    free(pred);
    free(lab);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "sgd")) return cmd_sgd(argv[2], argv[3]);
    if (argc == 3 && !strcmp(argv[1], "mpc")) return cmd_mpc(argv[2]);
    fprintf(stderr, "usage: train_tool sgd IN OUT | mpc IN\n");
    return 2;
}
