/* Earth mover's distance between histograms under an arbitrary ground cost.
 *
 * Exact: the transportation simplex (u-v / MODI method) in float64. Zero-mass bins are dropped
 * before solving; each histogram is normalised to total mass 1 (a / sum(a), b / sum(b)), so
 * histograms of unequal total mass are compared as distributions. m and n may differ.
 *
 * Entropic: log-domain Sinkhorn over a batch of problems sharing one cost matrix; returns the
 * transport cost <P, M> of the entropic plan P (what POT's ot.sinkhorn2 returns), not including
 * the entropy term. */
#ifndef XFER_EMD_H
#define XFER_EMD_H

#include "xfer/error.h"

/* a [m], b [n] non-negative with positive sums; M [m,n] row-major, finite. On success *cost =
 * min_P <P, M> over plans with marginals a/sum(a), b/sum(b); plan (may be NULL) receives P [m,n].
 */
int xfer_emd_exact(const double *a, int m, const double *b, int n, const double *M, double *cost,
                   double *plan, xfer_err *err);

typedef struct {
    double reg;   /* entropic regularisation epsilon (> 0), in the units of M */
    int max_iter; /* default 10000 when <= 0 */
    double tol;   /* stop when the L1 marginal error of the row sums is below; default 1e-12 */
} xfer_sinkhorn_opts;

/* batch problems: a [batch,m], b [batch,n] (each row normalised to mass 1 like xfer_emd_exact),
 * one cost M [m,n]; cost [batch]. Returns XFER_EINPUT on bad input; a problem that does not reach
 * tol within max_iter still returns its current cost (iterations [batch] may be NULL; receives the
 * iterations used, negative when not converged). */
int xfer_sinkhorn_batch(const double *a, const double *b, int batch, int m, int n, const double *M,
                        const xfer_sinkhorn_opts *opts, double *cost, int *iterations,
                        xfer_err *err);

#endif
