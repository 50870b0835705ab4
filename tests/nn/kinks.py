"""Where float32 and float64 can take different branches in a network, and how far a case is from
them (used by test_step_vs_torch.py).

A ReLU (ReLU6) whose input lies within float32's rounding of its kink, or a max-pool window whose
two largest values are that close, goes one way or the other depending on the last bits of the
CPU's kernels: OpenBLAS's AVX-512 and AVX2 GEMMs sum in different orders. One such element changes
a first-step gradient by 1e-3..1e-2 in a late layer, as much as an engine bug, so a comparison
with float64 that passes on one machine fails on another. This module makes the kinks far away by
construction and measures how far they are:

- Probes(model): a torch.fx copy of the model (sharing its parameters) with a probe on the input
  of every ReLU, ReLU6 and max pool;
- center(model, x, train): one float64 forward pass that moves the per-channel additive term just
  before each ReLU (the BN bias, or the convolution's / linear layer's bias; through residual
  additions) so that the kink sits in the widest gap of the channel's values near it;
- untie(model, x, train, ratio): after center(), zeroes the max-pool windows whose two largest
  values lie within ratio x float32's error of each other (dense pooled maps, GoogLeNet's branch
  pools: a shift cannot separate them) by raising the kink of the ReLU channel that produced
  them above the window's largest value;
- Margins: for one step, the float64 distance of every probed input from its branch point (for
  max pool: the gap between a window's two largest values) over float32's RMS error there.
"""
import copy
import operator

import torch
import torch.fx
import torch.nn.functional as F

_RECORD = None  # a callable(tag, tensor) -> tensor while a pass is recorded


def _probe(z, tag):
    return z if _RECORD is None else _RECORD(tag, z)


def _pool_args(gm, n):
    """(kernel, stride, padding, dilation, ceil_mode) of a max-pool node, or None."""
    if n.op == "call_module":
        m = gm.get_submodule(n.target)
        if not isinstance(m, torch.nn.MaxPool2d):
            return None
        return m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode
    if n.op == "call_function" and n.target in (F.max_pool2d, torch.max_pool2d):
        names = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")
        vals = dict(zip(names, n.args[1:]))
        vals.update({k: v for k, v in n.kwargs.items() if k in names})
        k = vals["kernel_size"]
        return (k, vals.get("stride") or k, vals.get("padding", 0), vals.get("dilation", 1),
                vals.get("ceil_mode", False))
    return None


def _kind(gm, n):
    if n.op == "call_module":
        m = gm.get_submodule(n.target)
        if isinstance(m, torch.nn.ReLU6):
            return "relu6"
        if isinstance(m, torch.nn.ReLU):
            return "relu"
    elif n.op == "call_function":
        if n.target in (F.relu, torch.relu, torch.relu_):
            return "relu"
        if n.target is F.relu6:
            return "relu6"
    elif n.op == "call_method" and n.target in ("relu", "relu_"):
        return "relu"
    return "pool" if _pool_args(gm, n) is not None else None


def _bias_source(gm, n):
    """Qualified name of the bias that adds a per-channel constant to node n's value (the last
    BN/conv/linear before it, through residual additions), or None."""
    adds = (operator.add, operator.iadd, torch.add)
    while isinstance(n, torch.fx.Node):
        if n.op == "call_module":
            m = gm.get_submodule(n.target)
            ok = isinstance(m, (torch.nn.BatchNorm2d, torch.nn.Conv2d, torch.nn.Linear))
            return n.target + ".bias" if ok and getattr(m, "bias", None) is not None else None
        if (n.op == "call_function" and n.target in adds) or \
                (n.op == "call_method" and n.target in ("add", "add_")):
            n = n.args[0]
            continue
        return None
    return None


