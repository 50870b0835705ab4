#!/usr/bin/python3
"""Checks that scripts/setup.sh installs everything the tests use, so that a missing package fails
CI here, by name, instead of a test failing later on an ImportError or a missing command.

  /usr/bin/python3 scripts/check_test_deps.py [-v]

What "the tests use" is found by reading the sources, not by running them:
  - every Python module imported by tests/**/*.py and by the scripts they run (local helper
    modules such as st_util are skipped), found with the ast module;
  - every external command they start: Python's subprocess/os/shutil.which calls with a literal
    program name, and the commands of the shell scripts (tests/**/*.sh and the scripts/ files the
    tests, the test CMake files or xfer itself name);
  - every absolute /usr path those files name (data sets, sample images).
"The scripts the tests run" are the files under scripts/ whose name appears in a string of a test
(or of xfer's sources, or of another such script), comments and docstrings excepted.

Each need is mapped to the Debian package that provides it: the standard library to python3; an
installed module, command or file to its package with `dpkg -S`; anything not installed here
through the tables below. A need is met when its package is in setup.sh's package list (every
array named *_DEPS there, printed by `scripts/setup.sh --list-packages`), is pulled in by one of
those packages' Depends (what `apt-get install --no-install-recommends` installs), or is part of
every Debian system (Essential or Priority required). Anything else fails, naming the package, the
need and the file that has it. Needs whose package cannot be told at all fail too: add them to a
table."""
import ast
import importlib.util
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Needs that `dpkg -S` cannot resolve on this machine (not installed here, or installed by hand):
# name -> Debian package. Extend these when a test starts to use something new.
MODULE_PACKAGES = {
    "sklearn": "python3-sklearn", "yaml": "python3-yaml", "ot": "python3-pot",
    "PIL": "python3-pil", "torch": "python3-torch", "torchvision": "python3-torchvision",
    "numpy": "python3-numpy", "scipy": "python3-scipy", "h5py": "python3-h5py",
    "matplotlib": "python3-matplotlib",
}
COMMAND_PACKAGES = {
    "fasttext": "fasttext", "h5dump": "hdf5-tools", "h5ls": "hdf5-tools", "valgrind": "valgrind",
    "clang": "clang", "sbatch": "slurm-client", "squeue": "slurm-client", "srun": "slurm-client",
    "scontrol": "slurm-client", "sacct": "slurm-client", "slurmctld": "slurmctld",
    "slurmd": "slurmd", "munged": "munge", "munge": "munge", "cmake": "cmake", "ctest": "cmake",
}
PATH_PACKAGES = {  # path prefix -> package
    "/usr/share/datasets/fashion-mnist": "dataset-fashion-mnist",
    "/usr/share/wordnet": "wordnet-base",
    "/usr/share/matplotlib/mpl-data": "python3-matplotlib",
    "/usr/lib/python3/dist-packages/sklearn": "python3-sklearn",
}
# Commands that no Debian package has to provide: CUDA's tools (GPU machines only, found through
# an environment variable there: docs/gpu.md) and commands the tests write themselves as stand-ins.
NOT_DEBIAN = {"compute-sanitizer", "nvidia-smi", "nvcc", "xfer"}
# Commands a script calls that the tests replace with a stand-in they write (accepted, with a note,
# when setup.sh does not install the real one).
STAND_INS = {"sbatch": "tests/results/test_slurm.py puts a stand-in sbatch on PATH"}

SHELL_WORDS = set("""if then else elif fi for while until do done case esac in function select
time coproc ! [[ ]] { } ( ) ;; : . source exec command builtin eval set unset shift export local
readonly declare typeset return exit break continue trap wait cd pwd echo printf read test [
true false getopts umask ulimit type hash alias let mapfile readarray kill jobs""".split())

verbose = "-v" in sys.argv[1:]


def rel(path):
    return os.path.relpath(path, ROOT)


