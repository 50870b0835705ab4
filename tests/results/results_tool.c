/* Test driver for the results module (not installed): writes made-up experiments through the
 * public API, evaluates rank correlations on given vectors, and holds the writer lock, so that the
 * Python tests can check xfer against h5py and scipy. The made-up numbers are input data only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfer/rankcorr.h"
#include "xfer/results.h"

static int die(const xfer_err *e) {
    fprintf(stderr, "xfer: error: %s\n", e->msg);
    return e->code ? e->code : 1;
}

/* corr FILE: cases of "n", n x values, n y values; prints pearson spearman kendall wtau top1 gap */
static int cmd_corr(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 2;
    size_t n;
    while (fscanf(f, "%zu", &n) == 1) {
        double *x = malloc((n + 1) * sizeof *x), *y = malloc((n + 1) * sizeof *y);
        for (size_t i = 0; i < n; i++)
            if (fscanf(f, "%lf", &x[i]) != 1) return 2;
        for (size_t i = 0; i < n; i++)
            if (fscanf(f, "%lf", &y[i]) != 1) return 2;
        double gap;
        int hit = xfer_top1(x, y, n, &gap);
        printf("%.17g %.17g %.17g %.17g %d %.17g\n", xfer_pearson(x, y, n), xfer_spearman(x, y, n),
               xfer_kendall_tau_b(x, y, n), xfer_weighted_tau(x, y, n), hit, gap);
        free(x);
        free(y);
    }
    fclose(f);
    return 0;
}

typedef struct {
    const char *name, *arch, *chain;
    double quality;   /* drives scores and accuracy; ties on purpose */
    const char *fate; /* done | failed | scored | pending */
} fake_source;

static const fake_source SOURCES[] = {
    {"alex_imagenet", "alexnet", "imagenet", 0.90, "done"},
    {"alex_places", "alexnet", "places365", 0.70, "done"},
    {"alex_random", "alexnet", "random", 0.20, "done"},
    {"alex_caltech", "alexnet", "imagenet>caltech256", 0.85, "done"},
    {"alex_nan", "alexnet", "imagenet", 0.60, "failed"},
    {"res_imagenet", "resnet18", "imagenet", 0.95, "done"},
    {"res_places", "resnet18", "places365", 0.70, "done"},
    {"res_caltech", "resnet18", "imagenet>caltech256", 0.80, "done"},
    {"res_random", "resnet18", "random", 0.10, "done"},
    {"res_late", "resnet18", "imagenet", 0.50, "scored"},
};
#define N_SOURCES (sizeof SOURCES / sizeof SOURCES[0])
#define N_EPOCHS 6

static double wiggle(size_t i, int k) { /* deterministic noise in [-0.5, 0.5) */
    unsigned h = (unsigned)(i * 2654435761u) ^ (unsigned)(k * 40503u + 17u);
    h ^= h >> 13;
    h *= 0x5bd1e995u;
    h ^= h >> 15;
    return (double)(h % 1000u) / 1000.0 - 0.5;
}

