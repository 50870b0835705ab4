"""scripts/convert_torch.py for issue 15's architectures, checked by loading the result into xfer
(`xfer step --weights W --list-tensors` loads by name, all-or-nothing):
  - DenseNet-121 with the published checkpoints' old keys ("norm.1") converts to names xfer loads;
  - GoogLeNet with its aux heads converts, and xfer skips aux1/aux2 at load;
  - MobileNetV2 and MNASNet from torchvision convert and load;
  - a ResNet-18 file converted as --arch densenet121 is a named error (exit 2) in the converter,
    and the same file given to xfer as densenet121 weights is a named error (exit 2);
  - timm's MobileNetV2 names (conv_stem...) are a named error (exit 2).
Random-initialised torchvision models stand in for the downloads. Fails loudly without torch."""
import os
import re
import subprocess
import sys
import tempfile

try:
    import torch
    import torchvision.models as tvm
except ImportError as e:
    print(f"FAILED: torch/torchvision are required: {e}")
    print("0 passed, 1 failed")
    sys.exit(1)

PY = "/usr/bin/python3"
CONVERT = os.path.join(os.environ["XFER_SOURCE_DIR"], "scripts", "convert_torch.py")
XFER = os.environ["XFER"]
RESULTS = []  # (ok, what)


def check(ok, what):
    RESULTS.append((bool(ok), what))
    print("ok:" if ok else "FAILED:", what)


def run(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True)


def xfer_load(arch, path, classes=1000):
    return run(XFER, "step", "--arch", arch, "--num-classes", str(classes), "--weights", path,
               "--list-tensors")


def main():
    with tempfile.TemporaryDirectory() as d:
        # DenseNet-121, old key names, as published
        sd = tvm.densenet121(num_classes=1000).state_dict()
        old = {re.sub(r"(denselayer\d+\.(?:norm|conv))([12])\.", r"\1.\2.", k): v
               for k, v in sd.items()}
        check(sum(".norm.1." in k for k in old) > 100, "the stand-in has old-style keys")
        pth, out = os.path.join(d, "densenet121.pth"), os.path.join(d, "densenet121.safetensors")
        torch.save(old, pth)
        r = run(PY, CONVERT, pth, out, "--arch", "densenet121")
        check(r.returncode == 0 and "renamed" in r.stderr, f"densenet121 converts: {r.stderr}")
        r = xfer_load("densenet121", out)
        check(r.returncode == 0, f"xfer loads the converted densenet121: {r.stderr.strip()}")
        # GoogLeNet with its aux heads
        g = tvm.googlenet(num_classes=1000, aux_logits=True, init_weights=False)
        pth, out = os.path.join(d, "googlenet.pth"), os.path.join(d, "googlenet.safetensors")
        torch.save(g.state_dict(), pth)
        r = run(PY, CONVERT, pth, out, "--arch", "googlenet")
        check(r.returncode == 0, f"googlenet with aux heads converts: {r.stderr}")
        r = xfer_load("googlenet", out)
        check(r.returncode == 0 and "auxiliary heads skipped" in r.stderr,
              f"xfer loads googlenet and skips the aux heads: {r.stderr.strip()}")
        # MobileNetV2, MNASNet (a 10-class head: only the class count may differ)
        for arch in ("mobilenet_v2", "mnasnet1_0"):
            pth, out = os.path.join(d, arch + ".pth"), os.path.join(d, arch + ".safetensors")
            torch.save(getattr(tvm, arch)(num_classes=10).state_dict(), pth)
            r = run(PY, CONVERT, pth, out, "--arch", arch)
            check(r.returncode == 0, f"{arch} converts: {r.stderr}")
            r = xfer_load(arch, out, 10)
            check(r.returncode == 0, f"xfer loads the converted {arch}: {r.stderr.strip()}")
        # the wrong architecture
        pth, out = os.path.join(d, "resnet18.pth"), os.path.join(d, "resnet18.safetensors")
        torch.save(tvm.resnet18().state_dict(), pth)
        r = run(PY, CONVERT, pth, out + ".x", "--arch", "densenet121")
        check(r.returncode == 2 and "not a torchvision densenet121 checkpoint" in r.stderr
              and "features.conv0.weight" in r.stderr and "layer1.0.conv1.weight" in r.stderr
              and not os.path.exists(out + ".x"),
              f"resnet18 weights as densenet121: exit 2 naming tensors: {r.stderr.strip()[:300]}")
        r = run(PY, CONVERT, pth, out)
        check(r.returncode == 0, "resnet18 converts without --arch")
        r = xfer_load("densenet121", out)
        check(r.returncode == 2 and "features.conv0.weight" in r.stderr and "densenet121" in r.stderr,
              f"xfer refuses resnet18 weights for densenet121 by name: {r.stderr.strip()[:300]}")
        # timm's MobileNetV2 names
        pth = os.path.join(d, "timm_mbv2.pth")
        torch.save({"conv_stem.weight": torch.zeros(32, 3, 3, 3),
                    "bn1.weight": torch.ones(32)}, pth)
        r = run(PY, CONVERT, pth, os.path.join(d, "t.safetensors"), "--arch", "mobilenet_v2")
        check(r.returncode == 2 and "conv_stem.weight" in r.stderr and "timm" in r.stderr,
              f"timm mobilenet_v2 names: exit 2 naming the tensor: {r.stderr.strip()}")
    bad = sum(not ok for ok, _ in RESULTS)
    print(f"{len(RESULTS) - bad} passed, {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