class Probes:
    """A probed copy of a model: probes[tag] = (kind, pool args, bias name)."""

    def __init__(self, model):
        gm = torch.fx.symbolic_trace(model)
        self.probes = {}
        self.feeds_pool = {}  # ReLU tag -> max pools in a row its output reaches (through cat)
        self.pool_from = {}  # max-pool tag -> the ReLU tags whose outputs are its channels
        for n in gm.graph.nodes:
            if _kind(gm, n) in ("relu", "relu6"):
                depth = _pool_depth(gm, n)
                if depth:
                    self.feeds_pool[n.name] = depth
            elif _kind(gm, n) == "pool":
                src = _relu_sources(gm, n.args[0])
                if src:
                    self.pool_from[n.name] = src
        for n in list(gm.graph.nodes):
            kind = _kind(gm, n)
            if kind is None or not n.args or not isinstance(n.args[0], torch.fx.Node):
                continue
            tag = n.name
            src = _bias_source(gm, n.args[0]) if kind != "pool" else None
            self.probes[tag] = (kind, _pool_args(gm, n), src)
            with gm.graph.inserting_before(n):
                p = gm.graph.call_function(_probe, (n.args[0], tag))
            n.replace_input_with(n.args[0], p)
        gm.recompile()
        self.gm = gm


def _pool_depth(gm, n):
    """How many max pools in a row node n's value reaches (through cat; 0: none)."""
    best, todo = 0, [(u, 0) for u in n.users]
    seen = set()
    while todo:
        u, d = todo.pop()
        if (u, d) in seen:
            continue
        seen.add((u, d))
        if _kind(gm, u) == "pool":
            best = max(best, d + 1)
            todo.extend((w, d + 1) for w in u.users)
        elif u.op == "call_function" and u.target is torch.cat:
            todo.extend((w, d) for w in u.users)
    return best


def _relu_sources(gm, n):
    """The ReLU nodes whose outputs are node n's channels, in channel order (through channel
    concatenation and max pools: both copy values), or None."""
    kind = _kind(gm, n)
    if kind == "relu":
        return [n.name]
    if kind == "pool":
        return _relu_sources(gm, n.args[0])
    if n.op == "call_function" and n.target is torch.cat:
        dim = n.args[1] if len(n.args) > 1 else n.kwargs.get("dim", 0)
        parts = [_relu_sources(gm, a) for a in n.args[0]] if dim == 1 else [None]
        return None if any(p is None for p in parts) else [t for p in parts for t in p]
    return None


def _rms(z):
    r = float(torch.sqrt(torch.mean(z.double() ** 2)))
    return r if r > 0 else 1.0


def _channels(z):
    """(C, M) view of z's values per channel (dimension 1)."""
    return z.transpose(0, 1).reshape(z.shape[1], -1)


# Where a ReLU's kink goes: ordinary ReLUs in the widest gap within WINDOW x rms of 0 (their
# function hardly changes; ReLU6: the widest gap that 0 and 6 both fall in); ReLUs whose output
# reaches a max pool at a high quantile of each channel's values (the widest gap near it), so
# that the pooled map is sparse: a window then holds two positive values rarely, and its largest
# value is either alone or one centred ReLU input away from 0 (near-ties, which centring cannot
# move, become ~50x rarer). A map pooled twice in a row (GoogLeNet's stem pool, then an
# Inception branch's) must be sparse in windows of ~9x9 values: a fraction POSITIVE / 9 positive.
WINDOW = 0.25
POSITIVE = 0.07


def _widest_gap(s, lo, hi):
    """Per row of the sorted values s (C, M) clamped into [lo, hi] (per-row tensors), the middle
    of the widest gap between consecutive values (or the window's ends), and its half width."""
    c = s.shape[0]
    ext = torch.cat([lo.view(c, 1), torch.maximum(torch.minimum(s, hi.view(c, 1)), lo.view(c, 1)),
                     hi.view(c, 1)], dim=1)
    k = torch.argmax(ext[:, 1:] - ext[:, :-1], dim=1, keepdim=True)
    a, b = ext.gather(1, k).squeeze(1), ext.gather(1, k + 1).squeeze(1)
    return 0.5 * (a + b), 0.5 * (b - a)


