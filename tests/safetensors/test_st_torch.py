#!/usr/bin/python3
"""safetensors files made with torch (through scripts/convert_torch.py and through an independent
writer laid out like the reference implementation) must read in xfer with the same values that
torch holds. xfer's view comes from the st_dump program (argv[1]). Fails loudly without torch."""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import torch
import torchvision

ST_DUMP = sys.argv[1]
SRC = os.environ.get("XFER_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
CONVERT = os.path.join(SRC, "scripts", "convert_torch.py")
PY = "/usr/bin/python3"
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)


def run(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True)


def dump(path):
    r = run(ST_DUMP, path)
    rows, meta = {}, {}
    for line in r.stdout.splitlines():
        if line.startswith("meta "):
            k, _, v = line[5:].partition("=")
            meta[k] = v
            continue
        name, dtype, shape, s, s2, first, last, bad = line.split("\t")
        rows[name] = dict(dtype=dtype, shape=[int(d) for d in shape.split(",")] if shape else [],
                          sum=float(s), sum2=float(s2), first=float(first), last=float(last),
                          nonfinite=int(bad))
    return r.returncode, rows, meta, r.stderr


ST_NAMES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
            torch.float64: "F64", torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8",
            torch.bool: "BOOL"}


def close(a, b, scale):
    if math.isnan(b):
        return math.isnan(a)
    if math.isinf(b):
        return a == b
    return abs(a - b) <= 1e-9 * scale + 1e-30


def compare(label, rows, tensors):
    """rows: st_dump output; tensors: name -> torch tensor (the reference)."""
    check(set(rows) == set(tensors),
          f"{label}: names differ: only xfer {sorted(set(rows) - set(tensors))[:5]}, "
          f"only torch {sorted(set(tensors) - set(rows))[:5]}")
    for name, t in tensors.items():
        r = rows.get(name)
        if r is None:
            continue
        check(r["dtype"] == ST_NAMES[t.dtype], f"{label}/{name}: dtype {r['dtype']} vs {t.dtype}")
        check(r["shape"] == list(t.shape), f"{label}/{name}: shape {r['shape']} vs {list(t.shape)}")
        # xfer converts to float32 (F64 rounds); the reference applies the same rounding in torch
        f = t.reshape(-1).to(torch.float32).to(torch.float64)
        finite = f[torch.isfinite(f)]
        scale = float(finite.abs().sum()) + 1.0
        s, s2 = float(f.sum()), float((f * f).sum())
        check(close(r["sum"], s, scale), f"{label}/{name}: sum {r['sum']!r} vs {s!r}")
        check(close(r["sum2"], s2, float((finite * finite).sum()) + 1.0),
              f"{label}/{name}: sum of squares {r['sum2']!r} vs {s2!r}")
        if f.numel():
            check(close(r["first"], float(f[0]), abs(float(f[0])) * 1e-7 / 1e-9 + 1),
                  f"{label}/{name}: first {r['first']} vs {float(f[0])}")
            check(close(r["last"], float(f[-1]), abs(float(f[-1])) * 1e-7 / 1e-9 + 1),
                  f"{label}/{name}: last {r['last']} vs {float(f[-1])}")
        want_bad = int((~torch.isfinite(t.to(torch.float64))).sum()) if t.is_floating_point() else 0
        check(r["nonfinite"] == want_bad, f"{label}/{name}: non-finite {r['nonfinite']} vs {want_bad}")


