/* Rank correlations matching scipy.stats 1.10 (pearsonr, spearmanr, kendalltau tau-b,
 * weightedtau with its defaults). The O(n^2) pair loops are deliberate: xfer correlates a few dozen
 * sources at most, and the pairwise form is the published definition, easy to check. */
#include "xfer/rankcorr.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int all_equal(const double *x, size_t n) {
    for (size_t i = 1; i < n; i++)
        if (x[i] != x[0]) return 0;
    return 1;
}

double xfer_pearson(const double *x, const double *y, size_t n) {
    /* scipy: exact-constant input -> NaN; n == 2 -> sign product; else the normalised dot
     * product of the centred vectors, clipped to [-1, 1]. */
    if (n < 2 || all_equal(x, n) || all_equal(y, n)) return NAN;
    if (n == 2) {
        double a = (x[1] > x[0]) - (x[1] < x[0]), b = (y[1] > y[0]) - (y[1] < y[0]);
        return a * b;
    }
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= (double)n;
    my /= (double)n;
    double sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    double nx = sqrt(sxx), ny = sqrt(syy), r = 0;
    for (size_t i = 0; i < n; i++)
        r += ((x[i] - mx) / nx) * ((y[i] - my) / ny);
    return r > 1 ? 1 : (r < -1 ? -1 : r);
}

typedef struct {
    double v;
    size_t i;
} keyed;

static int keyed_cmp(const void *a, const void *b) {
    const keyed *p = a, *q = b;
    if (p->v < q->v) return -1;
    if (p->v > q->v) return 1;
    return (p->i > q->i) - (p->i < q->i);
}

int xfer_rankdata(const double *x, size_t n, double *rank) {
    if (n == 0) return 0;
    keyed *k = malloc(n * sizeof *k);
    if (!k) return -1;
    for (size_t i = 0; i < n; i++)
        k[i] = (keyed){x[i], i};
    qsort(k, n, sizeof *k, keyed_cmp);
    for (size_t a = 0; a < n;) {
        size_t b = a + 1;
        while (b < n && k[b].v == k[a].v)
            b++;
        double r = 0.5 * (double)(a + 1 + b); /* mean of positions a+1 .. b */
        for (size_t j = a; j < b; j++)
            rank[k[j].i] = r;
        a = b;
    }
    free(k);
    return 0;
}

double xfer_spearman(const double *x, const double *y, size_t n) {
    if (n < 2) return NAN;
    double *rx = malloc(2 * n * sizeof *rx);
    if (!rx) return NAN;
    double *ry = rx + n, r = NAN;
    if (xfer_rankdata(x, n, rx) == 0 && xfer_rankdata(y, n, ry) == 0) r = xfer_pearson(rx, ry, n);
    free(rx);
    return r;
}

static int sgn(double a, double b) {
    return (a > b) - (a < b);
}

double xfer_kendall_tau_b(const double *x, const double *y, size_t n) {
    /* tau_b = (P - Q) / sqrt((n0 - n1)(n0 - n2)), n1/n2 = pairs tied in x/y. */
    if (n < 2) return NAN;
    double s = 0, tx = 0, ty = 0, n0 = 0.5 * (double)n * (double)(n - 1);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            int a = sgn(x[i], x[j]), b = sgn(y[i], y[j]);
            s += a * b;
            tx += a == 0;
            ty += b == 0;
        }
    if (tx == n0 || ty == n0) return NAN;
    double t = s / sqrt(n0 - tx) / sqrt(n0 - ty);
    return t > 1 ? 1 : (t < -1 ? -1 : t);
}

/* Element order for the weighted tau's ranks: decreasing x, ties by decreasing y, remaining ties
 * by decreasing index (scipy reverses a stable ascending lexsort). Rank 0 is the top. */
typedef struct {
    double x, y;
    size_t i;
} pairkey;

static int pairkey_desc(const void *a, const void *b) {
    const pairkey *p = a, *q = b;
    if (p->x != q->x) return p->x > q->x ? -1 : 1;
    if (p->y != q->y) return p->y > q->y ? -1 : 1;
    return (p->i < q->i) - (p->i > q->i);
}

/* One of scipy's _weightedrankedtau(x, y, rank=None, hyperbolic, additive): every pair (i, j)
 * weighs 1/(r_i+1) + 1/(r_j+1) with r the rank by x (then y); tau = (concordant - discordant
 * weight over pairs tied in neither) / sqrt(weight not tied in x) / sqrt(weight not tied in y). */
static double weighted_tau_ranked_by(const double *x, const double *y, size_t n) {
    if (n < 2 || all_equal(x, n) || all_equal(y, n)) return NAN;
    pairkey *k = malloc(n * sizeof *k);
    double *w = malloc(n * sizeof *w);
    if (!k || !w) {
        free(k);
        free(w);
        return NAN;
    }
    for (size_t i = 0; i < n; i++)
        k[i] = (pairkey){x[i], y[i], i};
    qsort(k, n, sizeof *k, pairkey_desc);
    for (size_t r = 0; r < n; r++)
        w[k[r].i] = 1.0 / ((double)r + 1.0);
    double tot = 0, tie_x = 0, tie_y = 0, tie_xy = 0, disc = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            double wij = w[i] + w[j];
            int a = sgn(x[i], x[j]), b = sgn(y[i], y[j]);
            tot += wij;
            if (a == 0) tie_x += wij;
            if (b == 0) tie_y += wij;
            if (a == 0 && b == 0) tie_xy += wij;
            if (a * b < 0) disc += wij;
        }
    free(k);
    free(w);
    double t =
        ((tot - (tie_y + tie_x - tie_xy)) - 2.0 * disc) / sqrt(tot - tie_x) / sqrt(tot - tie_y);
    return t > 1 ? 1 : (t < -1 ? -1 : t);
}

double xfer_weighted_tau(const double *x, const double *y, size_t n) {
    /* scipy.stats.weightedtau(rank=True): the mean of the tau ranked by x and the tau ranked by y.
     */
    return 0.5 * (weighted_tau_ranked_by(x, y, n) + weighted_tau_ranked_by(y, x, n));
}

int xfer_top1(const double *x, const double *y, size_t n, double *gap) {
    if (n == 0) {
        if (gap) *gap = NAN;
        return -1;
    }
    size_t best = 0;
    double ymax = y[0];
    for (size_t i = 1; i < n; i++) {
        if (x[i] > x[best]) best = i;
        if (y[i] > ymax) ymax = y[i];
    }
    double g = ymax - y[best];
    if (gap) *gap = g;
    return g == 0;
}
