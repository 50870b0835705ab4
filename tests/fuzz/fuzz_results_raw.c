/* libFuzzer target (raw bytes) for results files as `xfer report` and `xfer merge` read them: the
 * input is written to a temp file and read with xfer_results_read, then the correlations are
 * recomputed. HDF5 is slow and chatty under fuzzing: its error stack printing is turned off and
 * inputs are capped at 256 KiB. Seeds: corpus/results_raw/ (small results files written by xfer and
 * malformed ones made with h5py). */
#include <hdf5.h>

#include "fuzz_tmp.h"
#include "xfer/results.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int init;
    if (!init) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        init = 1;
    }
    if (size > 262144) return 0;
    const char *path = fuzz_tmp_write(0, ".h5", data, size);
    if (!path) return 0;
    xfer_results_data *d = NULL;
    xfer_err err;
    if (xfer_results_read(path, &d, &err) != XFER_OK) return 0;
    (void)xfer_results_find_source(d, "a");
    xfer_results_corr *c = NULL;
    size_t n = 0;
    if (xfer_results_compute_corr(d, &c, &n, &err) == XFER_OK) xfer_results_corr_free(c, n);
    xfer_results_data_free(d);
    return 0;
}
