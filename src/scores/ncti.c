/* ncti (Wang, Li, Tao, Chen, Hong, ICCV 2023, "How far pre-trained models are from neural
 * collapse on the target dataset informs their transferability"), as BUserName/NCTI computes it
 * (metrics.py NCTI_Score; evaluate_metric_group1_cpu.py combines the terms over the models).
 * A pool-level score: each source gives three raw terms from the features projected on their top
 * `pca_dim` (64) principal components Y [N,k] (exact PCA; k = min(pca_dim, N, D)):
 *   s = max(exp(-(sum of the top 32 component variances, ddof 1)), 1e-10) selects sklearn's LDA:
 *   s > 1e-10: solver 'eigen' with shrinkage s (S_w = sum_c pi_c shrunk(cov_c), S_t = shrunk(cov),
 *   S_b = S_t - S_w, generalised eigenvectors V of (S_b, S_w), transform Y V[:, :m], class scores
 *   y S_w^-1 mu_c - mu_c S_w^-1 mu_c / 2 + log pi_c); s = 1e-10: solver 'svd' (within-class
 *   scaling by the per-feature std and the singular values > 1e-4, then the between-class SVD;
 *   sklearn's _solve_svd step by step). m = min(C - 1, k), C the classes present.
 *   terms[0] = nuclear norm of the centred LDA projection (the authors' "seli"),
 *   terms[1] = mean_i p(y_i | x_i) of the LDA's predict_proba ("ncc"),
 *   terms[2] = log sum_c nuclear norm of the probability rows of class c ("vc");
 * and over the candidate sources NCTI = minmax(t0) + minmax(t1) - minmax(t2). Higher is better. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "scores_internal.h"

#define NCTI_PCA_DIM 64        /* PCA(n_components=64) */
#define NCTI_VAR_COMPONENTS 32 /* explained_variance_[:32] */
#define NCTI_SHRINK_FLOOR 1e-10
#define NCTI_LDA_TOL 1e-4 /* sklearn LinearDiscriminantAnalysis(tol=1e-4) */

void xfer_metric_ncti_pool(const double *terms, int n, double *values) {
    double *a = malloc((size_t)n * 3 * sizeof *a);
    if (!a) {
        for (int i = 0; i < n; i++)
            values[i] = NAN;
        return;
    }
    for (int k = 0; k < 3; k++)
        xfer_metric_minmax(terms, n, 3, k, a + (size_t)k * n);
    for (int i = 0; i < n; i++)
        values[i] = a[i] + a[n + i] - a[2 * n + i];
    free(a);
}

/* Sum of the singular values of A [m,n] (destroyed). */
static int nuclear_norm(int m, int n, double *A, double *out, xfer_err *err) {
    int mn = m < n ? m : n;
    double *s = malloc((size_t)(mn > 0 ? mn : 1) * sizeof *s);
    if (!s) return XFER_OOM(err);
    int rc = xfer_la_svd(m, n, A, s, NULL, err);
    double t = 0;
    for (int j = 0; j < mn; j++)
        t += s[j];
    free(s);
    *out = t;
    return rc;
}

/* The fitted LDA: low [n, nl] (the transform's columns, before centring) and logits [n, C]. */
typedef struct {
    int n, k, C;
    const double *Y;  /* [n,k] PCA projections */
    const int *cls;   /* [n] class index in 0..C-1 */
    const int *cnt;   /* [C] */
    const double *mu; /* [C,k] class means */
    double *low;      /* [n, nl] */
    int nl;
    double *logits; /* [n, C] */
    int have_t0;    /* the svd solver computed t0 from R factors (lda_svd) */
    double t0;
} lda_fit;

static void shrink(double *S, int k, double s) {
    double tr = 0;
    for (int j = 0; j < k; j++)
        tr += S[(size_t)j * k + j];
    for (size_t q = 0; q < (size_t)k * k; q++)
        S[q] *= 1 - s;
    for (int j = 0; j < k; j++)
        S[(size_t)j * k + j] += s * tr / k;
}

/* logits [n,C] += b [C] on every row, rows shared out over the threads */
static void add_intercepts(double *logits, int n, int C, const double *b) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++)
        for (int c = 0; c < C; c++)
            logits[(size_t)i * C + c] += b[c];
}

