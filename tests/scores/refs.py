"""Independent float64 numpy/scipy/sklearn references of xfer's metrics, written from the
published definitions (docs/metrics.md). Shared by test_metrics.py and scripts/bench_metrics.py."""
import numpy as np
import scipy.linalg
import scipy.stats

M64 = (1 << 64) - 1


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def softmax_max(p):
    return p.max(axis=1).sum()


def emd(p, y, D):
    return float(np.sum(p * D[:, y].T) / 1.0)


def leep(p, y, ct):
    n, cs = p.shape
    joint = np.zeros((ct, cs))
    np.add.at(joint, y, p)
    joint /= n
    pz = joint.sum(axis=0)
    cond = np.divide(joint, pz, out=np.zeros_like(joint), where=pz > 0)
    return float(np.mean(np.log(np.sum(cond[y] * p, axis=1))))


def nce(p, y, ct):
    n, cs = p.shape
    z = p.argmax(axis=1)
    joint = np.zeros((ct, cs))
    np.add.at(joint, (y, z), 1.0)
    joint /= n
    pz = joint.sum(axis=0)
    m = joint > 0
    cond = np.divide(joint, pz[None, :], out=np.ones_like(joint), where=pz[None, :] > 0)
    return float(np.sum(joint[m] * np.log(cond[m])))


def _class_mean_rows(f, y):
    g = np.zeros_like(f)
    for c in np.unique(y):
        g[y == c] = f[y == c].mean(axis=0)
    return g


def hscore(f, y):
    f = f.astype(np.float64)
    covf = np.cov(f, rowvar=False)
    covg = np.cov(_class_mean_rows(f, y), rowvar=False)
    return float(np.trace(np.linalg.pinv(covf, rcond=1e-15) @ covg))


def hscore_reg(f, y):
    from sklearn.covariance import LedoitWolf
    f = f - f.mean(axis=0, keepdims=True)
    lw = LedoitWolf(assume_centered=False).fit(f)
    a = lw.shrinkage_
    covg = np.cov(_class_mean_rows(f, y), rowvar=False)
    return float(np.trace(np.linalg.pinv(lw.covariance_, rcond=1e-15) @ ((1 - a) * covg)))


def logme(f, y, ct, max_iter=11, tol=1e-3, eps=1e-5):
    """Evidence of Bayesian linear regression with the alpha/beta fixed point; the posterior mean
    and the residual are formed explicitly (A = alpha I + beta F^T F solved directly). Follows
    thuml/LogME, LogME.py, LogME._fit_fixed_point (the default): eps only in the alpha/beta
    updates, not in the evidence; stop at a relative change of alpha/beta <= 1e-3."""
    f = f.astype(np.float64)
    n, d = f.shape
    FtF = f.T @ f
    s = np.abs(np.linalg.eigvalsh(FtF))
    out = []
    for c in range(ct):
        t = (y == c).astype(np.float64)
        Fty = f.T @ t
        alpha, beta = 1.0, 1.0
        lam = 1.0
        for _ in range(max_iter):
            gamma = np.sum(s / (s + lam))
            m = beta * np.linalg.solve(alpha * np.eye(d) + beta * FtF, Fty)
            alpha_de = m @ m
            beta_de = np.sum((t - f @ m) ** 2)
            alpha = gamma / (alpha_de + eps)
            beta = (n - gamma) / (beta_de + eps)
            new_lam = alpha / beta
            if abs(new_lam - lam) / lam <= tol:
                break
            lam = new_lam
        ev = (d / 2 * np.log(alpha) + n / 2 * np.log(beta) - 0.5 * np.sum(np.log(alpha + beta * s))
              - beta / 2 * beta_de - alpha / 2 * alpha_de - n / 2 * np.log(2 * np.pi))
        out.append(ev / n)
    return float(np.mean(out))


def pca(f, k=None, var_frac=None):
    x = f - f.mean(axis=0)
    u, sv, vt = np.linalg.svd(x, full_matrices=False)
    if var_frac is not None:
        ev = sv ** 2
        k = int(np.searchsorted(np.cumsum(ev) / ev.sum(), var_frac - 1e-15) + 1)
    k = min(k, x.shape[1])
    return x @ vt[:k].T


