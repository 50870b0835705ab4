/* xfer bench: training-step and inference throughput of a model on synthetic batches, on the
 * backend chosen by --device. Each figure is the median over --steps timed repeats after --warmup
 * untimed ones; the peak resident memory of the process is printed last. On the CPU a repeat is
 * timed by the wall clock after the backend has finished; on CUDA by events recorded on the
 * backend's stream around the repeat (include/xfer/cuda_backend.h), and the card's name and the
 * precision are printed. The last line, "bench: key=value ...", is for scripts
 * (scripts/bench_vs_torch.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "commands.h"
#include "engine_cli.h"
#include "xfer/cuda_backend.h"
#include "xfer/log.h"
#include "xfer/nn.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Timing hook: one call, timed by CUDA events on the backend's stream when tm is given, else by
 * the wall clock after the backend has finished its queued work. */
static int timed(xfer_backend *b, xfer_cuda_timer *tm, xfer_model *m, const xfer_sgd_config *opt,
                 const float *x, const int32_t *y, float *acc, int n, int size, int train,
                 double *secs, xfer_err *err) {
    double t0 = now_s();
    int rc;
    if (tm) xfer_cuda_timer_start(b, tm);
    /* the training loop's step: no host synchronisation, CUDA-graph replay where possible */
    if (train)
        rc = xfer_model_train_step_dev(m, opt, x, y, n, size, size, acc, err);
    else
        rc = xfer_model_forward(m, x, n, size, size, 0, err);
    if (!rc && tm) return xfer_cuda_timer_stop(b, tm, secs, err);
    if (!rc) rc = b->sync(b, err);
    *secs = now_s() - t0;
    return rc;
}

int cmd_bench(int argc, char **argv) {
    const char *arch_s = "resnet18", *precision = "fp32";
    int batch = 16, size = 224, steps = 5, warmup = 1, classes = 1000, threads = 0;
    double width = 1.0;
    const xfer_opt opts[] = {
        {"arch", XFER_OPT_STRING, &arch_s, "A", XFER_ARCH_NAMES " (default resnet18)"},
        {"batch", XFER_OPT_INT, &batch, "B", "batch size (default 16)"},
        {"size", XFER_OPT_INT, &size, "S", "image size S x S (default 224)"},
        {"steps", XFER_OPT_INT, &steps, "N", "timed repeats of each measure (default 5)"},
        {"warmup", XFER_OPT_INT, &warmup, "N", "untimed repeats first (default 1)"},
        {"classes", XFER_OPT_INT, &classes, "K", "classes of the head (default 1000)"},
        xfer_cli_opt_width(&width),
        xfer_cli_opt_threads(&threads),
        xfer_cli_opt_precision(&precision),
    };
    int rc = xfer_cli_engine_parse(
        "bench", "Measure training-step and inference throughput on synthetic batches.",
        "Prints forward (inference) and train-step (forward, backward, SGD) images/s, each the\n"
        "median of --steps repeats after --warmup (CUDA: timed with events on the stream), and\n"
        "the process's peak resident memory.",
        opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (rc) return rc == XFER_OPTS_HELP ? XFER_OK : rc;

    xfer_err err;
    xfer_err_clear(&err);
    xfer_model_config cfg = {XFER_ARCH_RESNET18, classes, width, 0, 0.5f};
    if (batch < 1 || size < 1 || steps < 1 || warmup < 0 || classes < 1)
        rc = xfer_fail(&err, XFER_EINPUT,
                       "bench: --batch, --size, --steps and --classes must be >= 1, --warmup >= 0");
    else
        rc = xfer_arch_parse(arch_s, &cfg.arch, &err);
    if (rc) return xfer_cli_fail(rc, &err);
    xfer_backend *b = NULL;
    xfer_model *m = NULL;
    float *x = NULL, *host = NULL, *acc = NULL;
    int32_t *y = NULL, *hy = NULL;
    double *times = NULL;
    xfer_cuda_timer *tm = NULL;
    double ips[2] = {0, 0};
    size_t nx = (size_t)batch * size * size * 3;
    if (!(b = xfer_cli_backend(threads, precision, &err))) {
        rc = err.code;
        goto done;
    }
    if (b->kind == XFER_DEVICE_CUDA) {
        xfer_cuda_set_batch_hint(b, batch);
        if ((rc = xfer_cuda_timer_create(b, &tm, &err))) goto done;
    }
    if ((rc = xfer_model_create(&cfg, b, &m, &err))) goto done;
    host = malloc(sizeof(float) * nx);
    hy = malloc(sizeof(int32_t) * batch);
    times = malloc(sizeof(double) * steps);
    if (!host || !hy || !times) {
        rc = xfer_fail(&err, XFER_EINTERNAL, "out of memory");
        goto done;
    }
    uint64_t s = 1;
    for (size_t i = 0; i < nx; i++) {
        s = xfer_splitmix64(s);
        host[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
    for (int i = 0; i < batch; i++)
        hy[i] = i % classes;
    if (!(x = b->alloc(b, sizeof(float) * nx, "the batch", &err)) ||
        !(y = b->alloc(b, sizeof(int32_t) * batch, "labels", &err)) ||
        !(acc = b->alloc(b, 2 * sizeof(float), "loss sums", &err))) {
        rc = err.code;
        goto done;
    }
    b->memset0(b, acc, 2 * sizeof(float));
    b->upload(b, x, host, sizeof(float) * nx);
    b->upload(b, y, hy, sizeof(int32_t) * batch);
    /* lr 0 keeps the weights (and so the work) the same in every repeat */
    xfer_sgd_config opt = {0.0f, 0.9f, 5e-4f, 0};
    const char *card = b->kind == XFER_DEVICE_CUDA ? xfer_cuda_device_name(b) : "";
    printf("xfer bench: %s width %g, batch %d, %dx%d, %d classes, device %s%s%s, precision %s, "
           "%d repeats after %d warm-up%s\n",
           xfer_arch_name(cfg.arch), width, batch, size, size, classes, b->name, card[0] ? " " : "",
           card, precision, steps, warmup, tm ? " (CUDA events)" : "");
    const char *label[2] = {"forward (inference)", "train step"};
    for (int train = 0; train < 2 && !rc; train++) {
        double t;
        for (int i = 0; i < warmup && !rc; i++)
            rc = timed(b, tm, m, &opt, x, y, acc, batch, size, train, &t, &err);
        for (int i = 0; i < steps && !rc; i++)
            rc = timed(b, tm, m, &opt, x, y, acc, batch, size, train, &times[i], &err);
        if (rc) break;
        double med = median(times, steps);
        ips[train] = batch / med;
        printf("%-20s %10.1f img/s  (median %.4f s per batch, min %.4f, max %.4f)\n", label[train],
               batch / med, med, times[0], times[steps - 1]);
    }
    if (!rc) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("peak RSS             %10.1f MiB\n", (double)ru.ru_maxrss / 1024.0);
        printf("bench: arch=%s batch=%d size=%d classes=%d device=%s precision=%s "
               "train_img_s=%.1f infer_img_s=%.1f card=\"%s\"\n",
               xfer_arch_name(cfg.arch), batch, size, classes, b->name, precision, ips[1], ips[0],
               card);
    }
done:
    if (rc) xfer_cli_fail(rc, &err);
    if (b) {
        b->free(b, x);
        b->free(b, y);
        b->free(b, acc);
    }
    free(host);
    free(hy);
    free(times);
    xfer_cuda_timer_free(b, tm);
    xfer_model_free(m);
    xfer_backend_release(b);
    return rc;
}
