/* The epoch loop shared by fine-tuning and source building: StepLR, SGD steps on augmented
 * batches, evaluation on the test split, best-epoch checkpoint, per-epoch resume checkpoint.
 *
 * Crash safety and resume. After epoch e the loop writes, in this order: the results row (when a
 * results source is given), the best checkpoint (if e improved the best test accuracy), the state
 * file LAST.state ("epoch best_acc best_epoch"), and the resume checkpoint LAST. A run killed
 * between any two writes resumes from the checkpoint's epoch E: the results curve is cut to E
 * rows, and the state file is accepted when it says E or E+1 (in the second case it already holds
 * epoch E+1's outcome, which re-running E+1 reproduces bit for bit on the CPU: the batches depend
 * only on (seed, epoch), the model state is restored exactly). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_batch.h"
#include "run_internal.h"
#include "xfer/batcher.h"
#include "xfer/log.h"
#include "xfer/train.h"

/* Batches between two loss downloads for the progress line on a GPU. */
#define PROGRESS_EVERY 20

typedef struct {
    int epoch, best_epoch;
    double best_acc;
} fit_state;

static int read_state(const char *path, fit_state *st) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int ok = fscanf(f, "%d %lf %d", &st->epoch, &st->best_acc, &st->best_epoch) == 3;
    fclose(f);
    return ok;
}

static int write_state(const char *path, const fit_state *st, xfer_err *err) {
    size_t n = strlen(path) + 8;
    char *tmp = malloc(n);
    if (!tmp) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int rc = XFER_OK;
    if (!f || fprintf(f, "%d %.17g %d\n", st->epoch, st->best_acc, st->best_epoch) < 0 ||
        fclose(f) != 0 || rename(tmp, path) != 0) {
        rc = xfer_fail(err, XFER_EINPUT, "%s: cannot write the training state", path);
        remove(tmp);
    }
    free(tmp);
    return rc;
}

static void batcher_opts(const run_fit_spec *s, int train, xfer_batcher_opts *o) {
    const xfer_dataset_cfg *d = s->data->cfg;
    xfer_batcher_opts_default(o);
    o->batch_size = s->recipe->batch_size;
    o->image_size = d->image_size;
    o->train = train;
    o->random_resized_crop = s->recipe->random_resized_crop;
    o->crop_scale_min = s->recipe->crop_scale_min;
    o->hflip = s->recipe->hflip;
    o->drop_last = train ? s->recipe->drop_last : 0;
    memcpy(o->mean, d->mean, sizeof o->mean);
    memcpy(o->std, d->std, sizeof o->std);
    o->seed = s->seed;
}

typedef struct {
    float *x;       /* backend [batch, S, S, 3] */
    int32_t *y;     /* backend [batch] */
    float *scalars; /* backend [4]: loss, correct count (per batch, or the training epoch's sums);
                       evaluation's sums on a GPU */
    int batch;      /* images per batch (x and y hold this many) */
} fit_buffers;

static void free_buffers(xfer_backend *b, fit_buffers *f) {
    b->free(b, f->x);
    b->free(b, f->y);
    b->free(b, f->scalars);
    memset(f, 0, sizeof *f);
}

static int alloc_buffers(xfer_backend *b, int batch, int size, fit_buffers *f, xfer_err *err) {
    memset(f, 0, sizeof *f);
    f->batch = batch;
    f->x = b->alloc(b, (size_t)batch * size * size * 3 * sizeof(float), "input batch", err);
    if (f->x) f->y = b->alloc(b, (size_t)batch * sizeof(int32_t), "labels", err);
    if (f->y) f->scalars = b->alloc(b, 4 * sizeof(float), "loss and accuracy", err);
    if (!f->scalars) {
        free_buffers(b, f);
        return err->code ? err->code : XFER_EINTERNAL;
    }
    return XFER_OK;
}

/* Predictions of the evaluated batches, for `accuracy: mean_per_class`: the backend's argmax
 * (count_correct's first-maximum rule) downloaded per batch with the host labels. */
typedef struct {
    int32_t *dev;          /* backend [batch] */
    int32_t *pred, *label; /* host [n] */
    int n, cap;
} eval_preds;

static int preds_add(xfer_backend *b, eval_preds *p, const float *logits, int n, int k,
                     const int32_t *lab, xfer_err *err) {
    if (p->n + n > p->cap) {
        int cap = 2 * (p->n + n);
        int32_t *a = realloc(p->pred, (size_t)cap * sizeof *a);
        if (a) p->pred = a;
        int32_t *l = realloc(p->label, (size_t)cap * sizeof *l);
        if (l) p->label = l;
        if (!a || !l) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
        p->cap = cap;
    }
    b->argmax(b, n, k, logits, p->dev);
    int rc = b->download(b, p->pred + p->n, p->dev, (size_t)n * sizeof *p->pred, err);
    if (rc != XFER_OK) return rc;
    memcpy(p->label + p->n, lab, (size_t)n * sizeof *lab);
    p->n += n;
    return XFER_OK;
}

