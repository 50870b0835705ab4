/* libFuzzer target for `xfer metrics` inputs, structure-aware (fuzz_h5.h): a valid metrics file
 * made with h5py (corpus/metrics_raw/, chosen by the first input byte) is edited through the HDF5
 * API as the rest of the input says (features/probs/logits/labels/ground_distance/class names
 * retyped, reshaped, refilled with any bytes — NaN, inf, huge labels — deleted or added), then
 * loaded with xfer_metric_file_load and every registered metric computed on it. fuzz_metrics_raw
 * mutates the file's bytes instead. */
#include "fuzz_h5.h"
#include "xfer/metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const seeds[] = {
        XFER_FUZZ_SOURCE_DIR "/tests/fuzz/corpus/metrics_raw/full.h5",
        XFER_FUZZ_SOURCE_DIR "/tests/fuzz/corpus/metrics_raw/probs.h5"};
    if (size < 1 || size > 4096) return 0;
    const char *path = fz_h5_mutate(seeds[data[0] & 1], data + 1, size - 1);
    if (!path) return 0;
    xfer_metric_file f;
    xfer_err err;
    if (xfer_metric_file_load(path, &f, &err) != XFER_OK) return 0;
    int count = 0;
    const xfer_metric_def *t = xfer_metric_table(&count);
    for (int i = 0; i < count; i++) {
        xfer_metric_result r;
        (void)xfer_metric_compute(&t[i], &f.in, NULL, &r, &err);
    }
    xfer_metric_file_free(&f);
    return 0;
}