def _kink_values(z, kind):
    """(C, M') sorted per channel: z's values, and for ReLU6 also z - 6 (its second kink at 0)."""
    v = torch.sort(_channels(z.detach()).double(), dim=1).values
    if kind == "relu6":  # the values 6 above: a gap both kinks fall in
        v = torch.sort(torch.cat([v, v - 6.0], dim=1), dim=1).values
    return v


def center(model, x, train, positive=None, window=None):
    """Moves each ReLU's bias source so that its kink sits in a gap of every channel's values
    (see WINDOW, POSITIVE; one float64 forward pass); returns how many biases moved. Each
    source moves once (at its first ReLU). positive: the fraction of a pooled map left positive
    (default POSITIVE; 1: pooled maps centred as the others)."""
    positive = POSITIVE if positive is None else positive
    window = WINDOW if window is None else window
    work = copy.deepcopy(model).double().train(train)
    pr = Probes(work)
    params = dict(work.named_parameters())
    done = set()

    def rec(tag, z):
        kind, _, src = pr.probes[tag]
        if kind == "pool" or src is None or src in done or src not in params:
            return z
        done.add(src)
        v = _kink_values(z, kind)
        c, m = v.shape
        if tag in pr.feeds_pool and positive < 1:
            q = 1.0 - positive / 9 ** (pr.feeds_pool[tag] - 1)
            i0 = min(m - 1, int((q - (1 - q) * 0.7) * m))
            i1 = min(m - 1, int((q + (1 - q) * 0.7) * m) + 1)
            lo, hi = v[:, i0], v[:, i1]
        else:
            r = _rms(z)
            lo = torch.full((c,), -window * r, dtype=v.dtype)
            hi = torch.full((c,), window * r, dtype=v.dtype)
        mid, _ = _widest_gap(v, lo, hi)
        with torch.no_grad():
            params[src].sub_(mid)
        shape = [1] * z.dim()
        shape[1] = c
        return z - mid.view(shape).to(z.dtype)

    with _Recording(rec), torch.no_grad():
        pr.gm(x.double())
    named = dict(model.named_parameters())
    with torch.no_grad():
        for src in done:
            named[src].copy_(params[src].to(named[src].dtype))
    return len(done)


# Max-pool near-ties (untie): a per-channel shift cannot change the gaps within a channel, but a
# ReLU's kink raised above a window's largest value makes the whole window 0, an exact tie in
# every precision whose gradient the ReLU masks anyway. untie() does it for the few windows whose
# two largest values lie within `ratio` x float32's error (Margins's measure) of each other, in
# forward order: a pass stops at the first max pool with new near-ties, raises the kinks of the
# ReLUs that produced them (traced through channel concatenation and earlier max pools) and
# starts again, so that the raised channels' consequences downstream are seen; ReLUs whose input
# a raised channel moved into float32's reach of the kink are moved into a gap again. At most
# TIE_PASSES passes (one float64 forward pass each).
TIE_PASSES = 40


class _Restart(Exception):
    pass


def _f32_error(z32, z64, kind):
    """float32's RMS error at a probed input (z64 its float64 value), x sqrt 2 at a max pool: a
    gap is two values' errors."""
    e = float(torch.sqrt(torch.mean((z32.detach().double() - z64) ** 2)))
    return e * (2 ** 0.5 if kind == "pool" else 1.0)


def _errors(model, pr, x, train):
    """float32's RMS error at every probed input (x sqrt 2 at a max pool: a gap is two values'
    errors), from one float64 pass through pr and one float32 pass through a copy of model."""
    z64, err = {}, {}
    p32 = Probes(copy.deepcopy(model).float().train(train))

    def r64(tag, z):
        z64[tag] = z.detach().double().clone()
        return z

    def r32(tag, z):
        err[tag] = _f32_error(z, z64[tag], pr.probes[tag][0])
        return z

    with torch.no_grad():
        with _Recording(r64):
            pr.gm(x.double())
        with _Recording(r32):
            p32.gm(x.float())
    return err