static int evaluate_batches(run_ctx *c, xfer_model *m, run_batches *tb, const fit_buffers *f,
                            int size, eval_preds *preds, double *loss, double *acc, xfer_err *err) {
    xfer_backend *b = c->b;
    int k = xfer_model_config_of(m)->num_classes;
    xfer_batch bt;
    double sum_loss = 0, correct = 0;
    long n_total = 0;
    run_batches_start_epoch(tb, 0);
    const int32_t *lab;
    int got;
    const int on_device = b->kind == XFER_DEVICE_CUDA; /* sums on the device, one download */
    float *sums = f->scalars + 2;
    if (on_device) b->memset0(b, sums, 2 * sizeof(float));
    while ((got = run_batches_next(tb, f->x, f->y, &bt.n, &bt.number, &lab, err)) == 1) {
        int rc = xfer_model_forward(m, f->x, bt.n, size, size, 0, err);
        if (rc != XFER_OK) return rc;
        b->memset0(b, f->scalars, 2 * sizeof(float));
        b->softmax_xent(b, bt.n, k, xfer_model_logits(m), f->y, f->scalars, NULL);
        b->count_correct(b, bt.n, k, xfer_model_logits(m), f->y, f->scalars + 1);
        n_total += bt.n;
        if (preds) {
            rc = preds_add(b, preds, xfer_model_logits(m), bt.n, k, lab, err);
            if (rc != XFER_OK) return rc;
        }
        if (on_device) {
            b->axpy(b, 1, (float)bt.n, f->scalars, sums);
            b->axpy(b, 1, 1.0f, f->scalars + 1, sums + 1);
            continue;
        }
        float h[2];
        rc = b->download(b, h, f->scalars, sizeof h, err);
        if (rc != XFER_OK) return rc;
        sum_loss += (double)h[0] * bt.n;
        correct += h[1];
    }
    if (got < 0) return err->code;
    if (on_device && n_total) {
        float h[2];
        int rc = b->download(b, h, sums, sizeof h, err);
        if (rc != XFER_OK) return rc;
        sum_loss = h[0];
        correct = h[1];
    }
    *loss = n_total ? sum_loss / (double)n_total : NAN;
    *acc = n_total ? correct / (double)n_total : NAN;
    return XFER_OK;
}

/* Mean loss and accuracy of m in eval mode over every batch of tb: top-1, or with
 * XFER_ACC_MEAN_PER_CLASS the mean of the per-class recalls. */
static int evaluate(run_ctx *c, xfer_model *m, run_batches *tb, const fit_buffers *f, int size,
                    xfer_accuracy_kind acc_kind, double *loss, double *acc, xfer_err *err) {
    if (acc_kind == XFER_ACC_MEAN_PER_CLASS) {
        eval_preds p = {0};
        p.dev = c->b->alloc(c->b, (size_t)f->batch * sizeof(int32_t), "predictions", err);
        if (!p.dev) return err->code ? err->code : XFER_EINTERNAL;
        double top1 = NAN;
        int rc = evaluate_batches(c, m, tb, f, size, &p, loss, &top1, err);
        if (rc == XFER_OK)
            *acc = xfer_mean_per_class(p.pred, p.label, p.n, xfer_model_config_of(m)->num_classes);
        c->b->free(c->b, p.dev);
        free(p.pred);
        free(p.label);
        return rc;
    }
    return evaluate_batches(c, m, tb, f, size, NULL, loss, acc, err);
}

/* Name of the first parameter or buffer holding a NaN/Inf, or NULL (a diverged run can keep a
 * finite loss while, e.g., BN running variances overflow). */
static const char *first_nonfinite_tensor(xfer_model *m, xfer_err *err) {
    static char name[XFER_TENSOR_NAME_MAX];
    float *buf = NULL;
    size_t cap = 0;
    const char *bad = NULL;
    for (int i = 0; i < xfer_model_n_tensors(m) && !bad; i++) {
        const xfer_tensor_info *t = xfer_model_tensor(m, i);
        if (t->numel > cap) {
            float *nb = realloc(buf, t->numel * sizeof *buf);
            if (!nb) break;
            buf = nb;
            cap = t->numel;
        }
        if (xfer_model_get_tensor(m, i, 0, buf, t->numel, err) != XFER_OK) break;
        for (size_t k = 0; k < t->numel; k++)
            if (!isfinite(buf[k])) {
                snprintf(name, sizeof name, "%s", t->name);
                bad = name;
                break;
            }
    }
    free(buf);
    return bad;
}

