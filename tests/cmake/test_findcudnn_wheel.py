#!/usr/bin/env python3
"""cmake/FindCUDNN.cmake finds cuDNN installed only as a Python wheel (docs/gpu.md, issue 13).

Builds a fake nvidia-cudnn wheel in a temporary directory -- site-packages/nvidia/cudnn/include/
cudnn.h and cudnn_version.h (version 9.19.3), lib/libcudnn.so.9 as a stub shared object and NO
unversioned libcudnn.so, as the real wheel ships it -- and configures tests/cmake/findcudnn_probe
with PYTHONPATH pointing at it, every find re-rooted into the temporary directory
(CMAKE_FIND_ROOT_PATH, ONLY), so a cuDNN elsewhere on the machine cannot be found instead. Asserts
that the module found that header, that library and that version, that a program linked against
CUDNN::cudnn runs and reports the stub's version; then, with a copy of the module whose NAMES lack
libcudnn.so.9, that the library is NOT found (the wheel has no other name for it), and with no
wheel at all that nothing is found (the machine's own cuDNN is out of reach)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

SRC = os.environ.get("XFER_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PROBE = os.path.join(SRC, "tests", "cmake", "findcudnn_probe")

HEADER = """/* fake cudnn.h (tests/cmake/test_findcudnn_wheel.py) */
#include <stddef.h>
#include "cudnn_version.h"
size_t cudnnGetVersion(void);
"""
VERSION_H = """/* fake cudnn_version.h */
#define CUDNN_MAJOR 9
#define CUDNN_MINOR 19
#define CUDNN_PATCHLEVEL 3
#define CUDNN_VERSION (CUDNN_MAJOR * 10000 + CUDNN_MINOR * 100 + CUDNN_PATCHLEVEL)
"""
STUB = """#include <stddef.h>
size_t cudnnGetVersion(void) { return 91903; }
"""


def fail(msg, out=""):
    print(out)
    print(f"FAIL: {msg}")
    sys.exit(1)


def make_wheel(root):
    cudnn = os.path.join(root, "site-packages", "nvidia", "cudnn")
    os.makedirs(os.path.join(cudnn, "include"))
    os.makedirs(os.path.join(cudnn, "lib"))
    open(os.path.join(cudnn, "__init__.py"), "w").close()  # as the wheel has; nvidia/ has none
    with open(os.path.join(cudnn, "include", "cudnn.h"), "w") as f:
        f.write(HEADER)
    with open(os.path.join(cudnn, "include", "cudnn_version.h"), "w") as f:
        f.write(VERSION_H)
    stub = os.path.join(root, "stub.c")
    with open(stub, "w") as f:
        f.write(STUB)
    lib = os.path.join(cudnn, "lib", "libcudnn.so.9")
    subprocess.run(["cc", "-shared", "-fPIC", "-Wl,-soname,libcudnn.so.9", "-o", lib, stub],
                   check=True)
    return cudnn


def configure(root, build, module_dir):
    env = dict(os.environ)
    for v in ("CUDNN_ROOT", "VIRTUAL_ENV", "CMAKE_PREFIX_PATH"):
        env.pop(v, None)
    env["PYTHONPATH"] = os.path.join(root, "site-packages")
    cmd = ["cmake", "-S", PROBE, "-B", build, f"-DXFER_CMAKE_DIR={module_dir}",
           f"-DCUDNN_PYTHON={sys.executable}", f"-DCMAKE_FIND_ROOT_PATH={root}",
           "-DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY", "-DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY",
           "-DCMAKE_FIND_ROOT_PATH_MODE_PACKAGE=ONLY"]
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return r.returncode, r.stdout


def found(out, key):
    m = re.search(rf"probe: {key}=(.*)", out)
    return m.group(1).strip() if m else None


def main():
    root = tempfile.mkdtemp(prefix="xfer-findcudnn-")
    try:
        cudnn = make_wheel(root)
        want_inc = os.path.join(cudnn, "include")
        want_lib = os.path.join(cudnn, "lib", "libcudnn.so.9")
        rc, out = configure(root, os.path.join(root, "build"), os.path.join(SRC, "cmake"))
        if rc != 0:
            fail("configure with the wheel failed", out)
        inc, lib, ver = found(out, "include"), found(out, "library"), found(out, "version")
        print(f"found: include {inc}\n       library {lib}\n       version {ver}")
        if inc is None or os.path.realpath(inc) != os.path.realpath(want_inc):
            fail(f"include dir {inc}, want {want_inc}", out)
        if lib is None or os.path.realpath(lib) != os.path.realpath(want_lib):
            fail(f"library {lib}, want {want_lib}", out)
        if ver != "9.19.3":
            fail(f"version {ver}, want 9.19.3", out)
        b = subprocess.run(["cmake", "--build", os.path.join(root, "build")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if b.returncode != 0:
            fail("linking against CUDNN::cudnn failed", b.stdout)
        p = subprocess.run([os.path.join(root, "build", "probe")], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        print(f"probe: {p.stdout.strip()}")
        if p.returncode != 0 or p.stdout.strip() != "header 91903 library 91903":
            fail(f"the linked program says {p.stdout.strip()!r} (rc {p.returncode})")
        # the same wheel with a module whose NAMES lack libcudnn.so.9: nothing to find
        alt = os.path.join(root, "module-without-so9")
        os.makedirs(alt)
        text = open(os.path.join(SRC, "cmake", "FindCUDNN.cmake"), encoding="utf-8").read()
        cut = text.replace("NAMES cudnn libcudnn.so.9", "NAMES cudnn")
        if cut == text:
            fail("FindCUDNN.cmake has no 'NAMES cudnn libcudnn.so.9' to cut (test out of date)")
        with open(os.path.join(alt, "FindCUDNN.cmake"), "w", encoding="utf-8") as f:
            f.write(cut)
        rc2, out2 = configure(root, os.path.join(root, "build-cut"), alt)
        if rc2 == 0:
            fail("without libcudnn.so.9 in NAMES the library was still found", out2)
        if "CUDNN_LIBRARY" not in out2:
            fail("without libcudnn.so.9: configure failed for another reason", out2)
        print("without libcudnn.so.9 in NAMES: not found (as it must)")
        # no wheel at all: the re-rooting hides every other cuDNN, so nothing is found
        empty = os.path.join(root, "empty")
        os.makedirs(os.path.join(empty, "site-packages"))
        rc3, out3 = configure(empty, os.path.join(root, "build-empty"), os.path.join(SRC, "cmake"))
        if rc3 == 0:
            fail("with no wheel a cuDNN was found: the test is not isolated from the machine", out3)
        print("no wheel: not found (the machine's own cuDNN is out of reach)")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
