/* xfer step: S training steps on one batch, writing what a framework comparison needs (issue 3's
 * contract): logits and gradients of the first step, the loss of every step, parameters and BN
 * buffers after the last, all in torch layout under torchvision's names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "engine_cli.h"
#include "xfer/log.h"
#include "xfer/nn.h"
#include "xfer/safetensors.h"

typedef struct {
    int n, h, w;
    float *images_nchw; /* host */
    int32_t *labels;    /* host */
} step_batch;

static int read_batch(const char *path, int num_classes, step_batch *bt, xfer_err *err) {
    xfer_safetensors st;
    int rc = xfer_st_open(path, &st, err);
    if (rc) return rc;
    const xfer_st_tensor *im = xfer_st_find(&st, "images"), *lb = xfer_st_find(&st, "labels");
    int64_t *lab64 = NULL;
    if (!im || !lb) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: needs tensors 'images' [N,3,H,W] and 'labels' [N]",
                       path);
        goto done;
    }
    if (im->ndim != 4 || im->shape[1] != 3 || im->shape[0] < 1 || im->shape[2] < 1 ||
        im->shape[3] < 1 || im->shape[0] > (1 << 20) || im->shape[2] > 8192 ||
        im->shape[3] > 8192) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: images must be [N,3,H,W] (NCHW, float)", path);
        goto done;
    }
    if (lb->ndim != 1 || lb->shape[0] != im->shape[0]) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: labels must be [N] with N = %lld (the images)", path,
                       (long long)im->shape[0]);
        goto done;
    }
    bt->n = (int)im->shape[0], bt->h = (int)im->shape[2], bt->w = (int)im->shape[3];
    bt->images_nchw = malloc(sizeof(float) * (size_t)im->numel);
    bt->labels = malloc(sizeof(int32_t) * (size_t)bt->n);
    lab64 = malloc(sizeof(int64_t) * (size_t)bt->n);
    if (!bt->images_nchw || !bt->labels || !lab64) {
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory reading %s", path);
        goto done;
    }
    if ((rc = xfer_st_read_f32(&st, im, bt->images_nchw, (size_t)im->numel, err))) goto done;
    if ((rc = xfer_st_read_i64(&st, lb, lab64, (size_t)bt->n, err))) goto done;
    for (int i = 0; i < bt->n; i++) {
        if (lab64[i] < 0 || lab64[i] >= num_classes) {
            rc = xfer_fail(err, XFER_EINPUT, "%s: labels[%d] = %lld is outside [0, %d)", path, i,
                           (long long)lab64[i], num_classes);
            goto done;
        }
        bt->labels[i] = (int32_t)lab64[i];
    }
done:
    free(lab64);
    xfer_st_close(&st);
    return rc;
}

/* Adds every tensor of the model under prefix (which: 0 value, 1 gradient). */
static int add_tensors(xfer_model *m, xfer_st_writer *w, int which, xfer_err *err) {
    int rc = XFER_OK;
    for (int i = 0; i < xfer_model_n_tensors(m) && !rc; i++) {
        const xfer_tensor_info *t = xfer_model_tensor(m, i);
        if (which != 0 && t->kind != XFER_TENSOR_PARAM) continue;
        float *host = malloc(sizeof(float) * t->numel);
        if (!host) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
        char key[XFER_TENSOR_NAME_MAX + 16];
        snprintf(key, sizeof key, "%s%s",
                 which == 1                     ? "grad."
                 : which == 2                   ? XFER_CKPT_MOMENTUM_PREFIX
                 : t->kind == XFER_TENSOR_PARAM ? "param."
                                                : "buffer.",
                 t->name);
        rc = xfer_model_get_tensor(m, i, which, host, t->numel, err);
        if (!rc) rc = xfer_st_writer_add(w, key, XFER_DT_F32, t->ndim, t->shape, host, err);
        free(host);
    }
    return rc;
}

/* --list-tensors: the model's tensor table in torch layout, one "name kind d0,d1,..." a line. */
static int list_tensors(xfer_model_config *cfg, int classes, double width, const char *weights,
                        xfer_err *err) {
    cfg->num_classes = classes;
    cfg->width = width;
    xfer_backend *b = xfer_backend_get(XFER_DEVICE_CPU, err);
    xfer_model *m = NULL;
    int rc = b ? xfer_model_create(cfg, b, &m, err) : err->code;
    if (!rc && weights) rc = xfer_model_load_weights(m, weights, err);
    for (int i = 0; !rc && i < xfer_model_n_tensors(m); i++) {
        const xfer_tensor_info *t = xfer_model_tensor(m, i);
        printf("%s %s ", t->name, t->kind == XFER_TENSOR_PARAM ? "param" : "buffer");
        for (int d = 0; d < t->ndim; d++)
            printf("%s%lld", d ? "," : "", (long long)t->shape[d]);
        printf("\n");
    }
    xfer_model_free(m);
    xfer_backend_release(b);
    return rc;
}