int run_fit(run_ctx *c, xfer_model *m, const run_fit_spec *s, run_fit_result *r, xfer_err *err) {
    xfer_backend *b = c->b;
    const xfer_recipe_cfg *rc_ = s->recipe;
    const int size = s->data->cfg->image_size;
    memset(r, 0, sizeof *r);
    r->best_acc = -1;
    r->best_epoch = -1;

    fit_state st = {0, -1, -1.0};
    char *state_path = run_path(c, NULL, s->last_ckpt, ".state");
    if (!state_path) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    int start = 0;
    if (run_file_exists(s->last_ckpt)) {
        int ep = -1;
        int rc = xfer_model_load_checkpoint(m, s->last_ckpt, &ep, err);
        if (rc != XFER_OK) {
            free(state_path);
            return xfer_err_prefix(err, "resuming %s: ", s->what);
        }
        fit_state saved;
        if (ep >= 0 && read_state(state_path, &saved) &&
            (saved.epoch == ep || saved.epoch == ep + 1)) {
            start = ep;
            st.best_acc = saved.best_acc;
            st.best_epoch = saved.best_epoch;
            xfer_note("%s: resuming after epoch %d of %d", s->what, ep, rc_->epochs);
        } else {
            xfer_warn("%s: resume state %s does not match checkpoint %s: starting over", s->what,
                      state_path, s->last_ckpt);
            free(state_path);
            return xfer_fail(err, XFER_EINPUT,
                             "%s: inconsistent resume files; delete %s to start this source over",
                             s->what, s->last_ckpt);
        }
    }
    if (s->source && c->res) {
        int rc =
            xfer_results_truncate_curve_at(c->res, s->source, s->seed_index, (size_t)start, err);
        if (rc != XFER_OK) {
            free(state_path);
            return rc;
        }
    }

    xfer_batcher_opts to, eo;
    batcher_opts(s, 1, &to);
    batcher_opts(s, 0, &eo);
    run_batches *trb = NULL, *teb = NULL;
    fit_buffers f;
    int rc = run_batches_create(c, s->data, s->data->split.train, s->data->split.n_train, &to, &trb,
                                err);
    if (rc == XFER_OK)
        rc = run_batches_create(c, s->data, s->data->split.test, s->data->split.n_test, &eo, &teb,
                                err);
    if (rc == XFER_OK)
        rc = alloc_buffers(b, rc_->batch_size, size, &f, err);
    else
        memset(&f, 0, sizeof f);

    xfer_steplr sched = {(float)rc_->lr, rc_->step_size, (float)rc_->gamma};
    xfer_sgd_config opt = {0, (float)rc_->momentum, (float)rc_->weight_decay, rc_->nesterov};
    int n_batches = trb ? run_batches_n(trb) : 0;
    /* the CPU reads each batch's loss (the curves stay bitwise those of the per-batch path);
     * a GPU reads the device sums every PROGRESS_EVERY batches and at the end of the epoch */
    const int per_batch = b->kind != XFER_DEVICE_CUDA;
    const int last_epoch =
        s->stop_epoch > 0 && s->stop_epoch < rc_->epochs ? s->stop_epoch : rc_->epochs;
    /* tests only (docs/run.md): slow every epoch down, e.g. one of two concurrent shards */
    const char *slow = getenv("XFER_TEST_EPOCH_SLEEP_MS");
    for (int epoch = start + 1; rc == XFER_OK && epoch <= last_epoch; epoch++) {
        if (slow && atoi(slow) > 0) run_sleep_ms(atoi(slow));
        double t0 = run_now();
        opt.lr = rc_->schedule == XFER_SCHED_COSINE
                     ? (float)xfer_cosine_lr(rc_->lr, rc_->eta_min, rc_->epochs, epoch - 1)
                     : xfer_steplr_lr(&sched, epoch - 1);
        run_batches_start_epoch(trb, epoch);
        xfer_batch bt;
        double sum_loss = 0, correct = 0, shown_loss = NAN;
        long seen = 0;
        const int32_t *lab;
        int got = 0;
        b->memset0(b, f.scalars, 2 * sizeof(float));
        while (rc == XFER_OK &&
               (got = run_batches_next(trb, f.x, f.y, &bt.n, &bt.number, &lab, err)) == 1) {
            /* no host synchronisation: loss * n and the correct count accumulate in f.scalars */
            rc = xfer_model_train_step_dev(m, &opt, f.x, f.y, bt.n, size, size, f.scalars, err);
            if (rc != XFER_OK) break;
            seen += bt.n;
            if (per_batch) { /* the CPU: each batch's loss as before (sums in double) */
                float loss = 0;
                int corr = 0;
                rc = xfer_model_last_loss(m, &loss, &corr, err);
                if (rc != XFER_OK) break;
                if (!isfinite(loss)) {
                    r->failed = 1;
                    rc = xfer_fail(err, XFER_EFAILED, "%s: loss is %s at epoch %d, batch %d",
                                   s->what, isnan(loss) ? "NaN" : "infinite", epoch, bt.number + 1);
                    break;
                }
                sum_loss += (double)loss * bt.n;
                correct += corr;
                shown_loss = sum_loss / (double)seen;
            } else if (bt.number % PROGRESS_EVERY == 0 || bt.number + 1 == n_batches) {
                float h[2];
                rc = b->download(b, h, f.scalars, sizeof h, err);
                if (rc != XFER_OK) break;
                shown_loss = (double)h[0] / (double)seen;
            }
            double el = run_now() - t0;
            double ips = el > 0 ? (double)seen / el : 0;
            double left = (double)(n_batches - bt.number - 1) * el / (bt.number + 1) +
                          (double)(rc_->epochs - epoch) * el / (bt.number + 1) * n_batches;
            run_progress_batch(s->what, epoch, rc_->epochs, bt.number + 1, n_batches, ips,
                               shown_loss, left);
        }
        if (rc == XFER_OK && got == 0 && !per_batch && seen) {
            float h[2]; /* the epoch's sums: one download */
            rc = b->download(b, h, f.scalars, sizeof h, err);
            if (rc == XFER_OK && !isfinite(h[0])) {
                r->failed = 1;
                rc = xfer_fail(err, XFER_EFAILED, "%s: loss is %s during epoch %d", s->what,
                               isnan(h[0]) ? "NaN" : "infinite", epoch);
            }
            sum_loss = h[0];
            correct = h[1];
        }
        if (got < 0) rc = err->code;
        if (rc != XFER_OK) break;
        double train_time = run_now() - t0;
        double test_loss = NAN, test_acc = NAN;
        if (epoch % rc_->eval_every == 0 || epoch == rc_->epochs)
            rc = evaluate(c, m, teb, &f, size, rc_->accuracy, &test_loss, &test_acc, err);
        if (rc != XFER_OK) break;
        if (isnan(test_acc) != isnan(test_loss) || (!isnan(test_loss) && !isfinite(test_loss))) {
            r->failed = 1;
            rc = xfer_fail(err, XFER_EFAILED, "%s: test loss is not finite at epoch %d", s->what,
                           epoch);
            break;
        }
        const char *bad = first_nonfinite_tensor(m, err);
        if (bad) {
            r->failed = 1;
            rc = xfer_fail(err, XFER_EFAILED,
                           "%s: training diverged: %s has NaN/Inf values after epoch %d", s->what,
                           bad, epoch);
            break;
        }
        double secs = run_now() - t0;
        double train_loss = seen ? sum_loss / (double)seen : NAN;
        double train_acc = seen ? correct / (double)seen : NAN;
        run_progress_epoch(c, s->what, s->source, epoch, rc_->epochs, opt.lr, train_loss, train_acc,
                           test_loss, test_acc, secs,
                           train_time > 0 ? (double)seen / train_time : 0);
        if (s->source && c->res) {
            xfer_results_epoch row = {epoch,     opt.lr,   train_loss, train_acc,
                                      test_loss, test_acc, secs};
            rc = xfer_results_append_epoch_at(c->res, s->source, s->seed_index, &row, err);
            if (rc != XFER_OK) break;
        }
        if (isfinite(test_acc) && test_acc > st.best_acc) {
            st.best_acc = test_acc;
            st.best_epoch = epoch;
            rc = xfer_model_save_checkpoint(m, s->best_ckpt, s->class_names, epoch, err);
            if (rc != XFER_OK) break;
        }
        st.epoch = epoch;
        rc = write_state(state_path, &st, err);
        if (rc == XFER_OK)
            rc = xfer_model_save_checkpoint(m, s->last_ckpt, s->class_names, epoch, err);
    }
    run_progress_clear();
    r->best_acc = st.best_acc;
    r->best_epoch = st.best_epoch;
    if (f.x || f.y || f.scalars) free_buffers(b, &f);
    run_batches_free(trb);
    run_batches_free(teb);
    free(state_path);
    return rc;
}
