#include "xfer/strset.h"

#include <stdlib.h>
#include <string.h>

int xfer_strset_add(const char ***v, size_t *n, const char *s) {
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0) return 0;
    const char **nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv) return -1;
    nv[(*n)++] = s;
    *v = nv;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void xfer_strset_sort(const char **v, size_t n) {
    if (n) qsort(v, n, sizeof *v, cmp_str);
}

char *xfer_str_trim(char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = 0;
    return s;
}