def gbc(f, y, ct, spherical=False, pca_dim=64, google=False):
    z = pca(f.astype(np.float64), pca_dim)
    if google:
        return _gbc_google(z, y)
    mus, vars_ = {}, {}
    for c in np.unique(y):
        zc = z[y == c]
        mus[c] = zc.mean(axis=0)
        v = zc.var(axis=0)
        if spherical:
            v = np.full_like(v, v.mean())
        vars_[c] = np.maximum(v, 1e-4)
    total = 0.0
    cl = list(np.unique(y))
    for a in cl:
        for b in cl:
            if a == b:
                continue
            v = (vars_[a] + vars_[b]) / 2
            db = (np.sum((mus[a] - mus[b]) ** 2 / v) / 8
                  + 0.5 * (np.sum(np.log(v)) - 0.5 * np.sum(np.log(vars_[a])) - 0.5 * np.sum(np.log(vars_[b]))))
            total += np.exp(-db)
    return -total


def _coding_rate(z, eps):
    n, d = z.shape
    return 0.5 * np.linalg.slogdet(np.eye(d) + z.T @ z / (n * eps))[1]


def transrate(f, y, ct, eps=1e-4, variant="authors"):
    if variant == "authors":
        return transrate_authors(f, y, eps)
    z = f.astype(np.float64)
    z = z - z.mean(axis=0, keepdims=True)
    r = _coding_rate(z, eps)
    rc = sum(_coding_rate(z[y == c], eps) for c in range(ct) if np.any(y == c))
    return float(r - rc / ct)


def _power_lambda(a):
    """The published estimate of the largest eigenvalue (SFDA's and ETran's iterative_A):
    three double power steps from A.1, then x^T A y."""
    v = a.sum(axis=1)
    for _ in range(3):
        t = a @ v
        w = t / np.linalg.norm(t)
        t = a @ w
        v = t / np.linalg.norm(t)
    return v @ a @ w


def _fda_proba(x, y, shrink):
    classes = np.unique(y)
    n, d = x.shape
    pri = np.array([np.mean(y == c) for c in classes])
    means = np.stack([x[y == c].mean(axis=0) for c in classes])
    sw = sum(p * np.cov(x[y == c].T, bias=True) for p, c in zip(pri, classes))
    if shrink is None:
        shrink = max(np.exp(-5 * _power_lambda(sw)), 1e-10)
    st = np.cov(x.T, bias=True)
    mu = np.trace(st) / d
    st = (1 - shrink) * st + shrink * mu * np.eye(d)
    mu = np.trace(sw) / d
    sws = (1 - shrink) * sw + shrink * mu * np.eye(d)
    evals, evecs = scipy.linalg.eigh(st - sws, sws)
    evecs = evecs[:, np.argsort(evals)[::-1]]
    coef = means @ evecs @ evecs.T
    icpt = -0.5 * np.diag(means @ coef.T) + np.log(pri)
    return softmax(x @ coef.T + icpt), shrink, means