def untie(model, x, train, ratio, window=None):
    """Raises ReLU kinks (model's biases, in place) until no max-pool window of the forward pass
    holds a near-tie: two largest values within ratio x float32's error of each other (see the
    comment above; centre the kinks first). Returns a dict: windows (near-ties zeroed), channels
    (kinks raised), moved (ReLU channels moved into a gap again), passes, unresolved (near-ties
    left in the last pass: no bias source found), complete (False: TIE_PASSES reached). Margins
    measures what is left either way."""
    window = WINDOW if window is None else window
    work = copy.deepcopy(model).double().train(train)
    pr = Probes(work)
    params = dict(work.named_parameters())
    err = _errors(model, pr, x, train)
    cons = {}  # ReLU tag -> {channel: [flat indices within the channel kept below the kink]}
    changed, moved = set(), set()
    stats = dict(windows=0, passes=0, unresolved=0)

    def one_pass():
        done, owners, relu_z = set(), set(), {}
        stats["unresolved"] = 0

        def rec(tag, z):
            kind, args, src = pr.probes[tag]
            if kind == "pool":
                if tag in pr.pool_from and tag in err:
                    pool(tag, z, args)
                return z
            if src is not None and src in params and src not in done:
                done.add(src)
                owners.add(tag)
                z = relu(tag, kind, z, src)
            relu_z[tag] = z.detach().clone()  # the ReLU's own input (it may work in place)
            return z

        def relu(tag, kind, z, src):
            v = _kink_values(z, kind)
            c = v.shape[0]
            r, e = _rms(z), ratio * err.get(tag, 0.0)
            d0 = v.abs().min(dim=1).values
            lo = torch.full((c,), -window * r, dtype=v.dtype)
            hi = torch.full((c,), window * r, dtype=v.dtype)
            must = torch.zeros(c, dtype=torch.bool)
            zc = _channels(z.detach()).double()
            for ch, idx in cons.get(tag, {}).items():
                t = zc[ch, idx].max()
                must[ch] = t > -e
                lo[ch] = max(lo[ch], t)
                hi[ch] = lo[ch] + 2 * window * r
            mid, half = _widest_gap(v, lo, hi)
            # into a gap again where the kink is within float32's reach, and a gap at least
            # twice as wide is at hand (so that a pass repeated on the same values moves none)
            go = must | ((d0 < e) & (half > 2 * d0))
            if not bool(go.any()):
                return z
            mid = torch.where(go, mid, torch.zeros_like(mid))
            with torch.no_grad():
                params[src].sub_(mid)
            changed.add(src)
            moved.update((tag, int(ch)) for ch in go.nonzero().flatten().tolist()
                         if ch not in cons.get(tag, {}))
            shape = [1] * z.dim()
            shape[1] = c
            return z - mid.view(shape).to(z.dtype)

        def pool(tag, z, args):
            top, gap, counted = _pool_gaps(z.detach().double(), args)
            near = counted & (gap < ratio * err[tag])
            if not bool(near.any()):
                return
            srcs, c, new = pr.pool_from[tag], z.shape[1], 0
            for row, w in near.nonzero().tolist():
                ch, v = row % c, top[row, 0, w]
                for q in srcs:  # the ReLU whose output channel this is
                    if ch < relu_z[q].shape[1]:
                        break
                    ch -= relu_z[q].shape[1]
                hit = (_channels(relu_z[q])[ch] == v).nonzero().flatten()
                if q not in owners or not hit.numel():
                    stats["unresolved"] += 1
                    continue
                idx = cons.setdefault(q, {}).setdefault(ch, [])
                if int(hit[0]) not in idx:
                    idx.append(int(hit[0]))
                    new += 1
            if new:
                stats["windows"] += new
                raise _Restart

        with _Recording(rec), torch.no_grad():
            pr.gm(x.double())

    for stats["passes"] in range(1, TIE_PASSES + 1):
        try:
            one_pass()
            stats["complete"] = True
            break
        except _Restart:
            stats["complete"] = False  # TIE_PASSES reached: near-ties may be left
    named = dict(model.named_parameters())
    with torch.no_grad():
        for src in changed:
            named[src].copy_(params[src].to(named[src].dtype))
    stats["channels"] = sum(len(v) for v in cons.values())
    stats["moved"] = len(moved)
    return stats