int cmd_step(int argc, char **argv) {
    const char *arch_s = NULL, *weights = NULL, *resume = NULL, *batch = NULL, *out = NULL;
    const char *mode = "train";
    const char *precision = "fp32";
    int classes = 0, steps = 1, nesterov = 0, threads = 0, seed = 0, list = 0;
    double lr = 0.01, momentum = 0.0, wd = 0.0, dropout = 0.5, width = 1.0;
    const xfer_opt opts[] = {
        {"arch", XFER_OPT_STRING, &arch_s, "A", XFER_ARCH_NAMES},
        {"num-classes", XFER_OPT_INT, &classes, "K", "classes of the head"},
        {"weights", XFER_OPT_STRING, &weights, "W.safetensors",
         "initial weights, torchvision names (default: initialised from --seed)"},
        {"resume", XFER_OPT_STRING, &resume, "C.safetensors",
         "start from a checkpoint instead: params, BN buffers and SGD momentum (momentum.<name>, "
         "metadata xfer.sgd.started=1), as `xfer run` saves them"},
        {"batch", XFER_OPT_STRING, &batch, "B.safetensors",
         "images float [N,3,H,W] (normalised) and labels int [N]"},
        {"out", XFER_OPT_STRING, &out, "O.safetensors",
         "logits, loss [S], grad.*, param.*, buffer.* (torch layout)"},
        {"steps", XFER_OPT_INT, &steps, "S", "SGD steps on the batch (default 1)"},
        {"lr", XFER_OPT_DOUBLE, &lr, "LR", "learning rate (default 0.01)"},
        {"momentum", XFER_OPT_DOUBLE, &momentum, "M", "SGD momentum (default 0)"},
        {"weight-decay", XFER_OPT_DOUBLE, &wd, "WD", "weight decay (default 0)"},
        {"nesterov", XFER_OPT_FLAG, &nesterov, NULL, "Nesterov momentum"},
        {"mode", XFER_OPT_STRING, &mode, "train|eval", "BN/dropout mode (default train)"},
        {"dropout", XFER_OPT_DOUBLE, &dropout, "P", "AlexNet dropout probability (default 0.5)"},
        xfer_cli_opt_width(&width),
        {"seed", XFER_OPT_INT, &seed, "N", "initialisation and dropout seed (default 0)"},
        xfer_cli_opt_threads(&threads),
        {"list-tensors", XFER_OPT_FLAG, &list, NULL,
         "print every tensor (name, param|buffer, torch shape) and exit, after loading --weights "
         "if given (so a weights file can be checked); needs no --batch"},
        xfer_cli_opt_precision(&precision),
    };
    int rc = xfer_cli_engine_parse(
        "step",
        "Run training steps on one batch and write logits, losses, gradients and parameters.",
        "The output holds 'logits' [N,K] and 'grad.<name>' of the first step, 'loss' [S], and\n"
        "'param.<name>' / 'buffer.<name>' after the last step, named like torchvision's "
        "state_dict,\nand with momentum on the SGD buffers 'momentum.<name>' after the last step.",
        opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (rc) return rc == XFER_OPTS_HELP ? XFER_OK : rc;

    xfer_err err;
    xfer_err_clear(&err);
    xfer_model_config cfg = {0};
    int train = strcmp(mode, "train") == 0;
    if (list && arch_s && classes >= 1) {
        if (!(rc = xfer_arch_parse(arch_s, &cfg.arch, &err)))
            rc = list_tensors(&cfg, classes, width, weights, &err);
        return rc ? xfer_cli_fail(rc, &err) : XFER_OK;
    }
    if (!arch_s || !batch || !out)
        rc = xfer_fail(&err, XFER_EINPUT, "step: --arch, --batch and --out are required");
    else if (classes < 1)
        rc = xfer_fail(&err, XFER_EINPUT, "step: --num-classes K (K >= 1) is required");
    else if (weights && resume)
        rc = xfer_fail(&err, XFER_EINPUT, "step: --weights and --resume exclude each other");
    else if (steps < 1)
        rc = xfer_fail(&err, XFER_EINPUT, "step: --steps must be >= 1");
    else if (!train && strcmp(mode, "eval") != 0)
        rc = xfer_fail(&err, XFER_EINPUT, "step: --mode must be train or eval, not '%s'", mode);
    else
        rc = xfer_arch_parse(arch_s, &cfg.arch, &err);
    if (rc) return xfer_cli_fail(rc, &err);
    cfg.num_classes = classes;
    cfg.width = width;
    cfg.seed = (uint64_t)seed;
    cfg.dropout = (float)dropout;
    xfer_sgd_config opt = {(float)lr, (float)momentum, (float)wd, nesterov};

    step_batch bt = {0};
    xfer_backend *b = NULL;
    xfer_model *m = NULL;
    xfer_st_writer *w = NULL;
    float *x_nchw = NULL, *x = NULL, *losses = NULL;
    int32_t *labels = NULL;
    if ((rc = read_batch(batch, classes, &bt, &err))) goto done;
    if (!(b = xfer_cli_backend(threads, precision, &err))) {
        rc = err.code;
        goto done;
    }
    if ((rc = xfer_model_create(&cfg, b, &m, &err))) goto done;
    if (weights && (rc = xfer_model_load_weights(m, weights, &err))) goto done;
    if (resume && (rc = xfer_model_load_checkpoint(m, resume, NULL, &err))) goto done;
    size_t nimg = (size_t)bt.n * 3 * bt.h * bt.w;
    if (!(x_nchw = b->alloc(b, sizeof(float) * nimg, "the input batch", &err)) ||
        !(x = b->alloc(b, sizeof(float) * nimg, "the input batch", &err)) ||
        !(labels = b->alloc(b, sizeof(int32_t) * bt.n, "labels", &err))) {
        rc = err.code;
        goto done;
    }
    b->upload(b, x_nchw, bt.images_nchw, sizeof(float) * nimg);
    b->nchw_to_nhwc(b, bt.n, 3, bt.h, bt.w, x_nchw, x);
    b->upload(b, labels, bt.labels, sizeof(int32_t) * bt.n);
    losses = malloc(sizeof(float) * steps);
    w = xfer_st_writer_new();
    if (!losses || !w) {
        rc = xfer_fail(&err, XFER_EINTERNAL, "out of memory");
        goto done;
    }
    for (int s = 0; s < steps && !rc; s++) {
        rc = xfer_model_forward(m, x, bt.n, bt.h, bt.w, train, &err);
        if (!rc) rc = xfer_model_backward(m, labels, &losses[s], NULL, &err);
        if (!rc && s == 0) {
            size_t nl = (size_t)bt.n * classes;
            float *hl = malloc(sizeof(float) * nl);
            int64_t shape[2] = {bt.n, classes};
            if (!hl) rc = xfer_fail(&err, XFER_EINTERNAL, "out of memory");
            if (!rc) rc = b->download(b, hl, xfer_model_logits(m), sizeof(float) * nl, &err);
            if (!rc) rc = xfer_st_writer_add(w, "logits", XFER_DT_F32, 2, shape, hl, &err);
            free(hl);
            if (!rc) rc = add_tensors(m, w, 1, &err);
        }
        if (!rc) rc = xfer_model_sgd_step(m, &opt, &err);
        if (!rc) xfer_debug("step %d: loss %.6f", s + 1, losses[s]);
    }
    if (rc) goto done;
    int64_t ls[1] = {steps};
    if ((rc = xfer_st_writer_add(w, "loss", XFER_DT_F32, 1, ls, losses, &err))) goto done;
    if ((rc = add_tensors(m, w, 0, &err))) goto done;
    if (xfer_model_sgd_started(m) && (rc = add_tensors(m, w, 2, &err))) goto done;
    if ((rc = xfer_st_writer_meta(w, "arch", arch_s, &err))) goto done;
    rc = xfer_st_writer_save(w, out, &err);
done:
    if (rc) xfer_cli_fail(rc, &err);
    xfer_st_writer_free(w);
    free(losses);
    if (b) {
        b->free(b, x_nchw);
        b->free(b, x);
        b->free(b, labels);
    }
    xfer_model_free(m);
    xfer_backend_release(b);
    free(bt.images_nchw);
    free(bt.labels);
    return rc;
}
