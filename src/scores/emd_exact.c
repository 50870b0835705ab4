/* Exact EMD by the transportation simplex (u-v / MODI method), float64. Zero-mass bins are
 * removed first; both histograms are normalised to mass 1. Start: the north-west corner rule,
 * which gives a spanning-tree basis of exactly m+n-1 cells (zero-flow cells keep degenerate bases
 * a tree). Each iteration computes the potentials u_i + v_j = C_ij on the basis tree, enters the
 * cell of most negative reduced cost C_ij - u_i - v_j (Dantzig's rule) and pivots around the
 * cycle it closes in the tree. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xfer/emd.h"

#define EMD_MAX_ITER_PER_CELL 50 /* iteration cap: 50 (m+n) + 1000 pivots */

typedef struct {
    int m, n, nb;         /* rows, cols, basic cells (m+n-1) */
    int *bi, *bj;         /* basic cells */
    double *bx;           /* flows */
    int *deg, *off, *adj; /* tree adjacency: node -> basic cell indices (rows 0..m-1, cols m..) */
    int *par, *pedge, *queue;
    double *pot; /* u (rows) then v (cols) */
} tsimplex;

static void build_adj(tsimplex *t) {
    int nodes = t->m + t->n;
    memset(t->deg, 0, (size_t)nodes * sizeof *t->deg);
    for (int e = 0; e < t->nb; e++)
        t->deg[t->bi[e]]++, t->deg[t->m + t->bj[e]]++;
    t->off[0] = 0;
    for (int v = 0; v < nodes; v++)
        t->off[v + 1] = t->off[v] + t->deg[v];
    memset(t->deg, 0, (size_t)nodes * sizeof *t->deg);
    for (int e = 0; e < t->nb; e++) {
        int r = t->bi[e], c = t->m + t->bj[e];
        t->adj[t->off[r] + t->deg[r]++] = e;
        t->adj[t->off[c] + t->deg[c]++] = e;
    }
}

/* BFS over the basis tree from root; fills par/pedge; with C also the potentials. Returns the
 * number of nodes reached. */
static int bfs(tsimplex *t, int root, const double *C) {
    int nodes = t->m + t->n, head = 0, tail = 0;
    for (int v = 0; v < nodes; v++)
        t->par[v] = -2;
    t->par[root] = -1;
    t->queue[tail++] = root;
    if (C) t->pot[root] = 0;
    while (head < tail) {
        int v = t->queue[head++];
        for (int q = t->off[v]; q < t->off[v + 1]; q++) {
            int e = t->adj[q];
            int w = v < t->m ? t->m + t->bj[e] : t->bi[e];
            if (t->par[w] != -2) continue;
            t->par[w] = v;
            t->pedge[w] = e;
            if (C) {
                double c = C[(size_t)t->bi[e] * t->n + t->bj[e]];
                t->pot[w] = c - t->pot[v]; /* u_i + v_j = c_ij */
            }
            t->queue[tail++] = w;
        }
    }
    return tail;
}