def sfda(f, y):
    x = f.astype(np.float64).copy()
    classes = np.unique(y)
    k = len(classes)
    prob, shrink, means = _fda_proba(x, y, None)
    prob = np.exp(prob) / np.exp(prob).sum(axis=1, keepdims=True)
    outer = (means.sum(axis=0) - means) / (k - 1)
    for ci, c in enumerate(classes):
        idx = np.where(y == c)[0]
        q = prob[idx, ci][:, None]
        x[idx] = q * x[idx] + (1 - q) * outer[ci]
    prob, _, _ = _fda_proba(x, y, shrink)
    yi = np.searchsorted(classes, y)
    return float(np.mean(prob[np.arange(len(y)), yi]))


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def nleep(f, y, ct, per_class=5, seed=0, var_frac=0.8, max_iter=100, tol=1e-3, reg=1e-6):
    z = pca(f.astype(np.float64), var_frac=var_frac)
    n, d = z.shape
    k = min(per_class * ct, n)
    perm = list(range(n))
    st = seed
    for i in range(n - 1, 0, -1):
        st, r = splitmix64(st)
        j = r % (i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    mu = z[perm[:k]].copy()
    var = np.tile(z.var(axis=0) + reg, (k, 1))
    w = np.full(k, 1.0 / k)

    def estep():
        ll = (np.log(w)[None, :] - 0.5 * (d * np.log(2 * np.pi) + np.log(var).sum(axis=1))[None, :]
              - 0.5 * (((z[:, None, :] - mu[None, :, :]) ** 2) / var[None, :, :]).sum(axis=2))
        mx = ll.max(axis=1, keepdims=True)
        lse = mx[:, 0] + np.log(np.exp(ll - mx).sum(axis=1))
        return np.exp(ll - lse[:, None]), lse.mean()

    prev = -np.inf
    for _ in range(max_iter):
        resp, lb = estep()
        nk = resp.sum(axis=0) + 10 * np.finfo(float).eps
        mu = resp.T @ z / nk[:, None]
        var = resp.T @ (z * z) / nk[:, None] - mu ** 2 + reg
        w = nk / n
        if abs(lb - prev) < tol:
            break
        prev = lb
    resp, _ = estep()
    return leep(resp, y, ct)


def parc(f, y, pca_dim=32):
    # The published pipeline: sklearn PCA (its sign convention matters: the row correlations are
    # not invariant to flipping a component) then StandardScaler.
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler
    f = f.astype(np.float64)
    z = PCA(n_components=min(pca_dim, *f.shape), svd_solver="full").fit_transform(f)
    z = StandardScaler().fit_transform(z)
    onehot = np.eye(len(np.unique(y)))[np.searchsorted(np.unique(y), y)]
    r1 = 1 - np.corrcoef(z)
    # The label RDM is two-valued by definition (0 same class, 1 + 1/(C-1) otherwise); corrcoef's
    # rounding leaves 1e-16 noise on some zeros, which would rank same-class pairs apart.
    r2 = np.round(1 - np.corrcoef(onehot), 12)
    iu = np.triu_indices(len(y), 1)
    return float(scipy.stats.spearmanr(r1[iu], r2[iu])[0] * 100)


def transrate_authors(f, y, eps=1e-4):
    """Follows Long-Kai/TransRate: generate_transrate/transrate.py (pre_transrate: rows of the
    centred features normalised, eigenvalues of Z^T Z/n and of each Z_c^T Z_c/n_c by SVD, rank by
    matrix_rank) and extract_result_utils.py (process_transrate_logs with its defaults:
    reg 1, all eigenvalues, residual 'weight' (empty), no eigenvalue normalisation, divided by the
    rank), TransRate = rz - rzc."""
    z = f.astype(np.float64)
    z = z - z.mean(axis=0, keepdims=True)
    z = z / np.linalg.norm(z, 2, -1)[:, None]
    n, d = z.shape
    zz = z.T @ z / n
    eig_z = np.linalg.svd(zz, compute_uv=False)
    rank_z = np.linalg.matrix_rank(zz)
    rz = np.sum(np.log(1 + eig_z / eps)) / rank_z / 2
    rzc = 0.0
    for c in np.unique(y):
        zc = z[y == c]
        eig_c = np.linalg.svd(zc.T @ zc / len(zc), compute_uv=False)
        rzc += np.sum(np.log(1 + np.abs(eig_c) / eps)) / rank_z * len(zc) / n / 2
    return float(rz - rzc)


def _gbc_google(z, y):
    """GBC with spherical Gaussians as google-research/google-research computes it by default
    (stable_transfer/transferability/gbc.py): per-dimension variances floored at 1e-4, averaged
    into a scalar, the Bhattacharyya distance's log term of those scalars counted once."""
    stats = {}
    for c in np.unique(y):
        zc = z[y == c]
        stats[c] = (zc.mean(axis=0), np.mean(np.maximum(zc.var(axis=0), 1e-4)))
    total = 0.0
    for a in stats:
        for b in stats:
            if a == b:
                continue
            (m1, s1), (m2, s2) = stats[a], stats[b]
            avg = (s1 + s2) / 2
            db = np.sum((m1 - m2) ** 2 / avg) / 8 + 0.5 * (np.log(avg) - 0.5 * np.log(s1) - 0.5 * np.log(s2))
            total += np.exp(-db)
    return -total


def knn(f, y, k=10, distance="euclidean"):
    """Leave-one-out k-NN accuracy, brute force: the full distance matrix with the diagonal
    excluded, neighbours by distance then index (stable sort), majority vote with ties to the
    smallest label (sklearn KNeighborsClassifier's rule)."""
    x = f.astype(np.float64)
    if distance == "cosine":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
    # the full distance matrix, 16 rows at a time (the N x N x D differences at once would be
    # 11.6 GB at N = 2200, D = 300)
    d2 = np.empty((len(x), len(x)))
    for b in range(0, len(x), 16):
        d2[b:b + 16] = np.sum((x[b:b + 16, None, :] - x[None, :, :]) ** 2, axis=2)
    np.fill_diagonal(d2, np.inf)
    nb = np.argsort(d2, axis=1, kind="stable")[:, :k]
    ct = int(y.max()) + 1
    pred = np.array([np.argmax(np.bincount(y[row], minlength=ct)) for row in nb])
    return float(np.mean(pred == y))


def tmi(f, y, k=3, norm="max", min_dist=1.0):
    """Follows snudatalab/TMI, src/trf_measurement.py (TMI, get_h): per class the
    Kozachenko-Leonenko entropy with scipy's cKDTree (k + 1 neighbours, the point itself
    included), distances raised to min_dist, classes with 0/1 samples 0, infinite ones dropped,
    mean over classes of (n_c/N) h_c."""
    from scipy.spatial import cKDTree
    from scipy.special import digamma, gamma
    x = f.astype(np.float64)
    x = x - x.mean(axis=0, keepdims=True)
    n = len(y)
    hs, ps = [], []
    for c in range(int(y.max()) + 1):
        xc = x[y == c]
        ps.append(len(xc) / n)
        if len(xc) <= 1:
            hs.append(0.0)
            continue
        nc, d = xc.shape
        p = np.inf if norm == "max" else 2
        log_cd = 0.0 if norm == "max" else (d / 2.0) * np.log(np.pi) - np.log(gamma(d / 2.0 + 1))
        dist, _ = cKDTree(xc).query(xc, k + 1, eps=0, p=p)
        dist = dist[:, -1]
        dist[dist < min_dist] = min_dist
        with np.errstate(divide="ignore", invalid="ignore"):
            hs.append(-digamma(k) + digamma(nc) + log_cd + (d / float(nc)) * np.sum(np.log(2 * dist)))
    hs, ps = np.array(hs), np.array(ps)
    ok = np.isfinite(hs)
    return float(np.mean(hs[ok] * ps[ok]))


def etran_terms(f, y):
    """Follows mgholamikn/ETran, metrics.py: LDA_Score (class LDA: priors, per-class population
    covariances, shrinkage max(exp(-5 lambda_max), 1e-10) from three power steps (iterative_A),
    eigh(inv(shrunk S_w) @ S_b), coef = means V V^T, intercept -1/2 diag(means coef^T) + log
    priors, softmax) and Energy_Score(X, 0.5, 'bot') (logsumexp of the features, mean of the
    lowest 5N//1000; xfer's documented fallback of one value when that is 0)."""
    from scipy.special import logsumexp
    x = f.astype(np.float64)
    classes, yi = np.unique(y, return_inverse=True)
    n, d = x.shape
    priors = np.bincount(yi) / float(n)
    means = np.array([x[yi == c].mean(axis=0) for c in range(len(classes))])
    cov = sum(priors[c] * np.cov(x[yi == c].T, bias=1) for c in range(len(classes)))
    shrink = max(np.exp(-5 * _power_lambda(cov)), 1e-10)
    emp = np.cov(x.T, bias=1)
    mu = np.trace(emp) / d
    st = (1 - shrink) * emp
    st.flat[:: d + 1] += shrink * mu
    sw = (1 - shrink) * cov
    sw.flat[:: d + 1] += shrink * np.trace(cov) / d
    evals, evecs = np.linalg.eigh(np.linalg.inv(sw) @ (st - sw))
    evecs = evecs[:, np.argsort(evals)[::-1]]
    coef = means @ evecs @ evecs.T
    intercept = -0.5 * np.diag(means @ coef.T) + np.log(priors)
    logits = x @ coef.T + intercept
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    lda = np.sum(prob[np.arange(n), yi]) / n
    e = logsumexp(x, axis=-1)
    m = max(int(0.5 * 10) * n // 1000, 1)
    energy = np.sort(e)[:m].mean()
    return lda, energy


def etran_pool(terms):
    """mgholamikn/ETran, tw.py: scale() each term to [0, 1] over the models, 0.85 lda + 0.15
    energy (a constant term: 0, xfer's documented choice where scale() divides by zero)."""
    t = np.array(terms, dtype=np.float64)

    def scale(v):
        r = v.max() - v.min()
        return (v - v.min()) / r if r > 0 else np.zeros_like(v)
    return list(0.85 * scale(t[:, 0]) + 0.15 * scale(t[:, 1]))


def pactran(p, y, alpha=1.0):
    """Follows google-research/pactran_metrics, compute_metrics.py calculate_pac_dir (one-hot
    over max(label) + 1 classes, ten updates, scipy's digamma/loggamma/logsumexp)."""
    from scipy.special import digamma, loggamma, logsumexp
    Y = np.eye(int(y.max()) + 1)[y]
    ssum = Y.sum(axis=0)[:, None]
    a0 = alpha * ssum / ssum.sum() + 1e-10
    qz = p.astype(np.float64)
    log_s = np.log(p + 1e-10)
    for _ in range(10):
        aw = a0 + Y.T @ qz
        logits = log_s + Y @ digamma(aw) - digamma(aw.sum(axis=0))[None, :]
        log_qz = logits - logsumexp(logits, axis=-1, keepdims=True)
        qz = np.exp(log_qz)
    log_c0 = loggamma(a0.sum()) - np.sum(loggamma(a0))
    log_c = loggamma(aw.sum(axis=0)) - np.sum(loggamma(aw), axis=0)
    return float(-np.sum(log_c0 - log_c - np.sum(qz * (log_qz - log_s), axis=0)) / Y.size)


def _shrunk(cov, s):
    k = cov.shape[0]
    out = (1.0 - s) * cov
    out.flat[:: k + 1] += s * np.trace(cov) / k
    return out


def _lda_eigen(X, yi, C, s):
    """sklearn LinearDiscriminantAnalysis(solver='eigen', shrinkage=s), _solve_eigen's steps:
    S_w = sum_c pi_c shrunk(cov_c), S_t = shrunk(cov), S_b = S_t - S_w, scipy's eigh(S_b, S_w)
    sorted descending, transform X V[:, :min(C-1, k)], coef = means V V^T."""
    n, k = X.shape
    priors = np.bincount(yi, minlength=C) / float(n)
    means = np.array([X[yi == c].mean(axis=0) for c in range(C)])
    sw = sum(priors[c] * _shrunk(np.atleast_2d(np.cov(X[yi == c].T, bias=1)), s) for c in range(C))
    st = _shrunk(np.cov(X.T, bias=1), s)
    evals, evecs = scipy.linalg.eigh(st - sw, sw)
    evecs = evecs[:, np.argsort(evals)[::-1]]
    coef = means @ evecs @ evecs.T
    intercept = -0.5 * np.diag(means @ coef.T) + np.log(priors)
    low = (X @ evecs)[:, : min(C - 1, k)]
    return low, softmax(X @ coef.T + intercept)


def _lda_svd(X, yi, C, tol=1e-4):
    """sklearn LinearDiscriminantAnalysis(solver='svd'), _solve_svd's steps: within-class centred
    data scaled by its per-feature std and sqrt(1/(n - C)), SVD, singular values > tol kept; the
    weighted centred class means in that space, SVD, > tol * S[0] kept; transform (X - xbar)
    scalings[:, :min(C-1, k)], decision (X - xbar) scalings coef^T - |coef|^2/2 + log priors."""
    n, k = X.shape
    priors = np.bincount(yi, minlength=C) / float(n)
    means = np.array([X[yi == c].mean(axis=0) for c in range(C)])
    Xc = X - means[yi]
    std = Xc.std(axis=0)
    std[std == 0] = 1.0
    _, S, Vt = scipy.linalg.svd(np.sqrt(1.0 / (n - C)) * (Xc / std), full_matrices=False)
    rank = int(np.sum(S > tol))
    scal = (Vt[:rank] / std).T / S[:rank]
    xbar = priors @ means
    fac = 1.0 / (C - 1)
    M = ((np.sqrt((n * priors) * fac)) * (means - xbar).T).T @ scal
    _, S2, Vt2 = scipy.linalg.svd(M, full_matrices=False)
    rank2 = int(np.sum(S2 > tol * S2[0]))
    scal = scal @ Vt2.T[:, :rank2]
    coef = (means - xbar) @ scal
    intercept = -0.5 * np.sum(coef ** 2, axis=1) + np.log(priors)
    low = (X - xbar) @ scal
    return low[:, : min(C - 1, k)], softmax(low @ coef.T + intercept)


def ncti_terms(f, y, pca_dim=64, use_sklearn=False):
    """Follows BUserName/NCTI, metrics.py NCTI_Score: PCA to 64 components (here exact, from the
    SVD of the centred features; xfer's documented deviation from sklearn's PCA, which is
    randomized for large inputs; min(64, N, D) components), shrinkage max(exp(-sum of the top 32
    explained variances), 1e-10): == 1e-10 -> LDA solver 'svd', else 'eigen' with that shrinkage
    (sklearn's steps above; use_sklearn=True calls sklearn's LinearDiscriminantAnalysis itself, as
    the published code does); the nuclear norm of the centred LDA projection, the mean predicted
    probability of the true class, log of the sum over classes of the nuclear norm of their
    predicted-probability rows. Labels 0..C-1 (the published code indexes by label value)."""
    x = f.astype(np.float64)
    x = x - x.mean(axis=0)
    n, d = x.shape
    k = min(pca_dim, n, d)
    _, S, Vt = np.linalg.svd(x, full_matrices=False)
    X = x @ Vt[:k].T
    ev = S[:k] ** 2 / (n - 1)
    temp = max(np.exp(-ev[:32].sum()), 1e-10)
    classes, yi = np.unique(y, return_inverse=True)
    C = len(classes)
    if use_sklearn:
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis as LDA
        clf = LDA(solver="svd") if temp == 1e-10 else LDA(solver="eigen", shrinkage=float(temp))
        low = clf.fit_transform(X, yi)
        P = clf.predict_proba(X)
    elif temp == 1e-10:
        low, P = _lda_svd(X, yi, C)
    else:
        low, P = _lda_eigen(X, yi, C, temp)
    low = low - low.mean(axis=0, keepdims=True)
    t0 = np.linalg.norm(low, ord="nuc")
    t1 = np.sum(P[np.arange(n), yi]) / n
    t2 = np.log(sum(np.linalg.norm(P[yi == c], ord="nuc") for c in range(C)))
    return [t0, t1, t2], ("svd" if temp == 1e-10 else "eigen")


def ncti_pool(terms):
    """BUserName/NCTI, evaluate_metric_group1_cpu.py: each term min-max scaled over the models,
    score = ncc + seli - vc (a constant term scales to 0, xfer's documented choice where the
    published code divides by zero)."""
    t = np.array(terms, dtype=np.float64)

    def scale(v):
        r = v.max() - v.min()
        return (v - v.min()) / r if r > 0 else np.zeros_like(v)
    return list(scale(t[:, 1]) + scale(t[:, 0]) - scale(t[:, 2]))


def _sparsemax(z):
    """Row-wise sparsemax (the published helper's algorithm: sort, cumulative sums, support size
    k(z), threshold tau)."""
    zs = np.sort(z, axis=1)[:, ::-1]
    cs = np.cumsum(zs, axis=1)
    k = np.arange(1, z.shape[1] + 1)
    ok = 1 + k * zs > cs
    kz = z.shape[1] - np.argmax(ok[:, ::-1], axis=1)
    tau = (cs[np.arange(z.shape[0]), kz - 1] - 1) / kz
    return np.maximum(0, z - tau[:, None])


def emms(f, y, emb):
    """Follows OpenGVLab/Multitask-Model-Selector, metrics.py EMMS(Z, Y) with Y [N, E, K] the
    label embeddings of the images' classes; here K = 1 embedding, the class vectors emb [Ct, E]
    (xfer's word vectors in place of the published CLIP/BERT/GPT-2 ones): each embedding and the
    features standardised per column ((v - mean) / (std + 1e-8)), weights 1/K, one alternating
    step (w = lstsq(x, Y lam); lam = sparsemax(lstsq(Y as [N E, K], x w)); T = Y lam), score
    -sum((x w - T)^2) / N * E."""
    x = f.astype(np.float64).copy()
    Y = emb.astype(np.float64)[y][:, :, None].copy()
    N, D2, K = Y.shape
    for i in range(K):
        Y[:, :, i] = (Y[:, :, i] - Y[:, :, i].mean(axis=0)) / (Y[:, :, i].std(axis=0) + 1e-8)
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-8)
    lam = np.array([1.0 / K] * K)
    b = Y @ lam
    w = np.linalg.lstsq(x, b, rcond=None)[0]
    lam = np.linalg.lstsq(Y.reshape(N * D2, K), (x @ w).reshape(N * D2), rcond=None)[0]
    lam = _sparsemax(lam.reshape(1, K)).reshape(K, 1)
    T = (Y @ lam).reshape(N, D2)
    return float(-(np.sum((x @ w - T) ** 2) / N * D2))
