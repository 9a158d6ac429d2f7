"""The architecture, checked: the import-linter contracts of pyproject.toml hold (imports only go
down the layers), no module imports itself through others (zero import cycles, counting the
imports inside functions), and a first-party import inside a function says why it waits."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("prover", "circuits", "rollup", "benchmarks")


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on, stack, out = set(), [], []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.find_modules_directly_imported_by(w)))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_no_import_cycles():
    import grimp

    graph = grimp.build_graph(*PACKAGES)
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_cycle():
    class G:  # a -> b -> c -> a, d -> a
        modules = {"a", "b", "c", "d"}
        edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}

        def find_modules_directly_imported_by(self, m):
            return self.edges[m]

    assert _cycles(G()) == [["a", "b", "c"]]


def test_layer_contracts_hold():
    lint = Path(sys.executable).parent / "lint-imports"
    res = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "0 broken" in res.stdout


def test_benchmarks_are_not_installed_with_the_package():
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = cfg["tool"]["setuptools"]["packages"]["find"]["include"]
    assert not any(p.startswith("benchmarks") for p in include)
    graph_src = (ROOT / "rollup").rglob("*.py")
    assert not [p for p in graph_src if "import benchmarks" in p.read_text()
                or "from benchmarks" in p.read_text()]


# --- function-local imports ----------------------------------------------------------------------

FIRST_PARTY = ("prover", "circuits", "rollup")
LAZY_MARK = "# lazy:"
CLI_LAZY = "commands import their machinery when they run, so `rollup --help` starts fast"

# Modules whose function-local first-party imports are deferred for one stated reason (the module
# says so in a module-level `# lazy:` comment). Anywhere else, a first-party import inside a
# function carries `# lazy: reason` on its line or in a comment right above. The test fails while
# an entry is stale, so the list only shrinks.
LAZY_MODULES = {
    "prover/backend.py": "the CUDA kernels (Numba CUDA, a driver that may be absent) load only "
                         "when a CUDA backend is asked for or probed",
    "prover/groth16/prove.py": "Numba, the backends and the kernels load in the functions that "
                               "run them: a small proof on plain ints never loads them",
    "prover/cli.py": "commands import their machinery when they run, so `zkprove --help` and "
                     "`rollup --help` start fast",
    "rollup/node/cluster.py": "the proving backend (the prover's Numba kernels) loads in the Ray "
                              "worker that proves, not in the node",
    "rollup/node/l1feed.py": "web3 and the relayer load on the feed's thread at its first poll, so "
                             "`rollup sequencer run --l1-poll` serves without waiting for them",
    "rollup/node/provers.py": "the proving backend (the prover's Numba kernels) loads in the "
                              "worker processes that prove, not in the node",
    "rollup/cli/sequencer.py": CLI_LAZY,
    "rollup/cli/node.py": CLI_LAZY,
    "rollup/cli/batch.py": CLI_LAZY,
    "rollup/cli/chain.py": CLI_LAZY,
    "rollup/cli/demo.py": CLI_LAZY,
    "rollup/cli/engine.py": CLI_LAZY,
    "rollup/cli/genesis.py": CLI_LAZY,
    "rollup/cli/keys.py": CLI_LAZY,
    "rollup/cli/l1.py": CLI_LAZY,
    "rollup/cli/operator.py": CLI_LAZY,
    "rollup/cli/recover.py": CLI_LAZY,
    "rollup/cli/relayer.py": CLI_LAZY,
    "rollup/cli/setup.py": CLI_LAZY,
}


def _local_imports(source: str) -> list[tuple[int, str, bool]]:
    """(line, module, marked) of every first-party import inside a function (relative imports
    count as first-party); marked: the statement's lines, or the comment lines right above it
    (over a run of imports), carry `# lazy: reason`."""
    lines = source.splitlines()
    out = []

    def marked(node) -> bool:
        if any(LAZY_MARK in lines[k - 1] for k in range(node.lineno, node.end_lineno + 1)):
            return True
        k = node.lineno - 2
        while k >= 0 and lines[k].strip().startswith(("#", "from ", "import ")):
            if lines[k].strip().startswith(LAZY_MARK):
                return True
            k -= 1
        return False

    def walk(node, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if in_function and isinstance(child, ast.Import | ast.ImportFrom):
                if isinstance(child, ast.Import):
                    mods = [a.name for a in child.names]
                else:
                    mods = ["." * child.level + (child.module or "")]
                for m in mods:
                    if m.startswith(".") or m.split(".")[0] in FIRST_PARTY:
                        out.append((child.lineno, m, marked(child)))
            walk(child, in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))

    walk(ast.parse(source), False)
    return out


def _allowlisted(rel: str) -> str | None:
    for entry in LAZY_MODULES:
        if rel == entry or (entry.endswith("/") and rel.startswith(entry)):
            return entry
    return None


def test_function_local_imports_carry_a_reason():
    bad, used = [], set()
    for pkg in FIRST_PARTY:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            found = _local_imports(path.read_text(encoding="utf-8"))
            entry = _allowlisted(rel)
            if entry is not None:
                if found:
                    used.add(entry)
                continue
            bad += [f"{rel}:{line} {mod}" for line, mod, ok in found if not ok]
    assert not bad, ("first-party imports inside functions without a `# lazy: reason` comment "
                     "(hoist them to module level, or say why they wait):\n" + "\n".join(bad))
    stale = sorted(set(LAZY_MODULES) - used)
    assert not stale, f"no function-local imports left: remove from LAZY_MODULES: {stale}"


def test_allowlisted_modules_state_their_reason():
    for entry, reason in LAZY_MODULES.items():
        assert reason.strip()
        text = (ROOT / entry).read_text(encoding="utf-8")
        assert any(line.startswith(LAZY_MARK) for line in text.splitlines()), (
            f"{entry}: say at module level why its imports wait (a `{LAZY_MARK}` comment)")


def test_local_import_finder():
    src = (
        "import rollup\n"
        "def f():\n"
        "    import json\n"
        "    from rollup.state import State\n"
        "    from . import sibling  # lazy: Numba\n"
        "    # lazy: web3, on first use\n"
        "    from rollup.chain import node\n"
        "    from prover.groth16 import prove\n"
        "    x = 1\n"
        "    from circuits import (\n"
        "        poseidon,\n"
        "    )\n"
        "    return lambda: __import__('rollup')\n"
        "class C:\n"
        "    from rollup import errors\n"
        "    def g(self):\n"
        "        import prover.cli\n"
    )
    assert _local_imports(src) == [
        (4, "rollup.state", False), (5, ".", True), (7, "rollup.chain", True),
        (8, "prover.groth16", True), (10, "circuits", False), (17, "prover.cli", False)]