/* solver 'eigen' with shrinkage s */
static int lda_eigen(lda_fit *f, double s, xfer_err *err) {
    const int n = f->n, k = f->k, C = f->C, m = C - 1 < k ? C - 1 : k;
    double *Z = malloc((size_t)n * k * sizeof *Z), *Sw = calloc((size_t)k * k, sizeof *Sw);
    double *St = malloc((size_t)k * k * sizeof *St), *w = malloc((size_t)k * sizeof *w);
    double *V = malloc((size_t)k * k * sizeof *V), *B = malloc((size_t)k * C * sizeof *B);
    int rc = XFER_OK;
    if (!Z || !Sw || !St || !w || !V || !B) {
        rc = XFER_OOM(err);
        goto done;
    }
    /* S_w = sum_c pi_c shrunk(cov_c) = shrunk(sum_c pi_c cov_c) (the trace is linear) */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
            Z[(size_t)i * k + j] = f->Y[(size_t)i * k + j] - f->mu[(size_t)f->cls[i] * k + j];
    xfer_gram(Z, n, k, n, Sw);
    shrink(Sw, k, s);
    memcpy(Z, f->Y, (size_t)n * k * sizeof *Z);
    xfer_center_columns(Z, n, k, NULL);
    xfer_gram(Z, n, k, n, St);
    shrink(St, k, s);
    for (size_t q = 0; q < (size_t)k * k; q++)
        St[q] -= Sw[q]; /* S_b */
    if ((rc = xfer_la_cholesky(k, Sw, "ncti: the shrunk within-class covariance", err))) goto done;
    /* M = L^-1 S_b L^-T; its eigenvectors u give the generalised ones v = L^-T u */
    cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, k, k, 1.0, Sw, k,
                St, k);
    cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, k, k, 1.0, Sw, k,
                St, k);
    for (int i = 0; i < k; i++)
        for (int j = 0; j < i; j++)
            St[(size_t)i * k + j] = St[(size_t)j * k + i] =
                0.5 * (St[(size_t)i * k + j] + St[(size_t)j * k + i]);
    if ((rc = xfer_la_eigh(k, St, w, err))) goto done;
    for (int j = 0; j < m; j++) /* descending eigenvalues: rows k-1, k-2, ... */
        memcpy(V + (size_t)j * k, St + (size_t)(k - 1 - j) * k, (size_t)k * sizeof *V);
    cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit, m, k, 1.0, Sw, k,
                V, k); /* rows u^T L^-1 = (L^-T u)^T */
    f->nl = m;
    if (!(f->low = malloc((size_t)n * (m > 0 ? m : 1) * sizeof *f->low)) ||
        !(f->logits = malloc((size_t)n * C * sizeof *f->logits))) {
        rc = XFER_OOM(err);
        goto done;
    }
    xfer_gemm_rows(1, n, m, k, f->Y, k, V, k, f->low, m);
    /* coef_ = means V V^T = means S_w^-1 (V^T S_w V = I) */
    for (int j = 0; j < k; j++)
        for (int c = 0; c < C; c++)
            B[(size_t)j * C + c] = f->mu[(size_t)c * k + j];
    if ((rc = xfer_la_chol_solve(k, Sw, C, B, err))) goto done;
    xfer_gemm_rows(0, n, C, k, f->Y, k, B, C, f->logits, C);
    for (int c = 0; c < C; c++) { /* intercepts, in Z (no longer needed; n k > C) */
        double q = 0;
        for (int j = 0; j < k; j++)
            q += f->mu[(size_t)c * k + j] * B[(size_t)j * C + c];
        Z[c] = -0.5 * q + log((double)f->cnt[c] / n);
    }
    add_intercepts(f->logits, n, C, Z);
done:
    free(Z);
    free(Sw);
    free(St);
    free(w);
    free(V);
    free(B);
    return rc;
}

/* t0 without a pass over the N rows: the centred projection is Yc sc2 (Yc = Y - ybar, sc2's first
 * `keep` columns), and Yc = W + M with W = Y - mu[class] (class-centred) and M's rows mu_c - ybar,
 * so W^T M = 0 and Yc^T Yc = W^T W + sum_c n_c (mu_c - ybar)(mu_c - ybar)^T: Yc's R factor is
 * that of [R_W; sqrt(n_c) (mu_c - ybar)] ((k + C) x k), R_W = R_X diag(sd) / fac from the within-
 * class QR the solver already made (X = fac W diag(1/sd)). Rounding in the class means perturbs W
 * by O(eps) only (backward stable, as a QR of Yc itself). t0 = |R_Yc sc2|_*. */
