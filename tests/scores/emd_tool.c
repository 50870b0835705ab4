/* Driver for test_emd.py: reads problems as text on stdin and prints xfer's costs.
 *   exact M N  a[M] b[N] C[M*N]          -> "cost"
 *   sinkhorn B M N reg  a[B*M] b[B*N] C[M*N] -> B costs
 * Errors: "error: message" and exit 2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfer/emd.h"

static double *read_vec(size_t n) {
    double *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; v && i < n; i++)
        if (scanf("%lf", &v[i]) != 1) {
            free(v);
            return NULL;
        }
    return v;
}

int main(void) {
    char kind[16];
    xfer_err err;
    xfer_err_clear(&err);
    while (scanf("%15s", kind) == 1) {
        int rc;
        if (strcmp(kind, "exact") == 0) {
            int m, n;
            if (scanf("%d %d", &m, &n) != 2) return 1;
            double *a = read_vec(m), *b = read_vec(n), *C = read_vec((size_t)m * n), cost = 0;
            if (!a || !b || !C) return 1;
            rc = xfer_emd_exact(a, m, b, n, C, &cost, NULL, &err);
            if (rc == 0) printf("%.17g\n", cost);
            free(a);
            free(b);
            free(C);
        } else if (strcmp(kind, "sinkhorn") == 0) {
            int B, m, n;
            double reg;
            if (scanf("%d %d %d %lf", &B, &m, &n, &reg) != 4) return 1;
            double *a = read_vec((size_t)B * m), *b = read_vec((size_t)B * n);
            double *C = read_vec((size_t)m * n), *cost = malloc((size_t)B * sizeof *cost);
            if (!a || !b || !C || !cost) return 1;
            xfer_sinkhorn_opts o = {reg, 0, 0};
            rc = xfer_sinkhorn_batch(a, b, B, m, n, C, &o, cost, NULL, &err);
            for (int p = 0; rc == 0 && p < B; p++)
                printf("%.17g\n", cost[p]);
            free(a);
            free(b);
            free(C);
            free(cost);
        } else {
            return 1;
        }
        if (rc) {
            printf("error: %s\n", err.msg);
            return 2;
        }
        fflush(stdout);
    }
    return 0;
}
