"""scripts/readme_demo_table.py on a real report (`xfer report` of a results file written by
results_tool): the README block it writes holds the report's Table 1 and the note about digits;
--check passes on the README it wrote and on a report whose digits changed, and fails (exit 1,
naming the difference) when a source, a status, a column or an architecture changed; the
repository's README has the markers. (CI compares the README with a fresh demo run: .ci/run.)"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from xfertest import XFER, check, finish  # noqa: E402

SRC = os.environ["XFER_SOURCE_DIR"]
SCRIPT = os.path.join(SRC, "scripts", "readme_demo_table.py")
TOOL = sys.argv[1]
sys.path.insert(0, os.path.join(SRC, "scripts"))
import readme_demo_table as R  # noqa: E402


def script(*args):
    p = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


with tempfile.TemporaryDirectory() as d:
    res, report, readme = (os.path.join(d, f) for f in ("r.h5", "report.md", "README.md"))
    check(subprocess.run([TOOL, "write", res]).returncode == 0, "results_tool write")
    r = subprocess.run([XFER, "report", res], capture_output=True, text=True)
    check(r.returncode == 0 and R.SECTION in r.stdout, f"xfer report: {r.stderr}")
    with open(report, "w") as f:
        f.write(r.stdout)
    text = r.stdout
    with open(readme, "w") as f:
        f.write(f"# x\n\nbefore\n\n{R.BEGIN}\nstale\n{R.END}\n\nafter\n")

    rc, out = script("--check", "--report", report, "--readme", readme)
    check(rc == 1, f"--check on a stale block fails: {rc} {out}")
    rc, out = script("--report", report, "--readme", readme)
    new = open(readme).read()
    table = R.table1_section(text, report)
    check(rc == 0 and "stale" not in new and new.startswith("# x\n\nbefore\n\n")
          and new.endswith(f"{R.END}\n\nafter\n") and R.DIGITS_NOTE in new,
          f"written between the markers, the rest kept: {out}")
    rows = [ln for ln in table if ln.startswith("|")]
    check(len(rows) >= 3 and all(ln in new for ln in rows), "every table line of Table 1 copied")
    rc, out = script("--check", "--report", report, "--readme", readme)
    check(rc == 0 and "matches" in out, f"--check passes on what it wrote: {out}")
    rc, out = script("--report", report, "--readme", readme)
    check(rc == 0 and open(readme).read() == new, "rewriting is idempotent")

    def mutated(what, edit, expect_fail, needle=""):
        m = os.path.join(d, "m.md")
        changed = edit(text)
        check(changed != text, f"{what}: the edit changes the report")
        with open(m, "w") as f:
            f.write(changed)
        rc, out = script("--check", "--report", m, "--readme", readme)
        if expect_fail:
            check(rc == 1 and needle in out, f"{what}: --check fails naming {needle!r}: {rc} {out}")
        else:
            check(rc == 0, f"{what}: --check still passes: {rc} {out}")

    body_rows = [ln for ln in rows if not re.fullmatch(r"[|\-: ]+", ln)
                 and R.cells(ln)[0] != "source"]
    first = R.cells(body_rows[0])
    src, status = first[0], first[2]
    # every digit of every source row changed, best markers moved: the same table for the check
    digits = text
    for ln in body_rows:
        c = R.cells(ln)
        c[3:] = [re.sub(r"\d", lambda m: str((int(m.group()) + 3) % 10), x).replace("*", "")
                 for x in c[3:]]
        digits = digits.replace(ln, "| " + " | ".join(c) + " |", 1)
    mutated("new digits", lambda t: digits, False)
    mutated("a status", lambda t: t.replace(body_rows[0], body_rows[0].replace(
        f"| {status} |", "| failed |" if status != "failed" else "| done |", 1)), True, src)
    mutated("a source renamed", lambda t: t.replace(f"| {src} |", f"| {src}_x |", 1), True,
            "sources differ")
    header = rows[0]
    mutated("a column renamed", lambda t: t.replace(header, header.replace("max acc", "top acc")),
            True, "columns differ")
    mutated("a source dropped", lambda t: t.replace(body_rows[-1] + "\n", ""), True,
            "sources differ")

rd = open(os.path.join(SRC, "README.md")).read()
check(rd.count(R.BEGIN) == 1 and rd.count(R.END) == 1 and rd.index(R.BEGIN) < rd.index(R.END),
      "README.md has the demo-table markers once, in order")
finish()
