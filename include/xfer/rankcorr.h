/* Rank statistics used by `xfer report` / `xfer merge`, matching scipy.stats: pearsonr,
 * spearmanr (average ranks for ties), kendalltau (tau-b), weightedtau (defaults: hyperbolic weigher
 * 1/(r+1), additive, rank=True i.e. ranks from x then y averaged). NaN when undefined (n < 2,
 * constant input). Inputs are n values each; they are not modified. */
#ifndef XFER_RANKCORR_H
#define XFER_RANKCORR_H

#include <stddef.h>

double xfer_pearson(const double *x, const double *y, size_t n);
double xfer_spearman(const double *x, const double *y, size_t n);
double xfer_kendall_tau_b(const double *x, const double *y, size_t n);
double xfer_weighted_tau(const double *x, const double *y, size_t n);
/* Top-1: 1 if the highest x is at the highest y (ties in x: the first), else 0; *gap = max(y) -
 * y[argmax x]. n == 0: returns -1 and *gap = NaN. gap may be NULL. */
int xfer_top1(const double *x, const double *y, size_t n, double *gap);

/* Average ranks (1-based, ties get the mean of their positions), as scipy.stats.rankdata's
 * default method; rank must hold n values. Returns 0, or -1 when out of memory. */
int xfer_rankdata(const double *x, size_t n, double *rank);

#endif
