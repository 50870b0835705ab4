#!/usr/bin/python3
"""The README's demo table comes from a run of the demo.

  scripts/readme_demo_table.py [--report results/demo/report.md] [--readme README.md]
      rewrites the block of README.md between the demo-table markers with the Table 1 section
      ("## Sources (Table 1)") of the report that `xfer run configs/demo.yaml` wrote, followed by a
      sentence saying that the digits may differ between CPUs.
  scripts/readme_demo_table.py --check [--report R] [--readme README.md]
      exit 0 when the README's block has the same tables as the report's Table 1: the same
      architectures, columns, sources and every non-numeric cell (chain, status, "failed"), in the
      same order. Numbers are not compared (a cell made only of numbers, signs, ±, brackets, '*'
      best markers or '–' counts as "a number"): they depend on the CPU's kernels. Exit 1 listing
      the differences; exit 2 on a missing file, marker or table.

Nothing here knows the demo's sources, metrics or columns: whatever the report's Table 1 holds
(more sources, seeds, mean ± sd columns) is copied and compared the same way."""
import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN = ("<!-- demo-table begin: written by scripts/readme_demo_table.py from "
         "results/demo/report.md; do not edit by hand -->")
END = "<!-- demo-table end -->"
SECTION = "## Sources (Table 1)"
DIGITS_NOTE = ("These figures come from one run of the demo. The sources, columns and statuses are "
               "the same on every machine (CI checks them against a fresh run); the digits may "
               "differ between CPUs (other BLAS kernels and summation orders change the last bits, "
               "and training amplifies them).")
NUMBER = re.compile(r"^[-+0-9.eE±\[\],;:%/() *–—]*(inf|nan)?[-+0-9.eE±\[\],;:%/() *–—]*$")


def fail(msg, code=2):
    print(f"readme_demo_table: {msg}", file=sys.stderr)
    sys.exit(code)


def table1_section(report_text, where):
    lines = report_text.splitlines()
    try:
        i = lines.index(SECTION)
    except ValueError:
        fail(f"{where}: no '{SECTION}' section")
    out = []
    for line in lines[i + 1:]:
        if line.startswith("## "):
            break
        out.append(line)
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return out


def block(lines):
    """The README block for a report's Table 1 lines: one architecture needs no heading."""
    heads = [ln for ln in lines if ln.startswith("### ")]
    if len(heads) == 1:
        lines = [ln for ln in lines if not ln.startswith("### ")]
        while lines and not lines[0].strip():
            lines.pop(0)
    return lines + ["", DIGITS_NOTE]


def split_readme(text, where):
    b, e = text.find(BEGIN), text.find(END)
    if b < 0 or e < 0 or e < b:
        fail(f"{where}: the markers {BEGIN!r} ... {END!r} are missing")
    return text[:b + len(BEGIN)], text[b + len(BEGIN):e], text[e:]


def cells(row):
    row = row.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    return [c.strip() for c in re.split(r"(?<!\\)\|", row)]


def shape(lines):
    """[(architecture or '', header cells, [row pattern...])] of the markdown tables in lines."""
    tables, arch, cur = [], "", None
    for ln in lines:
        if ln.startswith("### "):
            arch = ln[4:].strip()
            continue
        if not ln.lstrip().startswith("|"):
            cur = None
            continue
        c = cells(ln)
        if cur is None:
            cur = (arch, c, [])
            tables.append(cur)
        elif all(re.fullmatch(r":?-+:?", x) for x in c):
            continue
        else:
            cur[2].append([("#" if NUMBER.match(x) and x else x) for x in c])
    return tables


def compare(readme_tables, report_tables):
    diffs = []
    if len(readme_tables) != len(report_tables):
        diffs.append(f"README has {len(readme_tables)} tables, the report {len(report_tables)}")
    single = len(report_tables) == 1
    for k, (a, b) in enumerate(zip(readme_tables, report_tables)):
        name = b[0] or f"table {k + 1}"
        if not single and a[0] != b[0]:
            diffs.append(f"table {k + 1}: architecture {a[0]!r} in README, {b[0]!r} in the report")
        if a[1] != b[1]:
            diffs.append(f"{name}: columns differ:\n    README: {a[1]}\n    report: {b[1]}")
            continue
        ra = [r[0] for r in a[2]]
        rb = [r[0] for r in b[2]]
        if ra != rb:
            diffs.append(f"{name}: sources differ: README {ra}, report {rb}")
            continue
        for x, y in zip(a[2], b[2]):
            for col, u, v in zip(b[1], x, y):
                if u != v:
                    diffs.append(f"{name}, {y[0]}, {col}: README {u!r}, report {v!r}")
    return diffs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--report", default=os.path.join(ROOT, "results", "demo", "report.md"))
    ap.add_argument("--readme", default=os.path.join(ROOT, "README.md"))
    ap.add_argument("--check", action="store_true",
                    help="compare instead of writing (sources, columns, statuses; not digits)")
    a = ap.parse_args()
    for p in (a.report, a.readme):
        if not os.path.isfile(p):
            fail(f"{p}: no such file" + (" (run ./build/xfer run configs/demo.yaml first)"
                                         if p == a.report else ""))
    report = table1_section(open(a.report, encoding="utf-8").read(), a.report)
    text = open(a.readme, encoding="utf-8").read()
    head, body, tail = split_readme(text, a.readme)
    if a.check:
        mine, theirs = shape(body.splitlines()), shape(report)
        if not theirs:
            fail(f"{a.report}: no table in '{SECTION}'")
        diffs = compare(mine, theirs)
        if diffs:
            print(f"readme_demo_table: {a.readme}'s demo table does not match {a.report} "
                  f"(regenerate it with scripts/readme_demo_table.py):")
            for d in diffs:
                print("  " + d)
            return 1
        n = sum(len(t[2]) for t in theirs)
        print(f"readme_demo_table: {a.readme}'s demo table matches {a.report}: {len(theirs)} "
              f"table(s), {n} sources, {len(theirs[0][1])} columns (digits not compared)")
        return 0
    new = head + "\n" + "\n".join(block(report)) + "\n" + tail
    if new != text:
        with open(a.readme + ".tmp", "w", encoding="utf-8") as f:
            f.write(new)
        os.replace(a.readme + ".tmp", a.readme)
        print(f"readme_demo_table: {a.readme}: demo table rewritten from {a.report}")
    else:
        print(f"readme_demo_table: {a.readme}: demo table already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