def write_reference_layout(path, tensors, metadata):
    """A writer independent of convert_torch.py, laid out like the safetensors library: header keys
    sorted by name, data ordered by dtype alignment (largest first) then name, so header order and
    offset order differ; header padded with spaces to a multiple of 8."""
    order = sorted(tensors, key=lambda n: (-tensors[n].element_size(), n))
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for n in order:
        t = tensors[n].contiguous()
        raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[n] = {"dtype": ST_NAMES[t.dtype], "shape": list(t.shape),
                     "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blobs.append(raw)
    text = json.dumps(header, sort_keys=True).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    torch.manual_seed(0)
    tmp = tempfile.mkdtemp(prefix="st_torch_")

    # 1. Places365-style checkpoint: {'state_dict': {'module.' + k: v}, 'arch', 'epoch'}
    model = torchvision.models.resnet18(num_classes=365)
    with torch.no_grad():  # make BN buffers non-trivial
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(1234)
    sd = model.state_dict()
    ckpt = os.path.join(tmp, "resnet18_places365.pth.tar")
    torch.save({"epoch": 90, "arch": "resnet18", "best_prec1": 54.7,
                "state_dict": {"module." + k: v for k, v in sd.items()}}, ckpt)
    r = run(PY, CONVERT, ckpt)
    check(r.returncode == 0, f"convert resnet18: {r.stderr}")
    out = os.path.join(tmp, "resnet18_places365.safetensors")
    rc, rows, meta, err = dump(out)
    check(rc == 0, f"st_dump resnet18: {err}")
    compare("resnet18", rows, sd)
    check(meta.get("arch") == "resnet18", f"arch metadata {meta}")
    check(meta.get("source") == "resnet18_places365.pth.tar", f"source metadata {meta}")
    check(rows.get("bn1.num_batches_tracked", {}).get("dtype") == "I64", "num_batches_tracked kept")
    r = run(PY, CONVERT, "--check", out)
    check(r.returncode == 0 and "layer4.1.bn2.running_var\tF32\t[512]" in r.stdout
          and "meta arch = resnet18" in r.stdout, f"--check output: {r.stdout[-300:]} {r.stderr}")

    # the .pth itself is refused by xfer with the conversion hint (zip and legacy pickle formats)
    rc, _, _, err = dump(ckpt)
    check(rc == 2 and "convert it with scripts/convert_torch.py" in err, f"zip .pth: {rc} {err}")
    legacy = os.path.join(tmp, "legacy.pth")
    import argparse
    torch.save({"arch": "resnet18", "args": argparse.Namespace(lr=0.1),
                "state_dict": {"module." + k: v for k, v in list(sd.items())[:6]}},
               legacy, _use_new_zipfile_serialization=False)
    rc, _, _, err = dump(legacy)
    check(rc == 2 and "looks like a PyTorch .pth checkpoint" in err, f"legacy .pth: {rc} {err}")
    r = run(PY, CONVERT, "--check", legacy)
    check(r.returncode == 2 and "convert_torch.py" in r.stderr, f"--check on .pth: {r.stderr}")

    # 2. legacy pickle with a non-tensor class inside, --arch override, --drop-num-batches
    out2 = os.path.join(tmp, "legacy.safetensors")
    r = run(PY, CONVERT, legacy, out2, "--arch", "resnet18-custom", "--drop-num-batches")
    check(r.returncode == 0, f"convert legacy: {r.stderr}")
    rc, rows, meta, err = dump(out2)
    want = {k: v for k, v in list(sd.items())[:6] if not k.endswith("num_batches_tracked")}
    check(rc == 0, f"st_dump legacy: {err}")
    compare("legacy", rows, want)
    check(meta.get("arch") == "resnet18-custom", f"--arch metadata {meta}")

    # 3. every dtype, special values, a non-contiguous tensor, a scalar, a NaN weight
    x = torch.randn(5, 7)
    special = torch.tensor([0.0, -0.0, 1e-7, 6e-8, 65504.0, float("inf"), -3.5, 1e30])
    mixed = {
        "half": (x * 100).half(),
        "half.special": special.half(),
        "bf16": (x * 1e20).bfloat16(),
        "bf16.special": special.bfloat16(),
        "double": x.double() * 1e10 + 1e-3,
        "transposed": x.t(),  # not contiguous: the converter must make it so
        "i64": torch.arange(-3, 9, dtype=torch.int64).reshape(3, 4),
        "i32": torch.tensor([-2**31, 2**31 - 1, 5], dtype=torch.int32),
        "u8": torch.arange(0, 256, 17, dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 4),
        "nan": torch.tensor([1.0, float("nan"), 2.0, float("-inf")]),
    }
    mixed_pt = os.path.join(tmp, "mixed.pt")
    torch.save(mixed, mixed_pt)
    r = run(PY, CONVERT, mixed_pt)
    check(r.returncode == 0, f"convert mixed: {r.stderr}")
    rc, rows, _, err = dump(os.path.join(tmp, "mixed.safetensors"))
    check(rc == 0, f"st_dump mixed: {err}")
    compare("mixed", rows, mixed)

    # 4. a timm-style file in the reference library's layout (resnet18.tv_in1k names, I64
    #    num_batches_tracked, F16 copy of the weights too)
    timm = dict(sd)
    timm["fc.weight"] = sd["fc.weight"][:10].clone()
    timm["fc.bias"] = sd["fc.bias"][:10].clone()
    timm["conv1.weight.half"] = sd["conv1.weight"].half()
    timm_path = os.path.join(tmp, "model.safetensors")
    write_reference_layout(timm_path, timm, {"format": "pt"})
    rc, rows, meta, err = dump(timm_path)
    check(rc == 0, f"st_dump timm layout: {err}")
    compare("timm", rows, timm)
    check(meta == {"format": "pt"}, f"timm metadata {meta}")

    # 5. converter errors: exit 2 with a message naming the file; --help exits 0
    r = run(PY, CONVERT, os.path.join(tmp, "missing.pth"))
    check(r.returncode == 2 and "missing.pth" in r.stderr, f"missing input: {r.returncode} {r.stderr}")
    junk = os.path.join(tmp, "junk.pth")
    with open(junk, "w") as f:
        f.write("not a checkpoint\n")
    r = run(PY, CONVERT, junk)
    check(r.returncode == 2 and "junk.pth: cannot load" in r.stderr, f"junk input: {r.stderr}")
    bad_dtype = os.path.join(tmp, "int8.pt")
    torch.save({"w": torch.zeros(3, dtype=torch.int8)}, bad_dtype)
    r = run(PY, CONVERT, bad_dtype)
    check(r.returncode == 2 and "tensor 'w'" in r.stderr, f"int8 tensor: {r.stderr}")
    check(not os.path.exists(os.path.join(tmp, "int8.safetensors")), "no output left on error")
    r = run(PY, CONVERT, "--help")
    check(r.returncode == 0 and "--drop-num-batches" in r.stdout, "--help")
    check(not any(".tmp." in n for n in os.listdir(tmp)), f"temp files left: {os.listdir(tmp)}")

    import shutil
    shutil.rmtree(tmp)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