static int projection_norm(lda_fit *f, const double *RX, const double *sd, double fac,
                           const double *xbar, const double *sc2, int r2, int keep, xfer_err *err) {
    const int k = f->k, C = f->C, m = k + C;
    double *St = malloc((size_t)m * k * sizeof *St), *R = malloc((size_t)k * k * sizeof *R);
    double *P = malloc((size_t)k * keep * sizeof *P);
    int rc = XFER_OK;
    if (!St || !R || !P) {
        rc = XFER_OOM(err);
        goto done;
    }
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++)
            St[(size_t)i * k + j] = RX[(size_t)i * k + j] * sd[j] / fac;
    for (int c = 0; c < C; c++) {
        const double w = sqrt((double)f->cnt[c]);
        for (int j = 0; j < k; j++)
            St[(size_t)(k + c) * k + j] = w * (f->mu[(size_t)c * k + j] - xbar[j]);
    }
    if ((rc = xfer_la_qr_r(m, k, St, R, err))) goto done;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, k, keep, k, 1.0, R, k, sc2, r2, 0.0, P,
                keep);
    if ((rc = nuclear_norm(k, keep, P, &f->t0, err))) goto done;
    f->have_t0 = 1;
done:
    free(St);
    free(R);
    free(P);
    return rc;
}

