/* Entropic optimal transport by log-domain Sinkhorn over a batch of problems sharing one cost
 * matrix: potentials f, g with f_i = eps log a_i - eps LSE_j((g_j - M_ij)/eps) and
 * g_j = eps log b_j - eps LSE_i((f_i - M_ij)/eps); plan P_ij = exp((f_i + g_j - M_ij)/eps).
 * Zero-mass bins carry potential -inf and no mass. Stops when the L1 error of P's row sums is
 * below tol (checked every SINKHORN_CHECK iterations). The cost is <P, M> (POT's sinkhorn2). */
#include <math.h>
#include <stdlib.h>

#include "xfer/emd.h"

#define SINKHORN_CHECK 10
#define SINKHORN_MAX_ITER 10000
#define SINKHORN_TOL 1e-12

static void solve_one(const double *a, const double *b, int m, int n, const double *M, double eps,
                      int max_iter, double tol, double *f, double *g, double *cost, int *iters) {
    for (int i = 0; i < m; i++)
        f[i] = a[i] > 0 ? 0 : -INFINITY;
    for (int j = 0; j < n; j++)
        g[j] = b[j] > 0 ? 0 : -INFINITY;
    int it, conv = 0;
    for (it = 1; it <= max_iter; it++) {
        for (int i = 0; i < m; i++) {
            if (!(a[i] > 0)) continue;
            const double *Mi = M + (size_t)i * n;
            double mx = -INFINITY, s = 0;
            for (int j = 0; j < n; j++)
                if (b[j] > 0 && (g[j] - Mi[j]) > mx) mx = g[j] - Mi[j];
            for (int j = 0; j < n; j++)
                if (b[j] > 0) s += exp((g[j] - Mi[j] - mx) / eps);
            f[i] = eps * log(a[i]) - mx - eps * log(s);
        }
        for (int j = 0; j < n; j++) {
            if (!(b[j] > 0)) continue;
            double mx = -INFINITY, s = 0;
            for (int i = 0; i < m; i++)
                if (a[i] > 0 && (f[i] - M[(size_t)i * n + j]) > mx)
                    mx = f[i] - M[(size_t)i * n + j];
            for (int i = 0; i < m; i++)
                if (a[i] > 0) s += exp((f[i] - M[(size_t)i * n + j] - mx) / eps);
            g[j] = eps * log(b[j]) - mx - eps * log(s);
        }
        if (it % SINKHORN_CHECK == 0 || it == max_iter) {
            double e = 0;
            for (int i = 0; i < m; i++) {
                if (!(a[i] > 0)) continue;
                double r = 0;
                for (int j = 0; j < n; j++)
                    if (b[j] > 0) r += exp((f[i] + g[j] - M[(size_t)i * n + j]) / eps);
                e += fabs(r - a[i]);
            }
            if (e < tol) {
                conv = 1;
                break;
            }
        }
    }
    double c = 0;
    for (int i = 0; i < m; i++) {
        if (!(a[i] > 0)) continue;
        for (int j = 0; j < n; j++)
            if (b[j] > 0)
                c += exp((f[i] + g[j] - M[(size_t)i * n + j]) / eps) * M[(size_t)i * n + j];
    }
    *cost = c;
    *iters = conv ? it : -(it > max_iter ? max_iter : it);
}

int xfer_sinkhorn_batch(const double *a, const double *b, int batch, int m, int n, const double *M,
                        const xfer_sinkhorn_opts *opts, double *cost, int *iterations,
                        xfer_err *err) {
    double eps = opts ? opts->reg : 0;
    int max_iter = opts && opts->max_iter > 0 ? opts->max_iter : SINKHORN_MAX_ITER;
    double tol = opts && opts->tol > 0 ? opts->tol : SINKHORN_TOL;
    if (!(eps > 0) || !isfinite(eps))
        return xfer_fail(err, XFER_EINPUT, "sinkhorn: reg = %g (expected > 0)", eps);
    if (batch <= 0 || m <= 0 || n <= 0)
        return xfer_fail(err, XFER_EINPUT, "sinkhorn: empty problem (%d x %d x %d)", batch, m, n);
    for (size_t q = 0; q < (size_t)m * n; q++)
        if (!isfinite(M[q]))
            return xfer_fail(err, XFER_EINPUT, "sinkhorn: cost[%zu,%zu] is not finite", q / n,
                             q % n);
    double *na = malloc((size_t)batch * m * sizeof *na),
           *nb = malloc((size_t)batch * n * sizeof *nb);
    if (!na || !nb) {
        free(na);
        free(nb);
        return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    }
    for (int p = 0; p < batch; p++) {
        double sa = 0, sb = 0;
        for (int i = 0; i < m; i++) {
            double x = a[(size_t)p * m + i];
            if (!(x >= 0) || !isfinite(x)) {
                free(na);
                free(nb);
                return xfer_fail(err, XFER_EINPUT, "sinkhorn: a[%d,%d] = %g", p, i, x);
            }
            sa += x;
        }
        for (int j = 0; j < n; j++) {
            double x = b[(size_t)p * n + j];
            if (!(x >= 0) || !isfinite(x)) {
                free(na);
                free(nb);
                return xfer_fail(err, XFER_EINPUT, "sinkhorn: b[%d,%d] = %g", p, j, x);
            }
            sb += x;
        }
        if (!(sa > 0) || !(sb > 0)) {
            free(na);
            free(nb);
            return xfer_fail(err, XFER_EINPUT, "sinkhorn: problem %d has a zero-mass histogram", p);
        }
        for (int i = 0; i < m; i++)
            na[(size_t)p * m + i] = a[(size_t)p * m + i] / sa;
        for (int j = 0; j < n; j++)
            nb[(size_t)p * n + j] = b[(size_t)p * n + j] / sb;
    }
    int oom = 0;
#pragma omp parallel
    {
        double *f = malloc((size_t)m * sizeof *f), *g = malloc((size_t)n * sizeof *g);
        if (!f || !g) {
#pragma omp atomic write
            oom = 1;
        }
#pragma omp for schedule(dynamic)
        for (int p = 0; p < batch; p++) {
            int its = 0;
            if (f && g)
                solve_one(na + (size_t)p * m, nb + (size_t)p * n, m, n, M, eps, max_iter, tol, f, g,
                          &cost[p], &its);
            if (iterations) iterations[p] = its;
        }
        free(f);
        free(g);
    }
    free(na);
    free(nb);
    if (oom) return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    return XFER_OK;
}
