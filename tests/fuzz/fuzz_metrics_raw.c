/* libFuzzer target (raw bytes) for `xfer metrics` inputs: an HDF5 file loaded with
 * xfer_metric_file_load (a temp file per input), then every registered metric whose inputs are
 * present, as `xfer metrics` computes them. Inputs are capped at 64 KiB (the metrics are O(N^2 ..
 * N*D^2)). Seeds: corpus/metrics_raw/ (small files made with h5py, valid and malformed). */
#include <hdf5.h>

#include "fuzz_tmp.h"
#include "xfer/metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int init;
    if (!init) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        init = 1;
    }
    if (size > 65536) return 0;
    const char *path = fuzz_tmp_write(0, ".h5", data, size);
    if (!path) return 0;
    xfer_metric_file f;
    xfer_err err;
    if (xfer_metric_file_load(path, &f, &err) != XFER_OK) return 0;
    /* keep each run bounded: the exact EMD and LogME are cubic */
    if ((long long)f.in.n * (f.in.d + f.in.cs + f.in.ct) <= 20000 && f.in.d <= 64 &&
        f.in.cs <= 64 && f.in.ct <= 64) {
        int count = 0;
        const xfer_metric_def *t = xfer_metric_table(&count);
        for (int i = 0; i < count; i++) {
            xfer_metric_result r;
            (void)xfer_metric_compute(&t[i], &f.in, NULL, &r, &err);
        }
    }
    xfer_metric_file_free(&f);
    return 0;
}