/* solver 'svd' (sklearn's _solve_svd) */
static int lda_svd(lda_fit *f, xfer_err *err) {
    const int n = f->n, k = f->k, C = f->C;
    const int mn = n < k ? n : k, mc = C < k ? C : k;
    double *X = malloc((size_t)n * k * sizeof *X), *sd = malloc((size_t)k * sizeof *sd);
    double *S = malloc((size_t)mn * sizeof *S), *Vt = malloc((size_t)mn * k * sizeof *Vt);
    double *sc = malloc((size_t)k * mn * sizeof *sc), *xbar = calloc((size_t)k, sizeof *xbar);
    double *M = malloc((size_t)C * k * sizeof *M), *S2 = malloc((size_t)mc * sizeof *S2);
    double *Vt2 = malloc((size_t)mc * mn * sizeof *Vt2), *sc2 = NULL, *coef = NULL;
    double *RX = NULL, *Rt = NULL; /* R of X [k,k], and scratch */
    int rc = XFER_OK, r = 0, r2 = 0;
    if (!X || !sd || !S || !Vt || !sc || !xbar || !M || !S2 || !Vt2) {
        rc = XFER_OOM(err);
        goto done;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
            X[(size_t)i * k + j] = f->Y[(size_t)i * k + j] - f->mu[(size_t)f->cls[i] * k + j];
    /* np.std of the within-class centred columns (each column's sums in row order; rows walked
     * in memory order, all columns at once): the mean in xbar (zeroed again below), the sum of
     * squares in sd */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
            xbar[j] += X[(size_t)i * k + j];
    for (int j = 0; j < k; j++) {
        xbar[j] /= n;
        sd[j] = 0;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
            sd[j] += (X[(size_t)i * k + j] - xbar[j]) * (X[(size_t)i * k + j] - xbar[j]);
    for (int j = 0; j < k; j++) {
        sd[j] = sqrt(sd[j] / n);
        if (sd[j] == 0) sd[j] = 1.0;
        xbar[j] = 0;
    }
    const double fac = sqrt(1.0 / (n - C));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
            X[(size_t)i * k + j] = fac * (X[(size_t)i * k + j] / sd[j]);
    if (n >= 2 * k) { /* X = Q R_X: X's singular values and right vectors are R_X's */
        if (!(RX = malloc((size_t)k * k * sizeof *RX)) ||
            !(Rt = malloc((size_t)k * k * sizeof *Rt))) {
            rc = XFER_OOM(err);
            goto done;
        }
        if ((rc = xfer_la_qr_r(n, k, X, RX, err))) goto done;
        memcpy(Rt, RX, (size_t)k * k * sizeof *Rt);
        rc = xfer_la_svd(k, k, Rt, S, Vt, err);
    } else {
        rc = xfer_la_svd(n, k, X, S, Vt, err);
    }
    if (rc) goto done;
    while (r < mn && S[r] > NCTI_LDA_TOL)
        r++;
    if (r == 0) {
        rc = xfer_fail(err, XFER_EINPUT, "ncti: the within-class scatter is zero");
        goto done;
    }
    for (int j = 0; j < k; j++) /* scalings = (Vt[:r] / std)^T / S[:r] */
        for (int q = 0; q < r; q++)
            sc[(size_t)j * r + q] = Vt[(size_t)q * k + j] / sd[j] / S[q];
    for (int c = 0; c < C; c++)
        for (int j = 0; j < k; j++)
            xbar[j] += ((double)f->cnt[c] / n) * f->mu[(size_t)c * k + j];
    const double fac2 = C == 1 ? 1.0 : 1.0 / (C - 1);
    for (int c = 0; c < C; c++) {
        double wc = sqrt((n * ((double)f->cnt[c] / n)) * fac2);
        for (int q = 0; q < r; q++) {
            double t = 0;
            for (int j = 0; j < k; j++)
                t += wc * (f->mu[(size_t)c * k + j] - xbar[j]) * sc[(size_t)j * r + q];
            M[(size_t)c * r + q] = t;
        }
    }
    const int mc2 = C < r ? C : r;
    if ((rc = xfer_la_svd(C, r, M, S2, Vt2, err))) goto done;
    while (r2 < mc2 && S2[r2] > NCTI_LDA_TOL * S2[0])
        r2++;
    if (r2 == 0) {
        rc = xfer_fail(err, XFER_EINPUT, "ncti: the class means coincide");
        goto done;
    }
    sc2 = malloc((size_t)k * r2 * sizeof *sc2);
    coef = malloc((size_t)C * r2 * sizeof *coef);
    f->low = malloc((size_t)n * r2 * sizeof *f->low);
    f->logits = malloc((size_t)n * C * sizeof *f->logits);
    if (!sc2 || !coef || !f->low || !f->logits) {
        rc = XFER_OOM(err);
        goto done;
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, k, r2, r, 1.0, sc, r, Vt2, r, 0.0, sc2,
                r2);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
            X[(size_t)i * k + j] = f->Y[(size_t)i * k + j] - xbar[j];
    xfer_gemm_rows(0, n, r2, k, X, k, sc2, r2, f->low, r2);
    for (int c = 0; c < C; c++)
        for (int j = 0; j < k; j++)
            M[(size_t)c * k + j] = f->mu[(size_t)c * k + j] - xbar[j];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, C, r2, k, 1.0, M, k, sc2, r2, 0.0, coef,
                r2);
    xfer_gemm_rows(1, n, C, r2, f->low, r2, coef, r2, f->logits, C);
    for (int c = 0; c < C; c++) /* intercepts, in M (no longer needed; C k >= C) */
        M[c] = -0.5 * cblas_ddot(r2, coef + (size_t)c * r2, 1, coef + (size_t)c * r2, 1) +
               log((double)f->cnt[c] / n);
    add_intercepts(f->logits, n, C, M);
    /* transform keeps min(C - 1, k) columns */
    int keep = r2 < C - 1 ? r2 : C - 1;
    if (keep > k) keep = k;
    if (keep < r2)
        for (int i = 0; i < n; i++)
            memmove(f->low + (size_t)i * keep, f->low + (size_t)i * r2,
                    (size_t)keep * sizeof *f->low);
    f->nl = keep;
    if (RX && keep > 0 && (rc = projection_norm(f, RX, sd, fac, xbar, sc2, r2, keep, err)))
        goto done;
done:
    free(RX);
    free(Rt);
    free(X);
    free(sd);
    free(S);
    free(Vt);
    free(sc);
    free(xbar);
    free(M);
    free(S2);
    free(Vt2);
    free(sc2);
    free(coef);
    return rc;
}

int xfer_metric_ncti(const xfer_metric_input *in, const xfer_metric_params *p,
                     xfer_metric_result *out, xfer_err *err) {
    long pca_dim;
    if (xfer_metric_param_int(p, "ncti", "pca_dim", NCTI_PCA_DIM, 1, 1 << 20, &pca_dim, err))
        return err->code;
    const int n = in->n, d = in->d, ct = in->ct;
    int *cnt = malloc((size_t)ct * sizeof *cnt), *map = malloc((size_t)ct * sizeof *map);
    int *cls = malloc((size_t)n * sizeof *cls), *ccnt = malloc((size_t)ct * sizeof *ccnt);
    double *Y = NULL, *mu = NULL, *rows = NULL;
    lda_fit f = {0};
    int rc = XFER_OK, k = 0, C = 0;
    if (!cnt || !map || !cls || !ccnt) {
        rc = XFER_OOM(err);
        goto done;
    }
    xfer_class_counts(in->labels, n, ct, cnt);
    for (int c = 0; c < ct; c++) {
        map[c] = cnt[c] ? C : -1;
        if (cnt[c]) ccnt[C++] = cnt[c];
    }
    if (C < 2) {
        rc = xfer_fail(err, XFER_EINPUT, "ncti: needs two target classes, %d present", C);
        goto done;
    }
    if (n <= C) {
        rc = xfer_fail(err, XFER_EINPUT, "ncti: needs more samples (%d) than classes (%d)", n, C);
        goto done;
    }
    for (int i = 0; i < n; i++)
        cls[i] = map[in->labels[i]];
    rc = xfer_features_pca(in, (int)(pca_dim < d ? pca_dim : d), 0, &Y, &k, err);
    if (rc) goto done;
    double ev = 0; /* explained_variance_[:32].sum() */
    for (int j = 0; j < k && j < NCTI_VAR_COMPONENTS; j++) {
        double v = 0;
        for (int i = 0; i < n; i++)
            v += Y[(size_t)i * k + j] * Y[(size_t)i * k + j];
        ev += v / (n - 1);
    }
    if (!(mu = calloc((size_t)C * k, sizeof *mu))) {
        rc = XFER_OOM(err);
        goto done;
    }
    xfer_class_sums(Y, cls, n, k, C, mu);
    for (int c = 0; c < C; c++)
        for (int j = 0; j < k; j++)
            mu[(size_t)c * k + j] /= ccnt[c];
    f = (lda_fit){.n = n, .k = k, .C = C, .Y = Y, .cls = cls, .cnt = ccnt, .mu = mu};
    double s = exp(-ev);
    rc = s > NCTI_SHRINK_FLOOR ? lda_eigen(&f, s, err) : lda_svd(&f, err);
    if (rc) goto done;
    /* t1 = mean p(y_i | x_i) of predict_proba */
    double t0 = 0, t1 = 0, t2 = 0;
    xfer_softmax_rows(f.logits, n, C, f.logits);
    for (int i = 0; i < n; i++)
        t1 += f.logits[(size_t)i * C + cls[i]];
    t1 /= n;
    /* t0 = the centred projection's nuclear norm (item -1) and t2 = log sum_c ||P[y == c]||_*
     * (items 0..C-1), one parallel loop: each item's singular values on its own */
    int maxc = 0, failed = 0, failed0 = 0;
    for (int c = 0; c < C; c++)
        maxc = ccnt[c] > maxc ? ccnt[c] : maxc;
    if (!(rows = malloc((size_t)C * sizeof *rows))) { /* each class's norm, added in order */
        rc = XFER_OOM(err);
        goto done;
    }
    if (f.have_t0)
        t0 = f.t0;
    else if (f.nl > 0)
        xfer_center_columns(f.low, n, f.nl, NULL);
#pragma omp parallel reduction(| : failed, failed0)
    {
        double *P = malloc((size_t)maxc * C * sizeof *P);
        xfer_err e2;
        failed |= !P;
#pragma omp for schedule(dynamic)
        for (int c = -1; c < C; c++) {
            if (c < 0) {
                if (f.nl > 0 && !f.have_t0)
                    failed0 |= nuclear_norm(n, f.nl, f.low, &t0, &e2) != XFER_OK;
                continue;
            }
            int r = 0;
            for (int i = 0; i < n && P; i++)
                if (cls[i] == c) memcpy(P + (size_t)r++ * C, f.logits + (size_t)i * C, C * 8);
            rows[c] = 0;
            if (P) failed |= nuclear_norm(r, C, P, &rows[c], &e2) != XFER_OK;
        }
        free(P);
    }
    if (failed0) {
        rc = xfer_fail(err, XFER_EINTERNAL, "ncti: singular values of the LDA projection failed");
        goto done;
    }
    if (failed) {
        rc = xfer_fail(err, XFER_EINTERNAL,
                       "ncti: singular values of the class probabilities failed");
        goto done;
    }
    t2 = xfer_sum_ordered(rows, (size_t)C);
    out->value = NAN; /* pooled over the sources: xfer_metric_pool */
    out->n_terms = 3;
    out->terms[0] = t0;
    out->terms[1] = t1;
    out->terms[2] = log(t2);
done:
    free(cnt);
    free(map);
    free(cls);
    free(ccnt);
    free(Y);
    free(mu);
    free(rows);
    free(f.low);
    free(f.logits);
    return rc;
}
