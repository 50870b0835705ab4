/* libFuzzer target for the decoded dataset cache as training loads it (xfer_imageset_load),
 * structure-aware (fuzz_h5.h): a valid cache made by `xfer prepare` (corpus/cache_raw/) is edited
 * through the HDF5 API as the input says — datasets and attributes retyped, reshaped, refilled,
 * deleted or added — then loaded. What the loader accepts must be safe to train on: labels within
 * the class count, a class name for every class, a path for every image. */
#include <stdlib.h>

#include "fuzz_h5.h"
#include "xfer/cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const CACHE_NAMES[] = {"images",
                                          "labels",
                                          "paths",
                                          "class_names",
                                          "xfer_cache_version",
                                          "dataset",
                                          "kind",
                                          "cache_size",
                                          "parameters",
                                          "fingerprint",
                                          "n_bad",
                                          "n_skipped",
                                          "n_listed",
                                          "a"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    fz_h5_set_names(CACHE_NAMES, sizeof CACHE_NAMES / sizeof CACHE_NAMES[0]);
    const char *path =
        fz_h5_mutate(XFER_FUZZ_SOURCE_DIR "/tests/fuzz/corpus/cache_raw/tiny_cache.h5", data, size);
    if (!path) return 0;
    xfer_imageset set;
    xfer_err err;
    if (xfer_imageset_load(path, &set, &err) != XFER_OK) return 0;
    if (set.n < 0 || set.size <= 0 || set.n_classes <= 0) abort();
    for (int i = 0; i < set.n; i++) {
        if (set.labels[i] < 0 || set.labels[i] >= set.n_classes) abort();
        if (!set.paths[i]) abort();
    }
    for (int c = 0; c < set.n_classes; c++)
        if (!set.class_names[c]) abort();
    volatile uint8_t sink = 0; /* every pixel must be readable */
    for (size_t k = 0; k < (size_t)set.n * set.size * set.size * 3; k++)
        sink ^= set.images[k];
    (void)sink;
    xfer_imageset_free(&set);
    return 0;
}
