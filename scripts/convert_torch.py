#!/usr/bin/python3
"""Convert a PyTorch checkpoint (.pth / .pth.tar / .pt) to safetensors for xfer.

    convert_torch.py INPUT.pth [OUTPUT.safetensors] [--arch ARCH] [--drop-num-batches]
    convert_torch.py --check FILE.safetensors

The checkpoint may be a bare state_dict, a dict wrapping one under 'state_dict' or 'model' (e.g.
the Places365 CSAIL checkpoints: {'epoch', 'arch', 'state_dict', 'best_prec1'}), or a pickled
nn.Module. 'module.' prefixes left by nn.DataParallel are stripped, tensors are made contiguous and
written with metadata 'arch' (from --arch or the checkpoint's 'arch') and 'source' (the input file
name). With an architecture (--arch or the checkpoint's), the names are made torchvision's
current ones and checked against torchvision's model of that architecture:
  - DenseNet: the published checkpoints' old keys ("denselayer1.norm.1.weight") become
    "denselayer1.norm1.weight" (the rename torchvision applies when it loads them);
  - GoogLeNet / Inception-v3: the auxiliary heads (aux1, aux2, AuxLogits) are kept (xfer skips
    them at load);
  - timm / HF files: their names equal torchvision's for ResNets, DenseNets and Inception-v3;
    timm's MobileNetV2 and MNASNet use other names (conv_stem, blocks.*), which is a named error;
  - any missing, unexpected or mis-shaped tensor (a checkpoint of another architecture) is an
    error naming the tensors (exit 2). Only the classifier's class count may differ.
The safetensors file is written here with struct + json (no dependency on the safetensors
package): 8-byte little-endian header length, JSON header padded with spaces to a multiple of 8,
then the tensors in order. Exit status: 0 ok, 2 bad input.
"""
import argparse
import json
import os
import struct
import sys

DTYPES = {  # torch dtype name -> (safetensors dtype, element size)
    "float32": ("F32", 4), "float16": ("F16", 2), "bfloat16": ("BF16", 2),
    "float64": ("F64", 8), "int64": ("I64", 8), "int32": ("I32", 4),
    "uint8": ("U8", 1), "bool": ("BOOL", 1),
}
SIZES = {st: size for st, size in DTYPES.values()}
MAX_HEADER = 100 * 1000 * 1000


class InputError(Exception):
    pass


def load_checkpoint(path):
    """torch.load on the CPU, restricted to tensors and plain containers where torch supports it
    (weights_only); old checkpoints that pickle other classes (argparse.Namespace, a whole
    nn.Module) fall back to full unpickling with a note."""
    import torch
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # torch without weights_only
        return torch.load(path, map_location="cpu")
    except Exception as first:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=False)
        except Exception:
            raise first
        print(f"{path}: note: weights-only load failed ({first}); loaded with full unpickling, "
              "which runs code from the file: convert only checkpoints you trust", file=sys.stderr)
        return obj


def state_dict_of(obj, path):
    import torch
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    if not isinstance(obj, dict):
        raise InputError(f"{path}: not a state_dict or checkpoint dict (got {type(obj).__name__})")
    for key in ("state_dict", "model"):
        inner = obj.get(key)
        if isinstance(inner, torch.nn.Module):
            return inner.state_dict()
        if isinstance(inner, dict):
            return inner
    return obj


def tensors_of(sd, path, drop_num_batches):
    import torch
    out, skipped = {}, []
    for name, value in sd.items():
        if not isinstance(value, torch.Tensor):
            skipped.append(str(name))
            continue
        name = str(name)
        if name.startswith("module."):
            name = name[len("module."):]
        if drop_num_batches and name.endswith("num_batches_tracked"):
            continue
        if name in out:
            raise InputError(f"{path}: two tensors named '{name}' after stripping 'module.'")
        out[name] = value.detach().cpu().contiguous()
    if skipped:
        print(f"{path}: note: skipped {len(skipped)} non-tensor entries: "
              + ", ".join(skipped[:10]), file=sys.stderr)
    if not out:
        raise InputError(f"{path}: no tensors found")
    return out


# torchvision's regex for DenseNet's old keys (densenet.py, _load_state_dict)
DENSENET_OLD_KEY = (r"^(.*denselayer\d+\.(?:norm|relu|conv))\."
                    r"((?:[12])\.(?:weight|bias|running_mean|running_var))$")
