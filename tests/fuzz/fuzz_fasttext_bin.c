/* libFuzzer target for fastText .bin models: header, args, dictionary and matrix checks in
 * xfer_fasttext_open, then word vectors (in vocabulary and subword) read from the file. Seeds:
 * corpus/fasttext_bin/ (tiny models trained with the fastText CLI). */
#include "fuzz_tmp.h"
#include "xfer/wordvec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_tmp_write(0, ".bin", data, size);
    if (!path) return 0;
    xfer_fasttext *m = NULL;
    xfer_err err;
    if (xfer_fasttext_open(path, &m, &err) != XFER_OK) return 0;
    int dim = xfer_fasttext_dim(m);
    if (dim > 0 && dim <= 4096) {
        float *v = malloc((size_t)dim * sizeof *v);
        const char *words[] = {"the", "cat", "zzqx", "a", "</s>"};
        for (int i = 0; v && i < 5; i++) {
            int n_rows = 0;
            (void)xfer_fasttext_word_id(m, words[i]);
            (void)xfer_fasttext_word_vector(m, words[i], v, &n_rows, &err);
        }
        free(v);
    }
    xfer_fasttext_close(m);
    return 0;
}
