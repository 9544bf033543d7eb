"""The lint settings live in pyproject.toml ([tool.ruff]), per folder, instead
of a noqa comment on each line: the library, scripts, tests and benchmarks
pass them, and the library has no import circle (static import graph)."""

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "workflow" / "scattermorph"


def test_ruff_is_clean():
    res = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "workflow", "tests", "benchmarks",
                          "examples"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]


def test_rule_scripts_carry_no_noqa():
    lines = [f"{p.name}:{i}" for p in sorted((ROOT / "workflow/scripts").glob("*.py"))
             for i, line in enumerate(p.read_text().splitlines(), 1) if "noqa" in line]
    assert lines == []


def _module(path):
    parts = list(path.relative_to(LIB.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph():
    """Edges module -> library module it imports (anywhere in the file)."""
    mods = {_module(p): p for p in LIB.rglob("*.py")}
    edges = defaultdict(set)
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "scattermorph":
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    edges[name].add(sub if sub in mods else node.module)
    return mods, edges


def _stage(module):
    """Subpackage of a module (the module itself for a shared top-level one)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _cycle(nodes, edges):
    """A cycle of the directed graph, or None (depth-first search)."""
    state, stack = {}, []

    def visit(v):
        state[v] = 1
        stack.append(v)
        for w in sorted(edges.get(v, ())):
            if w not in nodes or w == v:
                continue
            if state.get(w) == 1:
                return stack[stack.index(w):] + [w]
            if w not in state and (found := visit(w)):
                return found
        state[v] = 2
        stack.pop()
        return None

    for v in sorted(nodes):
        if v not in state and (found := visit(v)):
            return found
    return None


def test_no_import_circle_between_modules_or_subpackages():
    mods, edges = _import_graph()
    assert _cycle(set(mods), edges) is None
    stages = defaultdict(set)
    for a, targets in edges.items():
        stages[_stage(a)] |= {_stage(b) for b in targets if b in mods and _stage(b) != _stage(a)}
    assert _cycle(set(stages), stages) is None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a", "b", "c"}, {"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a", "b"}, {"a": {"b"}}) is None