def sh(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


# ---- what the setup installs -------------------------------------------------------------------

def setup_packages():
    r = sh("bash", os.path.join(ROOT, "scripts", "setup.sh"), "--list-packages")
    if r.returncode != 0:
        sys.exit(f"check_test_deps: scripts/setup.sh --list-packages failed: {r.stderr.strip()}")
    return [p for p in r.stdout.split() if p]


def provided_closure(listed):
    """The packages apt installs for `listed` without recommends, and the names apt knows."""
    r = sh("apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
           "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *listed)
    closure = set()
    for line in r.stdout.splitlines():
        if line and not line[0].isspace():
            closure.add(line.strip().strip("<>"))
        elif ":" in line:  # "  Depends: pkg" / " |Depends: <virtual>"
            closure.add(line.split(":", 1)[1].strip().strip("<>").split(":")[0])
    return closure


def base_system():
    r = sh("dpkg-query", "-W", "-f=${Package}\t${Essential}\t${Priority}\n")
    base = set()
    for line in r.stdout.splitlines():
        f = line.split("\t")
        if len(f) == 3 and (f[1] == "yes" or f[2] == "required"):
            base.add(f[0])
    return base


def dpkg_owners(path):
    """Packages owning an installed path (directories may have several), [] when none."""
    cands = [path, os.path.realpath(path)]
    cands += [re.sub(r"^/usr/(bin|sbin|lib)/", r"/\1/", c) for c in cands]  # merged /usr
    for p in dict.fromkeys(cands):
        r = sh("dpkg", "-S", p)
        if r.returncode == 0:
            owners = []
            for line in r.stdout.splitlines():
                if line.startswith("diversion by"):
                    continue
                pkgs, _, f = line.rpartition(": ")
                if f.strip() == p:
                    owners += [x.strip().split(":")[0] for x in pkgs.split(",")]
            if owners:
                return owners
    return []


# ---- what the tests use ------------------------------------------------------------------------

class Needs:
    def __init__(self):
        self.items = {}  # (kind, name) -> [where, ...]

    def add(self, kind, name, where):
        self.items.setdefault((kind, name), []).append(where)


def strip_comments(text, style):
    if style == "c":
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        return re.sub(r"//[^\n]*", "", text)
    out = []
    for line in text.splitlines():  # shell / CMake: a # at the start of a word starts a comment
        out.append(re.sub(r"(^|\s)#.*", "", line) if not line.startswith("#!") else "")
    return "\n".join(out)


def py_strings(tree):
    """String constants of a module that are not docstrings."""
    doc = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            if node.body and isinstance(node.body[0], ast.Expr) and \
                    isinstance(node.body[0].value, ast.Constant):
                doc.add(id(node.body[0].value))
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and id(n) not in doc]


CALLS = {("subprocess", a) for a in ("run", "call", "check_call", "check_output", "Popen")} | \
    {("os", a) for a in ("system", "popen", "execv", "execvp", "execl", "execlp", "spawnlp")} | \
    {("shutil", "which")}


def program_of(arg):
    """The literal program name of a call's first argument, or None."""
    if isinstance(arg, (ast.List, ast.Tuple)) and arg.elts:
        arg = arg.elts[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.strip():
        return arg.value.split()[0]
    return None


def scan_python(path, needs, local_modules):
    text = open(path, encoding="utf-8").read()
    tree = ast.parse(text, filename=path)
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for n in names:
            top = n.split(".")[0]
            if top not in local_modules:
                needs.add("module", top, f"{rel(path)}:{node.lineno}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                isinstance(node.func.value, ast.Name) and \
                (node.func.value.id, node.func.attr) in CALLS and node.args:
            prog = program_of(node.args[0])
            if prog:
                needs.add("command", prog, f"{rel(path)}:{node.lineno}")
    strings = py_strings(tree)
    scan_paths(" ".join(strings), path, needs)
    return strings


def blank_quotes(line):
    """A shell line with its quoted literals replaced by $Q, keeping the $( ) inside double quotes."""
    out, stack, i = [], ["top"], 0
    while i < len(line):
        c, top = line[i], stack[-1]
        if top in ("top", "cmd"):
            if c == "\\":
                out.append(line[i:i + 2])
                i += 2
                continue
            if c in "'\"":
                stack.append("sq" if c == "'" else "dq")
                out.append("$Q")  # skipped in command position, like any variable
            elif c == "(" and top == "cmd":
                stack.append("cmd")
                out.append(c)
            elif c == ")" and top == "cmd":
                stack.pop()
                out.append(c)
            else:
                out.append(c)
        elif top == "sq":
            if c == "'":
                stack.pop()
        elif c == "\\":
            i += 1
        elif c == '"':
            stack.pop()
        elif line.startswith("$(", i):
            stack.append("cmd")
            out.append(" $(")
            i += 1
        i += 1
    return "".join(out)


def drop_heredocs(text):
    out, end = [], None
    for line in text.splitlines():
        if end is not None:
            if line.strip() == end:
                end = None
            out.append("")
            continue
        m = re.search(r"<<-?\s*['\"]?(\w+)", line)
        if m:
            end = m.group(1)
        out.append(line)
    return "\n".join(out)


def shell_commands(text):
    """Words in command position of a shell script (a heuristic that errs towards listing more)."""
    text = strip_comments(drop_heredocs(text), "sh")
    text = "\n".join(blank_quotes(line) for line in text.splitlines())
    # case patterns ("cuda)", "K | k)") after "case WORD in" and after each ";;" are not commands
    text = re.sub(r"(\bcase\b[^\n]*?\bin\b|;;&?|;&)(\s*)\(?[^();\n]*\)", r"\1\2 ", text)
    defined = set(re.findall(r"^\s*(?:function\s+)?([A-Za-z_][\w-]*)\s*\(\)", text, flags=re.M))
    text = re.sub(r"\(\((.*?)\)\)", " ", text)  # arithmetic
    text = re.sub(r"\$\{[^}$]*\}", "$x", text)  # ${var...} without a command inside: a word
    cmds = []
    for lineno, line in enumerate(text.splitlines(), 1):
        for seg in re.split(r"\$\(|`|\|\||&&|[;|&(){}]|\bthen\b|\bdo\b|\belse\b|\bif\b|\bwhile\b"
                            r"|\buntil\b|!\s", line):
            words = seg.split()
            while words and (re.match(r"^[A-Za-z_]\w*(\[[^]]*\])?\+?=", words[0]) or
                             words[0] in ("exec", "command", "nice", "env", "time", "!")):
                words = words[1:]
            if not words:
                continue
            w = words[0].strip("\"'")
            if not w or w in SHELL_WORDS or w in defined or w.startswith(("$", "-", "<", ">")) \
                    or "/" in w or "=" in w or not re.match(r"^[A-Za-z0-9_.+-]+$", w) \
                    or w[0].isdigit():
                continue
            cmds.append((w, lineno))
    return cmds


def scan_shell(path, needs):
    text = open(path, encoding="utf-8", errors="replace").read()
    for w, lineno in shell_commands(text):
        needs.add("command", w, f"{rel(path)}:{lineno}")
    body = strip_comments(text, "sh")
    scan_paths(body, path, needs)
    return [body]


def scan_paths(text, path, needs):
    for m in re.finditer(r"/usr/(?:share|lib|bin|sbin|libexec)/[A-Za-z0-9_./+-]*[A-Za-z0-9_+-]",
                         text):
        needs.add("path", m.group(0), rel(path))


def script_files():
    out = []
    for d, _, files in os.walk(os.path.join(ROOT, "scripts")):
        out += [os.path.join(d, f) for f in files]
    return sorted(out)


def collect():
    needs = Needs()
    local_modules = set()
    for top in ("tests", "scripts"):
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            local_modules |= {f[:-3] for f in files if f.endswith(".py")}
    texts = []  # text in which the names of the scripts the tests run appear
    scanned = set()

    def scan(path):
        scanned.add(path)
        if path.endswith(".py"):
            texts.extend(scan_python(path, needs, local_modules))
        elif path.endswith((".sh", ".sbatch")) or open(path, "rb").read(2) == b"#!":
            texts.extend(scan_shell(path, needs))

    for d, _, files in os.walk(os.path.join(ROOT, "tests")):
        for f in sorted(files):
            p = os.path.join(d, f)
            if f.endswith((".py", ".sh")):
                scan(p)
            elif f == "CMakeLists.txt":
                texts.append(strip_comments(open(p).read(), "sh"))
    for d, _, files in os.walk(os.path.join(ROOT, "src")):  # xfer runs scripts/plot.py itself
        for f in files:
            if f.endswith((".c", ".h")):
                texts.append(strip_comments(open(os.path.join(d, f)).read(), "c"))
    todo = True
    while todo:  # scripts the tests run, and the scripts those run
        todo = False
        blob = "\n".join(texts)
        for p in script_files():
            if p not in scanned and re.search(r"(?<![\w.-])" + re.escape(os.path.basename(p))
                                              + r"(?![\w.-])", blob):
                scan(p)
                todo = True
    return needs, sorted(rel(p) for p in scanned)


# ---- mapping needs to packages -----------------------------------------------------------------

def owned_or_table(found, table_pkg, what):
    """The package owning `found` (a path, or None when not installed), else the table's."""
    if found:
        owners = dpkg_owners(found)
        if owners:
            return owners, found
    if table_pkg:
        return [table_pkg], "table" + (f" ({found} has no package)" if found
                                       else " (not installed here)")
    return [], f"no Debian package found for {what}" + (f" ({found})" if found
                                                         else " (not installed here)")


def packages_for(kind, name):
    """(packages, how) or ([], reason)."""
    if kind == "module":
        if name in sys.stdlib_module_names or name in sys.builtin_module_names:
            return ["python3"], "standard library"
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        origin = None
        if spec is not None:
            origin = spec.origin if spec.origin not in (None, "namespace") else \
                (list(spec.submodule_search_locations or []) or [None])[0]
        return owned_or_table(origin, MODULE_PACKAGES.get(name), f"Python module {name!r}")
    if kind == "command":
        if name in NOT_DEBIAN:
            return None, "not a Debian package's command"
        return owned_or_table(shutil.which(name), COMMAND_PACKAGES.get(name), f"command {name!r}")
    if os.path.exists(name):
        owners = dpkg_owners(name)
        if owners:
            return owners, "dpkg -S"
    for prefix, pkg in PATH_PACKAGES.items():
        if name == prefix or name.startswith(prefix.rstrip("/") + "/"):
            return [pkg], "table"
    return [], f"no Debian package found for {name}"


def main():
    listed = setup_packages()
    closure = provided_closure(listed)
    unknown = [p for p in listed if p not in closure]
    base = base_system()
    needs, scanned = collect()
    print(f"check_test_deps: setup.sh lists {len(listed)} packages ({len(closure)} with their "
          f"dependencies); {len(needs.items)} needs in {len(scanned)} files")
    if verbose:
        print("  files:", " ".join(scanned))
    problems = []
    for p in unknown:
        problems.append(f"setup.sh lists {p}, which apt does not know")
    for (kind, name), where in sorted(needs.items.items()):
        pkgs, how = packages_for(kind, name)
        at = ", ".join(where[:3]) + (f" (+{len(where) - 3})" if len(where) > 3 else "")
        if pkgs is None:
            if verbose:
                print(f"  ok   {kind} {name}: {how}")
            continue
        if not pkgs:
            problems.append(f"{kind} {name} ({at}): {how}; add it to a table in "
                            "scripts/check_test_deps.py")
            continue
        ok = [p for p in pkgs if p in listed or p in closure or p in base]
        if ok:
            if verbose:
                via = "listed" if ok[0] in listed else ("base system" if ok[0] in base
                                                        else "dependency of the list")
                print(f"  ok   {kind} {name} -> {ok[0]} ({via}; {how})")
        elif kind == "command" and name in STAND_INS:
            print(f"check_test_deps: note: {name} ({' or '.join(pkgs)}) is not installed by "
                  f"setup.sh; {STAND_INS[name]}")
        else:
            problems.append(f"{kind} {name} ({at}) needs Debian package {' or '.join(pkgs)}, "
                            "which scripts/setup.sh does not install: add it to TEST_DEPS")
    for p in problems:
        print("check_test_deps: MISSING:", p)
    if problems:
        print(f"check_test_deps: FAILED: {len(problems)} test dependencies are not installed by "
              "scripts/setup.sh")
        return 1
    print("check_test_deps: every module, command and file the tests use comes from a package "
          "setup.sh installs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