int xfer_emd_exact(const double *a, int m, const double *b, int n, const double *M, double *cost,
                   double *plan, xfer_err *err) {
    if (m <= 0 || n <= 0)
        return xfer_fail(err, XFER_EINPUT, "emd: empty histogram (%d x %d)", m, n);
    double sa = 0, sb = 0;
    for (int i = 0; i < m; i++) {
        if (!(a[i] >= 0) || !isfinite(a[i]))
            return xfer_fail(err, XFER_EINPUT, "emd: a[%d] = %g (expected finite, >= 0)", i, a[i]);
        sa += a[i];
    }
    for (int j = 0; j < n; j++) {
        if (!(b[j] >= 0) || !isfinite(b[j]))
            return xfer_fail(err, XFER_EINPUT, "emd: b[%d] = %g (expected finite, >= 0)", j, b[j]);
        sb += b[j];
    }
    if (!(sa > 0) || !(sb > 0))
        return xfer_fail(err, XFER_EINPUT, "emd: a histogram has zero mass");
    for (size_t q = 0; q < (size_t)m * n; q++)
        if (!isfinite(M[q]))
            return xfer_fail(err, XFER_EINPUT, "emd: cost[%zu,%zu] is not finite", q / n, q % n);
    int *ri = malloc((size_t)m * sizeof *ri), *cj = malloc((size_t)n * sizeof *cj);
    if (!ri || !cj) {
        free(ri);
        free(cj);
        return xfer_fail(err, XFER_EINTERNAL, "out of memory");
    }
    int mm = 0, nn = 0;
    for (int i = 0; i < m; i++)
        if (a[i] > 0) ri[mm++] = i;
    for (int j = 0; j < n; j++)
        if (b[j] > 0) cj[nn++] = j;
    tsimplex t;
    memset(&t, 0, sizeof t);
    t.m = mm, t.n = nn, t.nb = mm + nn - 1;
    int nodes = mm + nn;
    double *C = malloc((size_t)mm * nn * sizeof *C), *ra = malloc((size_t)mm * sizeof *ra);
    double *rb = malloc((size_t)nn * sizeof *rb);
    t.bi = malloc((size_t)t.nb * sizeof *t.bi);
    t.bj = malloc((size_t)t.nb * sizeof *t.bj);
    t.bx = malloc((size_t)t.nb * sizeof *t.bx);
    t.deg = malloc((size_t)nodes * sizeof *t.deg);
    t.off = malloc((size_t)(nodes + 1) * sizeof *t.off);
    t.adj = malloc((size_t)2 * t.nb * sizeof *t.adj);
    t.par = malloc((size_t)nodes * sizeof *t.par);
    t.pedge = malloc((size_t)nodes * sizeof *t.pedge);
    t.queue = malloc((size_t)nodes * sizeof *t.queue);
    t.pot = malloc((size_t)nodes * sizeof *t.pot);
    unsigned char *sign = malloc((size_t)t.nb);
    int rc = XFER_OK;
    if (!C || !ra || !rb || !t.bi || !t.bj || !t.bx || !t.deg || !t.off || !t.adj || !t.par ||
        !t.pedge || !t.queue || !t.pot || !sign) {
        rc = xfer_fail(err, XFER_EINTERNAL, "out of memory");
        goto done;
    }
    double cmax = 0;
    for (int i = 0; i < mm; i++) {
        ra[i] = a[ri[i]] / sa;
        for (int j = 0; j < nn; j++) {
            C[(size_t)i * nn + j] = M[(size_t)ri[i] * n + cj[j]];
            cmax = fabs(C[(size_t)i * nn + j]) > cmax ? fabs(C[(size_t)i * nn + j]) : cmax;
        }
    }
    for (int j = 0; j < nn; j++)
        rb[j] = b[cj[j]] / sb;
    /* North-west corner. */
    {
        int i = 0, j = 0;
        for (int e = 0; e < t.nb; e++) {
            double f = ra[i] < rb[j] ? ra[i] : rb[j];
            if (e == t.nb - 1) f = ra[i] > rb[j] ? ra[i] : rb[j]; /* absorb rounding */
            t.bi[e] = i, t.bj[e] = j, t.bx[e] = f;
            ra[i] -= f, rb[j] -= f;
            if (e == t.nb - 1) break;
            if (j == nn - 1 || (i < mm - 1 && ra[i] <= rb[j]))
                i++;
            else
                j++;
        }
    }
    const double tol = 1e-12 * (cmax > 0 ? cmax : 1);
    long max_iter = (long)EMD_MAX_ITER_PER_CELL * nodes + 1000, it;
    for (it = 0; it < max_iter; it++) {
        build_adj(&t);
        if (bfs(&t, 0, C) != nodes) {
            rc = xfer_fail(err, XFER_EINTERNAL, "emd: basis is not a spanning tree (bug)");
            goto done;
        }
        int ei = -1, ej = -1;
        double best = -tol;
        for (int i = 0; i < mm; i++) {
            const double *c = C + (size_t)i * nn, *v = t.pot + mm;
            double u = t.pot[i];
            for (int j = 0; j < nn; j++) {
                double r = c[j] - u - v[j];
                if (r < best) best = r, ei = i, ej = j;
            }
        }
        if (ei < 0) break; /* optimal */
        /* Path in the tree from column ej up to row ei (root the BFS at ei). */
        bfs(&t, ei, NULL);
        memset(sign, 0, (size_t)t.nb);
        int leave = -1, k = 0;
        double theta = INFINITY;
        for (int v = mm + ej; v != ei; v = t.par[v], k++) {
            int e = t.pedge[v];
            sign[e] = (k % 2 == 0) ? 2 : 1; /* 2: minus, 1: plus */
            if (sign[e] == 2 && t.bx[e] < theta) theta = t.bx[e], leave = e;
        }
        for (int e = 0; e < t.nb; e++) {
            if (sign[e] == 1)
                t.bx[e] += theta;
            else if (sign[e] == 2)
                t.bx[e] -= theta;
        }
        t.bi[leave] = ei, t.bj[leave] = ej, t.bx[leave] = theta;
    }
    if (it == max_iter) {
        rc = xfer_fail(err, XFER_EINTERNAL,
                       "emd: transportation simplex did not converge in %ld "
                       "pivots",
                       max_iter);
        goto done;
    }
    double total = 0;
    for (int e = 0; e < t.nb; e++)
        total += t.bx[e] * C[(size_t)t.bi[e] * nn + t.bj[e]];
    *cost = total;
    if (plan) {
        memset(plan, 0, (size_t)m * n * sizeof *plan);
        for (int e = 0; e < t.nb; e++)
            plan[(size_t)ri[t.bi[e]] * n + cj[t.bj[e]]] += t.bx[e];
    }
done:
    free(ri);
    free(cj);
    free(C);
    free(ra);
    free(rb);
    free(t.bi);
    free(t.bj);
    free(t.bx);
    free(t.deg);
    free(t.off);
    free(t.adj);
    free(t.par);
    free(t.pedge);
    free(t.queue);
    free(t.pot);
    free(sign);
    return rc;
}
