/* libFuzzer target for IDX datasets (plain and gzip, read by zlib's gzread): the input is split
 * into an images file and a labels file at the offset given by its first two bytes
 * (little-endian); both go through xfer_dataset_scan with kind idx, then a split. Seeds:
 * corpus/idx/ (Fashion-MNIST subsets, plain and gzip, and a few broken ones). */
#include "fuzz_tmp.h"
#include "xfer/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t cut = (size_t)data[0] | ((size_t)data[1] << 8);
    data += 2;
    size -= 2;
    if (cut > size) cut = size;
    const char *images = fuzz_tmp_write(0, "-images.gz", data, cut);
    const char *labels = fuzz_tmp_write(1, "-labels.gz", data + cut, size - cut);
    if (!images || !labels) return 0;
    xfer_dataset_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.name = "fuzz";
    cfg.kind = XFER_DS_IDX;
    cfg.images = (char *)images;
    cfg.labels = (char *)labels;
    char *exclude[] = {"3"};
    cfg.exclude = exclude;
    cfg.n_exclude = size & 1; /* sometimes drop a class */
    cfg.train_per_class = 2;
    cfg.split_seed = 1;
    xfer_dataset ds;
    xfer_err err;
    if (xfer_dataset_scan(&cfg, &ds, &err) != XFER_OK) return 0;
    xfer_split sp;
    if (xfer_split_make(&cfg, ds.labels, ds.n, ds.n_classes, 1, &sp, &err) == XFER_OK)
        xfer_split_free(&sp);
    xfer_dataset_free(&ds);
    return 0;
}
