/* Stratified train/test splits from a seed (see xfer_split_make in data.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xfer/data.h"

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

void xfer_split_free(xfer_split *sp) {
    if (!sp) return;
    free(sp->train);
    free(sp->test);
    memset(sp, 0, sizeof *sp);
}

int xfer_split_make(const xfer_dataset_cfg *cfg, const int32_t *labels, int n, int n_classes,
                    uint64_t seed, xfer_split *sp, xfer_err *err) {
    memset(sp, 0, sizeof *sp);
    int *members = malloc((size_t)(n > 0 ? n : 1) * sizeof *members);
    sp->train = malloc((size_t)(n > 0 ? n : 1) * sizeof *sp->train);
    sp->test = malloc((size_t)(n > 0 ? n : 1) * sizeof *sp->test);
    if (!members || !sp->train || !sp->test) {
        free(members);
        xfer_split_free(sp);
        return xfer_fail(err, XFER_EINTERNAL, "out of memory making the split");
    }
    for (int c = 0; c < n_classes; c++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (labels[i] == c) members[m++] = i;
        /* Fisher-Yates with a per-class counter-based stream */
        uint64_t key = xfer_rng_key(seed, 0x5b1170ULL, (uint64_t)c);
        for (int i = m - 1; i > 0; i--) {
            int j = (int)(xfer_rng_u64(key, (uint64_t)i) % (uint64_t)(i + 1));
            int t = members[i];
            members[i] = members[j];
            members[j] = t;
        }
        int n_train, n_test;
        if (cfg->train_per_class > 0) {
            n_train = cfg->train_per_class;
            int rest = m - n_train;
            n_test = cfg->test_per_class > 0 ? cfg->test_per_class : rest;
            if (rest < 1 || n_test > rest) {
                free(members);
                xfer_split_free(sp);
                return xfer_fail(err, XFER_EINPUT,
                                 "dataset %s: class %d has %d images, fewer than "
                                 "train_per_class %d + test_per_class %d",
                                 cfg->name ? cfg->name : "?", c, m, cfg->train_per_class,
                                 cfg->test_per_class > 0 ? cfg->test_per_class : 1);
            }
        } else {
            double f = cfg->train_fraction > 0 ? cfg->train_fraction : 0.8;
            n_train = (int)nearbyint(f * m);
            if (m >= 2) {
                if (n_train < 1) n_train = 1;
                if (n_train > m - 1) n_train = m - 1;
            }
            n_test = m - n_train;
        }
        for (int i = 0; i < n_train; i++)
            sp->train[sp->n_train++] = members[i];
        for (int i = 0; i < n_test; i++)
            sp->test[sp->n_test++] = members[n_train + i];
    }
    free(members);
    qsort(sp->train, (size_t)sp->n_train, sizeof(int), cmp_int);
    qsort(sp->test, (size_t)sp->n_test, sizeof(int), cmp_int);
    return XFER_OK;
}

int xfer_split_given(const int8_t *flags, int n, xfer_split *sp, xfer_err *err) {
    memset(sp, 0, sizeof *sp);
    sp->train = malloc((size_t)(n > 0 ? n : 1) * sizeof *sp->train);
    sp->test = malloc((size_t)(n > 0 ? n : 1) * sizeof *sp->test);
    if (!sp->train || !sp->test) {
        xfer_split_free(sp);
        return xfer_fail(err, XFER_EINTERNAL, "out of memory making the split");
    }
    for (int i = 0; i < n; i++)
        if (flags[i])
            sp->test[sp->n_test++] = i;
        else
            sp->train[sp->n_train++] = i;
    return XFER_OK;
}
