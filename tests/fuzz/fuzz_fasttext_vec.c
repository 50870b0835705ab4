/* libFuzzer target for fastText .vec text files: xfer_vec_lookup streams the file ("count dim"
 * header, then rows) looking up a few words. Seeds: corpus/fasttext_vec/. */
#include "fuzz_tmp.h"
#include "xfer/wordvec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_tmp_write(0, ".vec", data, size);
    if (!path) return 0;
    const char *words[] = {"cat", "dog", "the", "", "coat"};
    unsigned char found[5];
    float *v = NULL;
    int dim = 0;
    xfer_err err;
    if (xfer_vec_lookup(path, words, 5, &dim, &v, found, &err) == XFER_OK) {
        volatile float s = 0;
        for (int i = 0; i < 5 * dim; i++)
            s += v[i]; /* every row the lookup claims is readable */
        (void)s;
    }
    free(v);
    return 0;
}
