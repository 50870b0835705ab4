/* st_dump FILE: opens a safetensors file with xfer's reader and prints, per tensor,
 *   name<TAB>dtype<TAB>d0,d1,..<TAB>sum<TAB>sum of squares<TAB>first<TAB>last<TAB>non-finite
 * with the values converted to float32 (sums in double), then a line "meta KEY=VALUE" per
 * metadata entry. The Python tests compare these figures with torch's. Exit 2 with the error
 * message on stderr when the file is rejected. */
#include "xfer/safetensors.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: st_dump FILE.safetensors\n");
        return 2;
    }
    xfer_safetensors st;
    xfer_err err;
    int rc = xfer_st_open(argv[1], &st, &err);
    if (rc) {
        fprintf(stderr, "%s\n", err.msg);
        return rc;
    }
    for (int i = 0; i < st.n_tensors && !rc; i++) {
        const xfer_st_tensor *t = &st.tensors[i];
        float *v = malloc((size_t)(t->numel ? t->numel : 1) * sizeof *v);
        if (!v) {
            rc = XFER_EINTERNAL;
            break;
        }
        rc = xfer_st_read_f32(&st, t, v, (size_t)t->numel, &err);
        double s = 0, s2 = 0;
        for (int64_t k = 0; !rc && k < t->numel; k++)
            s += v[k], s2 += (double)v[k] * v[k];
        printf("%s\t%s\t", t->name, xfer_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++)
            printf(d ? ",%lld" : "%lld", (long long)t->shape[d]);
        printf("\t%.17g\t%.17g\t%.9g\t%.9g\t%d\n", s, s2, t->numel ? v[0] : 0.0,
               t->numel ? v[t->numel - 1] : 0.0, xfer_st_count_nonfinite(&st, t));
        free(v);
    }
    for (int i = 0; i < st.n_meta; i++)
        printf("meta %s=%s\n", st.meta_keys[i], st.meta_values[i]);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    xfer_st_close(&st);
    return rc;
}
