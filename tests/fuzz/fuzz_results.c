/* libFuzzer target for results files as `xfer report` and `xfer merge` read them, structure-aware
 * (fuzz_h5.h): a valid results file written by a tiny `xfer run` (corpus/results_raw/, chosen by
 * the first input byte) is edited through the HDF5 API as the rest of the input says — attributes
 * and datasets retyped, reshaped, refilled, deleted or added — then read with xfer_results_read and
 * its correlations recomputed. fuzz_results_raw mutates the file's bytes instead. */
#include "fuzz_h5.h"
#include "xfer/results.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const seeds[] = {
        XFER_FUZZ_SOURCE_DIR "/tests/fuzz/corpus/results_raw/tiny_run.h5",
        XFER_FUZZ_SOURCE_DIR "/tests/fuzz/corpus/results_raw/malformed_types.h5"};
    if (size < 1 || size > 4096) return 0;
    const char *path = fz_h5_mutate(seeds[data[0] & 1], data + 1, size - 1);
    if (!path) return 0;
    xfer_results_data *d = NULL;
    xfer_err err;
    if (xfer_results_read(path, &d, &err) != XFER_OK) return 0;
    for (size_t i = 0; i < d->n_sources; i++) {
        const xfer_results_source *s = &d->sources[i];
        if (xfer_results_find_source(d, s->name) == NULL) abort();
        for (size_t k = 0; k < s->n_scores; k++)
            (void)xfer_results_find_score(s, s->scores[k].metric);
    }
    xfer_results_corr *c = NULL;
    size_t n = 0;
    if (xfer_results_compute_corr(d, &c, &n, &err) == XFER_OK) xfer_results_corr_free(c, n);
    xfer_results_data_free(d);
    return 0;
}