AUX_PREFIXES = {"googlenet": ("aux1.", "aux2."), "inception_v3": ("AuxLogits.",)}
HEADS = {"alexnet": "classifier.6.", "mobilenet_v2": "classifier.1.", "mnasnet1_0": "classifier.1.",
         "densenet121": "classifier.", "densenet169": "classifier.", "densenet201": "classifier."}
TIMM_ONLY = ("conv_stem.weight", "conv_head.weight")  # timm's EfficientNet-family names


def rename_for_arch(tensors, arch):
    import re
    if not arch.startswith("densenet"):
        return tensors
    out, renamed = {}, 0
    for name, t in tensors.items():
        m = re.match(DENSENET_OLD_KEY, name)
        if m:
            name = m.group(1) + m.group(2)
            renamed += 1
        if name in out:
            raise InputError(f"tensor '{name}' appears under its old and its new DenseNet name")
        out[name] = t
    if renamed:
        print(f"note: {renamed} old-style DenseNet keys renamed (norm.1 -> norm1)", file=sys.stderr)
    return out


def reference_shapes(arch):
    """torchvision's state_dict names and shapes for arch (aux heads included), or None when
    torchvision does not know the name."""
    import torch
    import torchvision.models as tvm
    if not hasattr(tvm, arch) or arch.startswith("_"):
        return None
    kw = {"init_weights": False} if arch in AUX_PREFIXES else {}
    if arch in AUX_PREFIXES:
        kw["aux_logits"] = True
    with torch.no_grad():
        model = getattr(tvm, arch)(**kw)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def check_arch(tensors, arch, path):
    for name in TIMM_ONLY:
        if name in tensors:
            raise InputError(f"{path}: tensor '{name}' is a timm name (EfficientNet-style "
                             f"conv_stem/blocks/conv_head), not torchvision's {arch}; xfer reads "
                             f"torchvision's {arch} names: convert torchvision's checkpoint")
    ref = reference_shapes(arch)
    if ref is None:
        print(f"note: torchvision has no architecture '{arch}': names not checked",
              file=sys.stderr)
        return
    aux = AUX_PREFIXES.get(arch, ())
    head = HEADS.get(arch, "fc.")
    skip = lambda n: n.endswith("num_batches_tracked")  # noqa: E731
    missing = [n for n in ref if not skip(n) and not n.startswith(aux) and n not in tensors]
    unexpected = [n for n in tensors if not skip(n) and n not in ref]
    bad = []
    for n, t in tensors.items():
        if n in ref and tuple(t.shape) != ref[n] and not skip(n):
            only_classes = n.startswith(head) and tuple(t.shape[1:]) == ref[n][1:]
            if not only_classes:
                bad.append(f"{n} {list(t.shape)} (torchvision {list(ref[n])})")
    if missing or unexpected or bad:
        parts = []
        for what, names in (("missing", missing), ("unexpected", unexpected),
                            ("shape mismatches", bad)):
            if names:
                parts.append(f"{len(names)} {what}: " + ", ".join(names[:8]) +
                             (" ..." if len(names) > 8 else ""))
        raise InputError(f"{path}: not a torchvision {arch} checkpoint: " + "; ".join(parts))


def tensor_bytes(t, name):
    import torch
    key = str(t.dtype).replace("torch.", "")
    if key not in DTYPES:
        raise InputError(f"tensor '{name}': dtype {t.dtype} is not supported by xfer "
                         f"(supported: {', '.join(DTYPES)})")
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: same bits as int16
        t = t.view(torch.int16)
    data = t.numpy().tobytes()
    if sys.byteorder != "little":
        raise InputError("big-endian hosts are not supported")
    return DTYPES[key][0], data