static int write_source(xfer_results *r, size_t i, int incomplete, xfer_err *e) {
    const fake_source *s = &SOURCES[i];
    xfer_results_source_info info = {s->name, s->arch, "weights/source.safetensors", s->chain};
    int rc = xfer_results_add_source(r, &info, e);
    if (rc || (incomplete && i % 3 == 2)) return rc; /* left pending */
    /* the scores of one source in one transaction, as the runner would */
    rc = xfer_results_begin(r, e);
    double sm = 500.0 + 400.0 * s->quality + 150.0 * wiggle(i, 1), sm_mean = sm / 1000.0;
    double emd = 2000.0 - 900.0 * s->quality + 400.0 * wiggle(i, 2), emd_mean = emd / 1000.0;
    double leep = -3.0 + 2.0 * floor(s->quality * 4.0) / 4.0; /* coarse: ties */
    if (!rc) rc = xfer_results_write_score(r, s->name, "softmax_max", 1, sm, 0.5, &sm_mean, e);
    if (!rc) rc = xfer_results_write_score(r, s->name, "emd", -1, emd, 0.25, &emd_mean, e);
    if (!rc) rc = xfer_results_write_score(r, s->name, "leep", 1, leep, 0.125, NULL, e);
    if (!rc) rc = xfer_results_set_status(r, s->name, XFER_SRC_SCORED, NULL, e);
    if (!rc) rc = xfer_results_commit(r, e);
    if (rc || strcmp(s->fate, "scored") == 0) return rc;
    int epochs = strcmp(s->fate, "failed") == 0 ? 3 : N_EPOCHS;
    for (int k = 1; !rc && k <= epochs; k++) {
        double acc = s->quality * (1.0 - exp(-(double)k / (1.0 + 3.0 * (1.0 - s->quality)))) +
                     0.02 * wiggle(i, 10 + k);
        xfer_results_epoch row = {k,   k <= 3 ? 1e-3 : 1e-4, 2.0 - acc, acc + 0.05, 2.1 - acc,
                                  acc, 1.5 + 0.1 * k};
        if (strcmp(s->fate, "failed") == 0 && k == epochs) row.train_loss = NAN;
        rc = xfer_results_append_epoch(r, s->name, &row, e);
    }
    if (rc) return rc;
    if (strcmp(s->fate, "failed") == 0)
        return xfer_results_set_status(r, s->name, XFER_SRC_FAILED, "loss became NaN at epoch 3",
                                       e);
    return xfer_results_set_status(r, s->name, XFER_SRC_DONE, NULL, e);
}

/* write OUT [--shard I/N] [--config TEXT] [--incomplete] */
static int cmd_write(int argc, char **argv) {
    const char *out = argv[0], *config = "target: fake\nsources: 10\n";
    unsigned shard = 0, nshards = 1;
    int incomplete = 0;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--shard") && a + 1 < argc)
            sscanf(argv[++a], "%u/%u", &shard, &nshards);
        else if (!strcmp(argv[a], "--config") && a + 1 < argc)
            config = argv[++a];
        else if (!strcmp(argv[a], "--incomplete"))
            incomplete = 1;
    }
    xfer_err e;
    xfer_err_clear(&e);
    xfer_results_meta meta = {NULL, config, "2026-01-02T03:04:05Z", "cpu", "fp32", 42};
    xfer_results *r = NULL;
    int rc = xfer_results_create(out, &meta, 1, &r, &e);
    if (rc) return die(&e);
    const char *classes[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat"};
    const char *train[] = {"train/0001.png", "train/0002.png", "train/0003.png"};
    const char *test[] = {"test/0001.png", "test/0002.png"};
    xfer_results_target t = {"fashion-mnist:unicode-\xc3\xa9", 3, 2, 5, classes, train, test, 3, 2};
    rc = xfer_results_write_target(r, &t, &e);
    for (size_t i = 0; !rc && i < N_SOURCES; i++)
        if (i % nshards == shard) rc = write_source(r, i, incomplete, &e);
    if (!rc) rc = xfer_results_write_correlations(r, &e);
    if (!rc && !incomplete) rc = xfer_results_set_complete(r, 1, &e);
    int rc2 = xfer_results_close(r, &e);
    if (rc || rc2) return die(&e);
    return 0;
}

/* hold PATH: take the writer lock, say so, wait for stdin to close. */
static int cmd_hold(const char *path) {
    xfer_err e;
    xfer_err_clear(&e);
    xfer_results *r = NULL;
    if (xfer_results_open(path, &r, &e)) return die(&e);
    printf("locked\n");
    fflush(stdout);
    while (getchar() != EOF) {
    }
    return xfer_results_close(r, &e) ? die(&e) : 0;
}

/* open PATH: open as a writer (resume) and close. */
static int cmd_open(const char *path) {
    xfer_err e;
    xfer_err_clear(&e);
    xfer_results *r = NULL;
    if (xfer_results_open(path, &r, &e)) return die(&e);
    return xfer_results_close(r, &e) ? die(&e) : 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "corr")) return cmd_corr(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "write")) return cmd_write(argc - 2, argv + 2);
    if (argc >= 3 && !strcmp(argv[1], "hold")) return cmd_hold(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "open")) return cmd_open(argv[2]);
    fprintf(stderr, "usage: results_tool corr FILE | write OUT [--shard I/N] [--config TEXT] "
                    "[--incomplete] | hold PATH | open PATH\n");
    return 2;
}
