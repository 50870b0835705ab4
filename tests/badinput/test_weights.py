#!/usr/bin/python3
"""Bad weights files through `xfer run` (issue 9's weights list): a source `weights:` file that is
truncated, has a header longer than the file, overlapping data offsets, NaN values (warned about,
accepted), the wrong architecture (shape mismatch naming the tensor), F16/BF16 (accepted, same
result as F32 up to the rounding), or a PyTorch .pth (told to convert with
scripts/convert_torch.py). Each refusal: exit 2, the file and reason named, no results file and no
temp file left. The good weights are a ResNet-18 (width 0.125) that a first tiny run builds; files
are rewritten here with numpy, torch writes the .pth."""
import json, os, shutil, struct, sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "faults"))
from faultutil import Checker, curves, experiment, run_main, tmpdir, xfer  # noqa: E402

RUN = ["run", "--no-plots", "--threads", "1"]
NP = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64}


def read_st(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    meta = h.pop("__metadata__", {})
    t = {}
    for k, v in h.items():
        s, e = v["data_offsets"]
        t[k] = np.frombuffer(b[8 + n + s:8 + n + e], NP[v["dtype"]]).reshape(v["shape"])
    return t, meta


def st_bytes(tensors, meta, dtype="F32", header_fix=None):
    """tensors {name: float array} -> safetensors bytes in dtype F32 | F16 | BF16."""
    h, blobs, off = {"__metadata__": meta}, [], 0
    for k, a in tensors.items():
        if dtype == "BF16":
            raw = (np.asarray(a, np.float32).view(np.uint32) >> 16).astype(np.uint16).tobytes()
        else:
            raw = np.asarray(a, NP[dtype]).tobytes()
        h[k] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if header_fix:
        header_fix(h)
    hb = json.dumps(h).encode()
    hb += b" " * (-len(hb) % 8)
    return struct.pack("<Q", len(hb)) + hb + b"".join(blobs)


def main():
    check = Checker()
    base = tmpdir("badweights")
    try:
        mk = os.path.join(base, "mk")
        experiment(mk)
        r = xfer(RUN + ["--only", "built", "tiny.yaml"], mk)
        if not check(r.returncode == 0, "a first run builds the source weights"):
            print(r.stderr)
            check.finish()
        tensors, meta = read_st(os.path.join(mk, "out/sources/built.safetensors"))
        tensors = {k: v for k, v in tensors.items() if not k.startswith("momentum.")
                   and v.dtype != np.int64}
        meta = {"arch": "resnet18"}
        good = st_bytes(tensors, meta)

        def run_with(tag, data, needles, expect_rc=2, name="w.safetensors", arch_line=None):
            d = os.path.join(base, tag)
            subst = {"w": ("weights: random", "weights: " + name)}
            if arch_line:
                subst["a"] = arch_line
            experiment(d, **subst)
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
            r = xfer(RUN + ["--only", "rnd", "tiny.yaml"], d)
            ok = r.returncode == expect_rc and all(n in r.stderr for n in needles)
            check(ok, f"{tag}: exit {r.returncode} (want {expect_rc}), message has {needles}")
            if not ok:
                print("      " + r.stderr.strip().replace("\n", "\n      ")[-1500:])
            out = os.path.join(d, "out")
            tmp_left = [f for _, _, fs in os.walk(d) for f in fs if ".tmp" in f]
            check(not tmp_left, f"{tag}: no temp file left ({tmp_left})")
            res = os.path.join(out, "results.h5")
            if expect_rc == 2 and os.path.exists(res):
                # the file was created before the source was loaded: it must be whole, with the
                # source failed and the reason recorded
                with h5py.File(res, "r") as f:
                    a = f["sources/rnd"].attrs
                    check(a["status"] == "failed" and needles[-1] in a["error"],
                          f"{tag}: results file whole, rnd failed: {a['error']}")
            return d, r

        # the good file is accepted: the reference for the F16/BF16 runs
        ref, _ = run_with("good_f32", good, [], expect_rc=0)
        want, _ = curves(os.path.join(ref, "out/results.h5"))
        run_with("truncated", good[: len(good) * 2 // 3], ["w.safetensors"])
        n = struct.unpack("<Q", good[:8])[0]
        run_with("header_longer_than_file", struct.pack("<Q", len(good) * 4) + good[8:],
                 ["w.safetensors", "longer than the file"])

        def overlap(h):
            names = [k for k in h if k != "__metadata__"]
            a, b = h[names[0]], h[names[1]]
            b["data_offsets"] = [a["data_offsets"][0], a["data_offsets"][0] +
                                 b["data_offsets"][1] - b["data_offsets"][0]]
        run_with("overlapping_offsets", st_bytes(tensors, meta, header_fix=overlap),
                 ["w.safetensors", "overlap"])
        first = next(iter(tensors))
        nan = dict(tensors)
        nan["fc.weight"] = np.full_like(tensors["fc.weight"], np.nan)
        # NaN weights are warned about by name and count at load; the source's outputs are then
        # NaN too, so its scoring fails with a named reason (exit 2: bad input)
        run_with("nan_weights_warn", st_bytes(nan, meta),
                 ["warning: w.safetensors: fc.weight has 192 NaN/Inf values", "non-finite outputs"])
        wrong = dict(tensors)
        wrong["layer1.0.conv1.weight"] = np.zeros((8, 8, 5, 5), np.float32)
        run_with("wrong_arch_shape_mismatch", st_bytes(wrong, meta),
                 ["w.safetensors", "layer1.0.conv1.weight", "shape"])
        run_with("wrong_width", good, ["w.safetensors", "shape"],
                 arch_line=("width: 0.125\n    weights: w",
                            "width: 0.25\n    weights: w"))
        for dt in ["F16", "BF16"]:
            d, r = run_with(f"{dt.lower()}_accepted", st_bytes(tensors, meta, dtype=dt), [],
                            expect_rc=0)
            got, status = curves(os.path.join(d, "out/results.h5"))
            check(status.get("rnd") == "done" and len(got["rnd"]["epoch"]) == len(want["rnd"]["epoch"]),
                  f"{dt}: the source is fine-tuned to done ({status})")
        try:
            import torch
            pth = os.path.join(base, "m.pth")
            torch.save({k: torch.from_numpy(v.copy()) for k, v in tensors.items()}, pth)
            run_with("pth_by_mistake", open(pth, "rb").read(),
                     ["w.pth", "convert", "scripts/convert_torch.py"], name="w.pth")
            torch.save({k: torch.from_numpy(v.copy()) for k, v in tensors.items()}, pth,
                       _use_new_zipfile_serialization=False)
            run_with("pth_legacy_pickle", open(pth, "rb").read(),
                     ["w.safetensors", "scripts/convert_torch.py"])
        except ImportError:
            print("note: no torch, .pth cases not run")
        del first, n
    finally:
        shutil.rmtree(base, ignore_errors=True)
    check.finish()


if __name__ == "__main__":
    run_main(main)