def write_safetensors(path, tensors, metadata):
    """tensors: name -> torch.Tensor (insertion order kept). Atomic: PATH.tmp.<pid> then rename."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        dtype, data = tensor_bytes(t, name)
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for b in blobs:
                f.write(b)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise InputError(f"{path}: cannot write: {e.strerror}")


def read_safetensors_header(path):
    """Returns (metadata, [(name, dtype, shape, begin, end)], data_start); validates the layout."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(8)
            if len(head) < 8:
                raise InputError(f"{path}: bad header length: file has {len(head)} bytes")
            if head[:4] == b"PK\x03\x04" or (head[0] == 0x80 and 2 <= head[1] <= 5):
                if f.read(1) != b"{":
                    raise InputError(f"{path}: this looks like a PyTorch .pth checkpoint; "
                                     "convert it with scripts/convert_torch.py")
                f.seek(8)
            (n,) = struct.unpack("<Q", head)
            if n > MAX_HEADER or n > size - 8:
                raise InputError(f"{path}: bad header length {n} (file has {size} bytes)")
            try:
                header = json.loads(f.read(n).decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                raise InputError(f"{path}: header is not valid JSON: {e}")
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}")
    if not isinstance(header, dict):
        raise InputError(f"{path}: header JSON is not an object")
    meta = header.pop("__metadata__", None) or {}
    entries = []
    for name, e in header.items():
        try:
            dtype, shape, (b, end) = e["dtype"], e["shape"], e["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{path}: tensor '{name}': needs dtype, shape, data_offsets")
        if dtype not in SIZES:
            raise InputError(f"{path}: unknown dtype {dtype} for tensor '{name}'")
        numel = 1
        for d in shape:
            numel *= d
        if end - b != numel * SIZES[dtype]:
            raise InputError(f"{path}: tensor '{name}': shape/size mismatch")
        entries.append((name, dtype, shape, b, end))
    pos = 0
    for name, _, _, b, end in sorted(entries, key=lambda x: (x[3], x[4])):
        if b != pos:
            raise InputError(f"{path}: tensor '{name}': offsets do not tile the buffer")
        pos = end
    if 8 + n + pos != size:
        raise InputError(f"{path}: {size - 8 - n - pos} trailing bytes after the tensors")
    return meta, entries, 8 + n


def check(path):
    meta, entries, _ = read_safetensors_header(path)
    for k, v in meta.items():
        print(f"meta {k} = {v}")
    total = 0
    for name, dtype, shape, b, end in entries:
        print(f"{name}\t{dtype}\t[{', '.join(str(d) for d in shape)}]")
        total += end - b
    print(f"{len(entries)} tensors, {total} bytes of data")


def default_output(inp):
    base = os.path.basename(inp)
    for suffix in (".pth.tar", ".pth", ".pt", ".tar", ".ckpt", ".bin"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return os.path.join(os.path.dirname(inp), base + ".safetensors")


def main(argv):
    p = argparse.ArgumentParser(
        description="Convert a PyTorch .pth/.pth.tar checkpoint to safetensors for xfer, or "
                    "--check a safetensors file.")
    p.add_argument("input", help="checkpoint to convert (or the .safetensors file with --check)")
    p.add_argument("output", nargs="?", help="output .safetensors (default: INPUT with its "
                   "extension replaced)")
    p.add_argument("--arch", help="architecture written to metadata (default: the checkpoint's "
                   "'arch' key, if any)")
    p.add_argument("--drop-num-batches", action="store_true",
                   help="leave out BatchNorm num_batches_tracked counters")
    p.add_argument("--check", action="store_true",
                   help="read a .safetensors file back and print its metadata and tensors")
    args = p.parse_args(argv)
    try:
        if args.check:
            check(args.input)
            return 0
        if not os.path.isfile(args.input):
            raise InputError(f"{args.input}: no such file")
        try:
            obj = load_checkpoint(args.input)
        except InputError:
            raise
        except Exception as e:
            raise InputError(f"{args.input}: cannot load as a PyTorch checkpoint: "
                             f"{type(e).__name__}: {e}")
        sd = state_dict_of(obj, args.input)
        tensors = tensors_of(sd, args.input, args.drop_num_batches)
        meta = {"format": "pt", "source": os.path.basename(args.input)}
        arch = args.arch
        if not arch and isinstance(obj, dict) and isinstance(obj.get("arch"), str):
            arch = obj["arch"]
        if arch:
            meta["arch"] = str(arch)
            tensors = rename_for_arch(tensors, str(arch))
            check_arch(tensors, str(arch), args.input)
        out = args.output or default_output(args.input)
        write_safetensors(out, tensors, meta)
        print(f"{out}: {len(tensors)} tensors" + (f", arch {arch}" if arch else ""))
        return 0
    except InputError as e:
        print(f"convert_torch.py: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
