/* libFuzzer target for the safetensors reader: header parse, tensor table, layout checks, and every
 * conversion on whatever validates. Built only with -DXFER_FUZZ=ON (clang, -fsanitize=fuzzer,
 * address,undefined); the fuzz build is wired in CMake by the lead, e.g.
 *   add_executable(fuzz_safetensors tests/fuzz/fuzz_safetensors.c)
 *   target_link_libraries(fuzz_safetensors PRIVATE xfer_core)
 *   target_link_options(fuzz_safetensors PRIVATE -fsanitize=fuzzer)
 * Seeds: tests/fuzz/corpus/safetensors/. */
#include "xfer/safetensors.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    xfer_safetensors st;
    xfer_err err;
    if (xfer_st_open_memory(data, size, "fuzz.safetensors", &st, &err) != XFER_OK) return 0;
    (void)xfer_st_meta(&st, "arch");
    for (int i = 0; i < st.n_tensors; i++) {
        const xfer_st_tensor *t = &st.tensors[i];
        if (xfer_st_find(&st, t->name) == NULL) abort(); /* names are unique and findable */
        size_t n = (size_t)t->numel;
        if (n > ((size_t)1 << 24)) continue; /* validated sizes fit the input: cannot happen */
        float *f = malloc((n ? n : 1) * sizeof *f);
        int64_t *q = malloc((n ? n : 1) * sizeof *q);
        if (f && q) {
            (void)xfer_st_read_f32(&st, t, f, n, &err);
            (void)xfer_st_read_i64(&st, t, q, n, &err);
            (void)xfer_st_count_nonfinite(&st, t);
        }
        free(f);
        free(q);
    }
    xfer_st_close(&st);
    return 0;
}
