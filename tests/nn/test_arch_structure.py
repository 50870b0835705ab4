"""Every architecture's tensor table against torchvision 0.14's (Debian's python3-torchvision):
the same state_dict names, kinds (parameter / buffer) and shapes, in the same order, for each of
the archs given on the command line (num_batches_tracked is not kept by xfer; GoogLeNet and
Inception-v3 without their auxiliary heads, as they are fine-tuned). Fails loudly without
torchvision."""
import subprocess
import sys

try:
    import torchvision.models as tvm
except ImportError as e:
    print(f"FAILED: torch/torchvision are required: {e}")
    print("0 passed, 1 failed")
    sys.exit(1)

K = 10  # a head size different from ImageNet's, so the head's shape is checked too


def torchvision_model(arch):
    kw = {"num_classes": K}
    if arch == "googlenet":
        kw.update(aux_logits=False, init_weights=False)
    if arch == "inception_v3":
        kw.update(aux_logits=False, init_weights=False)
    return getattr(tvm, arch)(**kw)


def torch_table(arch):
    m = torchvision_model(arch)
    params = {n for n, _ in m.named_parameters()}
    rows = []
    for name, t in m.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        rows.append((name, "param" if name in params else "buffer", tuple(t.shape)))
    return rows


def xfer_table(xfer, arch):
    out = subprocess.run([xfer, "step", "--arch", arch, "--num-classes", str(K), "--list-tensors"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return None, out.stderr
    rows = []
    for line in out.stdout.splitlines():
        name, kind, shape = line.split(" ")
        rows.append((name, kind, tuple(int(v) for v in shape.split(","))))
    return rows, ""


def one_step(xfer, arch, size):
    import os
    import tempfile
    import numpy as np
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import st_util
    with tempfile.TemporaryDirectory() as d:
        b, o = os.path.join(d, "b.safetensors"), os.path.join(d, "o.safetensors")
        rng = np.random.default_rng(0)
        st_util.save(b, {"images": rng.standard_normal((2, 3, size, size)).astype(np.float32),
                         "labels": np.array([1, 2], dtype=np.int64)})
        r = subprocess.run([xfer, "step", "--arch", arch, "--num-classes", str(K), "--batch", b,
                            "--out", o, "--dropout", "0", "--threads", "2"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            return False, f"exit {r.returncode} {r.stderr.strip()}"
        out, _ = st_util.load(o)
        return bool(np.all(np.isfinite(out["logits"]))), "logits finite"


def main():
    import os
    xfer, archs = os.environ["XFER"], sys.argv[1:]
    passed = failed = 0
    for arch in archs:
        want = torch_table(arch)
        got, msg = xfer_table(xfer, arch)
        if got is None:
            print(f"FAILED: {arch}: xfer step --list-tensors: {msg.strip()}")
            failed += 1
            continue
        problems = []
        if len(got) != len(want):
            problems.append(f"{len(got)} tensors, torchvision has {len(want)}")
        for i, (g, w) in enumerate(zip(got, want)):
            if g != w:
                problems.append(f"#{i}: xfer {g}, torchvision {w}")
                break
        missing = {w[0] for w in want} - {g[0] for g in got}
        extra = {g[0] for g in got} - {w[0] for w in want}
        if missing:
            problems.append(f"missing {sorted(missing)[:5]}")
        if extra:
            problems.append(f"unexpected {sorted(extra)[:5]}")
        if problems:
            print(f"FAILED: {arch}: " + "; ".join(problems))
            failed += 1
        else:
            print(f"ok: {arch}: {len(got)} tensors, names, kinds and shapes equal")
            passed += 1
    # one training step of the two archs whose graph starts with transform_input (no gradient
    # flows into the images: the backward of that node must not write one), at their smallest
    # inputs
    for arch, size in (("googlenet", 32), ("inception_v3", 75)):
        if arch not in archs:
            continue
        ok, why = one_step(xfer, arch, size)
        print(("ok: " if ok else "FAILED: ") + f"{arch}: one training step at {size}x{size}: {why}")
        passed, failed = passed + ok, failed + (not ok)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
