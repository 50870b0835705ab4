"""`xfer step` behaviour beyond numerics: head replacement, loading errors listed by name (exit 2),
bad inputs, and determinism (two runs with the same seed and threads are bitwise equal)."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_util  # noqa: E402

try:
    import numpy as np
    import torch
    import torchvision
except ImportError as e:
    print(f"FAILED: torch/torchvision/numpy are required: {e}")
    print("0 passed, 1 failed")
    sys.exit(1)

XFER = os.environ["XFER"]
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAILED:", what)


def step(*args):
    return subprocess.run([XFER, "step", "--device", "cpu", "--threads", "2"] + list(args),
                          capture_output=True, text=True)


d = tempfile.mkdtemp()
p = lambda f: os.path.join(d, f)  # noqa: E731
torch.manual_seed(0)
small = torchvision.models.resnet18(num_classes=1000)
sd = st_util.state_dict_arrays(small)
st_util.save(p("r18_1000.safetensors"), sd)
gen = np.random.default_rng(0)
st_util.save(p("batch.safetensors"), {
    "images": gen.standard_normal((2, 3, 32, 32)).astype(np.float32),
    "labels": np.array([1, 4], dtype=np.int64)})

# 1. head replacement: 1000-class weights on a 5-class task load with a note, the backbone is kept
r = step("--arch", "resnet18", "--num-classes", "5", "--weights", p("r18_1000.safetensors"),
         "--batch", p("batch.safetensors"), "--out", p("o.safetensors"), "--lr", "0")
check(r.returncode == 0, f"head replacement: exit {r.returncode}: {r.stderr}")
check("head re-initialised" in r.stderr and "fc.weight" in r.stderr,
      f"head replacement note missing: {r.stderr!r}")
if r.returncode == 0:
    out, _ = st_util.load(p("o.safetensors"))
    check(np.array_equal(out["param.layer1.0.conv1.weight"], sd["layer1.0.conv1.weight"]),
          "backbone weights not loaded as given (lr 0)")
    check(out["param.fc.weight"].shape == (5, 512), "new head shape")
    bound = 1 / np.sqrt(512)  # torch's Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    w = out["param.fc.weight"]
    check(np.abs(w).max() <= bound and w.std() > 0.5 * bound / np.sqrt(3),
          f"head init not Linear-default: max {np.abs(w).max()}, std {w.std()}")

# 2. loading errors: missing, unexpected and mismatched keys all named in one message, exit 2
bad = dict(sd)
del bad["layer2.0.bn1.running_var"]
bad["layer9.extra.weight"] = np.zeros(3, np.float32)
bad["layer3.1.conv2.weight"] = np.zeros((256, 256, 1, 1), np.float32)
st_util.save(p("bad.safetensors"), bad)
r = step("--arch", "resnet18", "--num-classes", "1000", "--weights", p("bad.safetensors"),
         "--batch", p("batch.safetensors"), "--out", p("o2.safetensors"))
check(r.returncode == 2, f"bad weights: exit {r.returncode}, expected 2")
for name in ("layer2.0.bn1.running_var", "layer9.extra.weight", "layer3.1.conv2.weight",
             "bad.safetensors"):
    check(name in r.stderr, f"bad weights: {name} not named in {r.stderr!r}")
check(not os.path.exists(p("o2.safetensors")), "no output after an error")

# 3. AlexNet weights on a ResNet: error, exit 2
st_util.save(p("alex.safetensors"), st_util.state_dict_arrays(torchvision.models.alexnet()))
r = step("--arch", "resnet18", "--num-classes", "1000", "--weights", p("alex.safetensors"),
         "--batch", p("batch.safetensors"), "--out", p("o3.safetensors"))
check(r.returncode == 2 and "missing keys" in r.stderr and "features.0.weight" in r.stderr,
      f"alexnet weights on resnet18: {r.returncode} {r.stderr[:300]!r}")

# 4. bad inputs -> named errors, exit 2
st_util.save(p("badlabel.safetensors"), {
    "images": np.zeros((2, 3, 32, 32), np.float32), "labels": np.array([0, 7], np.int64)})
st_util.save(p("one.safetensors"), {
    "images": np.zeros((1, 3, 32, 32), np.float32), "labels": np.array([0], np.int64)})
cases = [
    # one image of 32x32 leaves 1 value per channel in layer4's BN: torch refuses it too
    (["--arch", "resnet18", "--num-classes", "5", "--batch", p("one.safetensors")],
     "more than 1 value per channel"),
    (["--arch", "vgg16", "--num-classes", "5"], "vgg16"),
    (["--arch", "resnet18", "--num-classes", "5", "--batch", p("badlabel.safetensors")],
     "labels[1]"),
    (["--arch", "resnet18", "--num-classes", "5", "--batch", p("nope.safetensors")],
     "nope.safetensors"),
    (["--arch", "alexnet", "--num-classes", "5"], "too small"),  # 32x32 < AlexNet's 63x63
    (["--arch", "resnet18", "--num-classes", "5", "--mode", "test"], "--mode"),
    (["--arch", "resnet18", "--num-classes", "5", "--device", "cuda"], "cuda"),
    (["--arch", "resnet18", "--num-classes", "1000", "--weights", p("r18_1000.safetensors"),
      "--resume", p("r18_1000.safetensors")], "exclude each other"),
    (["--arch", "resnet18", "--num-classes", "1000", "--resume", p("started.safetensors")],
     "momentum.conv1.weight is missing"),
]
st_util.save(p("started.safetensors"), sd, {"xfer.sgd.started": "1"})
for args, needle in cases:
    if "--batch" not in args:
        args = args + ["--batch", p("batch.safetensors")]
    r = subprocess.run([XFER, "step"] + args + ["--out", p("o4.safetensors")],
                       capture_output=True, text=True)
    check(r.returncode == 2 and needle in r.stderr,
          f"{args}: exit {r.returncode}, stderr {r.stderr!r} (want 2 and {needle!r})")

# 5. determinism: same seed and threads -> bitwise equal outputs (dropout on, 2 steps)
st_util.save(p("batch64.safetensors"), {
    "images": gen.standard_normal((2, 3, 64, 64)).astype(np.float32),
    "labels": np.array([1, 2], dtype=np.int64)})
outs = []
for k in range(2):
    r = step("--arch", "alexnet", "--width", "0.25", "--num-classes", "3", "--seed", "7",
             "--batch", p("batch64.safetensors"), "--out", p(f"det{k}.safetensors"), "--steps",
             "2", "--momentum", "0.9", "--dropout", "0.5")
    check(r.returncode == 0, f"determinism run {k}: {r.stderr}")
    outs.append(open(p(f"det{k}.safetensors"), "rb").read() if r.returncode == 0 else b"")
check(outs[0] == outs[1] and len(outs[0]) > 0, "two identical runs differ")
r = step("--arch", "resnet18", "--width", "0.25", "--num-classes", "3", "--seed", "7",
         "--batch", p("batch64.safetensors"), "--out", p("det2.safetensors"), "--steps", "2")
r2 = step("--arch", "resnet18", "--width", "0.25", "--num-classes", "3", "--seed", "7",
          "--batch", p("batch64.safetensors"), "--out", p("det3.safetensors"), "--steps", "2")
check(r.returncode == 0 and r2.returncode == 0 and
      open(p("det2.safetensors"), "rb").read() == open(p("det3.safetensors"), "rb").read(),
      "resnet18 runs differ")
# a different seed gives a different model
r = step("--arch", "alexnet", "--width", "0.25", "--num-classes", "3", "--seed", "8",
         "--batch", p("batch64.safetensors"), "--out", p("det4.safetensors"), "--steps", "2",
         "--dropout", "0.5")
check(r.returncode == 0 and open(p("det4.safetensors"), "rb").read() != outs[0],
      "seed has no effect")

# 6. --resume: two steps with momentum equal one step, then one resumed from its output's
# parameters, BN statistics and momentum buffers (bitwise)
w3 = dict(sd)
w3["fc.weight"], w3["fc.bias"] = sd["fc.weight"][:3].copy(), sd["fc.bias"][:3].copy()
st_util.save(p("r18_3.safetensors"), w3)
opts = ["--arch", "resnet18", "--num-classes", "3", "--batch", p("batch64.safetensors"),
        "--momentum", "0.9", "--weight-decay", "5e-4"]
r = step(*opts, "--weights", p("r18_3.safetensors"), "--steps", "2", "--out", p("two.safetensors"))
r1 = step(*opts, "--weights", p("r18_3.safetensors"), "--out", p("one.safetensors"))
check(r.returncode == 0 and r1.returncode == 0, f"resume set-up: {r.stderr} {r1.stderr}")
if r.returncode == 0 and r1.returncode == 0:
    o1, _ = st_util.load(p("one.safetensors"))
    ck = {k: v for k, v in w3.items() if k.endswith("num_batches_tracked")}
    for k, v in o1.items():
        for pre in ("param.", "buffer.", "momentum."):
            if k.startswith(pre):
                ck[k[len(pre):] if pre != "momentum." else k] = v
    check(any(k.startswith("momentum.") for k in ck), "no momentum.* in --out with momentum on")
    st_util.save(p("ck.safetensors"), ck, {"xfer.sgd.started": "1"})
    r2 = step(*opts, "--resume", p("ck.safetensors"), "--out", p("resumed.safetensors"))
    check(r2.returncode == 0, f"--resume: exit {r2.returncode}: {r2.stderr}")
    if r2.returncode == 0:
        two, _ = st_util.load(p("two.safetensors"))
        res, _ = st_util.load(p("resumed.safetensors"))
        diff = [k for k in two if (k.startswith(("param.", "buffer.", "momentum.")) and
                                   not np.array_equal(two[k], res[k]))]
        check(not diff and len(two) > 0, f"resumed step differs from the second step: {diff[:3]}")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