def _pool_gaps(z, args):
    """(top, gap, counted): every window's two largest values (_pool_top2), the largest minus the
    second, and which windows count as possible near-ties. Not counted: windows whose largest is
    0 (all-zero ReLU outputs), exact ties (one value that an overlapping max pool before copied
    into neighbouring pixels), both exact in every precision, and gaps under 1e-12 x rms (ties in
    exact arithmetic that float64 rounding separated)."""
    top = _pool_top2(z, args)
    gap = top[:, 0] - top[:, 1]
    counted = (top[:, 0] != 0) & (gap != 0) & (gap > 1e-12 * _rms(z))
    return top, gap, counted


def _pool_top2(z, args):
    """(n*c, 2, windows): every window's largest and second largest value."""
    k, s, p, d, ceil = _pairs(args)
    out = F.max_pool2d(z, k, s, p, d, ceil)
    hout, wout = out.shape[-2:]
    extra_h = max(0, (hout - 1) * s[0] + d[0] * (k[0] - 1) + 1 - (z.shape[-2] + 2 * p[0]))
    extra_w = max(0, (wout - 1) * s[1] + d[1] * (k[1] - 1) + 1 - (z.shape[-1] + 2 * p[1]))
    zp = F.pad(z, (p[1], p[1] + extra_w, p[0], p[0] + extra_h), value=float("-inf"))
    n, c = z.shape[:2]
    cols = F.unfold(zp.reshape(n * c, 1, *zp.shape[-2:]), k, dilation=d, stride=s)
    cols = cols[:, :, : hout * wout]  # (n*c, k*k, windows)
    return torch.topk(cols, 2, dim=1).values


def _pairs(args):
    k, s, p, d, ceil = args
    two = lambda a: tuple(a) if isinstance(a, (tuple, list)) else (a, a)  # noqa: E731
    return two(k), two(s), two(p), two(d), bool(ceil)


class Margins:
    """The distance of one step's forward pass from every branch point, against float32's error
    there. A float64 pass (record64) stores each probed input and its distance from the branch
    point (ReLU: |z|; ReLU6: to 0 or 6; max pool: the gap between a window's two largest values,
    ties exact in float64 arithmetic, gap < 1e-12 x rms, left out); a float32 pass of the same
    step (record32, another Probes copy: same tags) gives float32's RMS error at that input, and
    ratio = distance / that error (x sqrt 2 for a gap: two values' errors). Another CPU's float32
    errors there are of the same size, so a ratio of 10 leaves no element a chance to cross."""

    def __init__(self):
        self.z64, self.dist, self.worst = {}, {}, {}

    def _record64(self, probes):
        def rec(tag, z):
            kind, args, _ = probes.probes[tag]
            zd = z.detach().double().clone()
            r = _rms(zd)
            if kind == "pool":
                _, gap, counted = _pool_gaps(zd, args)
                g = gap[counted]
                d = float(g.min()) if g.numel() else float("inf")
            else:
                d = float(zd.abs().min())
                if kind == "relu6":
                    d = min(d, float((zd - 6.0).abs().min()))
            self.z64[tag], self.dist[tag] = zd, (d, r, kind)
            return z
        return rec

    def _record32(self, probes):
        def rec(tag, z):
            d, r, kind = self.dist[tag]
            err = _f32_error(z, self.z64[tag], kind)
            ratio = d / err if err > 0 else float("inf")
            group = "pool" if kind == "pool" else "relu"
            if ratio < self.worst.get(group, (float("inf"),))[0]:
                self.worst[group] = (ratio, d / r, tag)
            return z
        return rec

    def record(self, probes, precision):
        """Context manager: a pass through probes.gm in float64 (first) or float32 (second)."""
        return _Recording(self._record64(probes) if precision == 64 else
                          self._record32(probes))


class _Recording:
    def __init__(self, fn):
        self.fn = fn

    def __enter__(self):
        global _RECORD
        _RECORD = self.fn
        return self

    def __exit__(self, *exc):
        global _RECORD
        _RECORD = None
        return False
