#!/usr/bin/env python3
"""Build-time rewrite of one .cu file for the kernel emulator (tests/kernel_emu).

    rewrite.py IN.cu OUT.cpp

Two changes, each within its own lines (the line count is kept and `#line 1 "IN.cu"` comes
first, so compiler errors and sanitizer reports name the .cu file and line):
  name<<<g, b, smem, s>>>(args)   ->  XEMU_LAUNCH(name, g, b, smem, s)(args)
  __shared__ T x[A][B];           ->  static ::xemu::shared_tag x_tag_; auto &x = *(T(*)[A][B])
                                      ::xemu::shared_block(&x_tag_, sizeof(T[A][B]), alignof(T), "x");
  extern __shared__ T x[];        ->  T *x = (T *)::xemu::dynamic_shared();
The whole file goes into namespace xemu_kernels (its includes too: the system headers they name
are already included by the shim, so theirs are no-ops). Anything else the emulator does not understand stays, and the shim's __shared__ macro makes an
unrecognised shared declaration a compile error."""
import re
import sys

LAUNCH = re.compile(r"([A-Za-z_]\w*)\s*<<<")
LAUNCH_END = re.compile(r">>>\s*\(")
SHARED = re.compile(r"(?<![\w])__shared__\s+([A-Za-z_][\w\s:<>,*]*?)\s+([A-Za-z_]\w*)\s*((?:\[[^\]]+\])+)\s*;")
DYN = re.compile(r"extern\s+__shared__\s+([A-Za-z_][\w\s:<>,*]*?)\s+([A-Za-z_]\w*)\s*\[\s*\]\s*;")


def shared(m):
    t, name, dims = m.group(1).strip(), m.group(2), m.group(3)
    return (f"static ::xemu::shared_tag {name}_xemu_tag_; auto &{name} = *({t}(*){dims})"
            f"::xemu::shared_block(&{name}_xemu_tag_, sizeof({t}{dims}), alignof({t}), \"{name}\");")


def main():
    src, out = sys.argv[1], sys.argv[2]
    with open(src, encoding="utf-8") as f:
        text = f.read()
    text = DYN.sub(lambda m: f"{m.group(1).strip()} *{m.group(2)} = "
                   f"({m.group(1).strip()} *)::xemu::dynamic_shared();", text)
    text = SHARED.sub(shared, text)
    n = len(LAUNCH.findall(text))
    text = LAUNCH.sub(lambda m: f"XEMU_LAUNCH({m.group(1)}, ", text)
    text, m = LAUNCH_END.subn(")(", text)
    if n != m:
        sys.exit(f"{src}: {n} launches opened with <<< but {m} closed with >>>(")
    with open(out, "w", encoding="utf-8") as f:
        # the file's own names go into a namespace: a CUDA build of xfer_core linked into the
        # same test holds the nvcc-compiled kernels under the same C++ names
        f.write(f'namespace xemu_kernels {{\n#line 1 "{src}"\n' + text + "\n} /* namespace xemu_kernels */\n")


if __name__ == "__main__":
    main()
