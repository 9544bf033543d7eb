"""Which library source files a rule script runs, and one digest of them.

Snakemake reruns a job when its script, inputs or params change, but not when
a library module the script imports changes: its outputs silently keep the
old code's numbers. The workflow passes :func:`code_digest` of each rule's
script as a param, so an edit of any library file the script runs changes the
param and Snakemake reruns the job (and, through its regenerated outputs,
everything downstream), while an edit of a file it does not run reruns
nothing.

The files are found statically with :mod:`ast`, without importing anything
(the Snakefile computes one digest per rule at parse time). A module that is
imported counts with all its bytes: its top-level code runs. A function's
body runs only when the function is called, so an import *inside a function*
is followed only when that function is reachable by name from what the
script uses. Without that, the lazy imports of functions a job never calls
(the audit code beside ``record_outputs``, say) would make every job depend on
nearly the whole library, and any edit would rerun the whole study.

Reachability is by name, conservatively: a used function or class reaches
everything its body names (a class: all its methods); a module used as an
object (``import x``, ``from pkg import submodule``) reaches the names read as
its attributes (``x.f``), or all of it when used bare. What it cannot see:
names built at run time (``getattr(module, name)``, ``importlib``); the
library does not use them.

Only the standard library is imported here, so this module can move within
the package: the package is the outermost folder with an ``__init__.py``
above this file.
"""

from __future__ import annotations

import ast
import functools
import gc
import hashlib
from collections import deque
from functools import cache
from pathlib import Path

__all__ = ["PACKAGE", "ROOT", "clear_caches", "code_digest", "library_modules"]


def _package_dir(here: Path) -> Path:
    """The outermost package folder containing ``here``."""
    pkg = here
    while (pkg.parent / "__init__.py").exists():
        pkg = pkg.parent
    return pkg


_PKG_DIR = _package_dir(Path(__file__).resolve().parent)
PACKAGE = _PKG_DIR.name  # "scattermorph"
ROOT = _PKG_DIR.parent  # the folder on sys.path that holds the package



def _same_unit(unit, _name):
    """The unit of every method of a class: the class's own."""
    return unit

class _Chunk:
    """What one piece of code does when it runs: the modules it imports
    (``ops``), the names it reads (bare, and as ``name.attr``) and the names
    its own import statements bind."""

    __slots__ = ("attrs", "bindings", "names", "ops")

    def __init__(self):
        self.ops = []  # ("load" | "whole" | "sub", module)
        self.names = set()
        self.attrs = set()  # (name, attr)
        self.bindings = {}  # name -> [("module", m) | ("from", m, attr)]

    def bind(self, name, target):
        self.bindings.setdefault(name, []).append(target)


class _Module:
    """A parsed source file: ``eager`` is what runs on import (module-level
    statements, class bodies, decorators, defaults); ``units`` maps each
    module-level function or class to what its body does when called."""

    def __init__(self, path: Path, name: str | None, is_pkg: bool):
        self.name = name
        self.is_pkg = is_pkg
        self.eager = _Chunk()
        self.units: dict[str, _Chunk] = {}
        tree = ast.parse(path.read_bytes(), filename=str(path))
        for stmt in tree.body:
            self._walk(stmt, self.eager, self._unit)

    def _unit(self, name):
        return self.units.setdefault(name, _Chunk())

    def _absolute(self, module: str | None, level: int) -> str | None:
        """Absolute name of an import's module (``from ..x import y``)."""
        if level == 0:
            return module
        if not self.name:  # a script is not in a package
            return None
        parts = self.name.split(".")
        if not self.is_pkg:
            parts = parts[:-1]
        if level - 1 > len(parts) - 1:
            return None
        parts = parts[: len(parts) - (level - 1)]
        return ".".join(parts + ([module] if module else []))

    def _walk(self, node, here: _Chunk, unit_for):
        """Record in ``here`` what ``node`` does when it runs. ``unit_for``
        (module level and class bodies): where the body of a function defined
        at this level goes, given its name; None inside functions, whose
        nested functions belong to the enclosing function."""
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            header = [*node.decorator_list, *args.defaults, *(d for d in args.kw_defaults if d is not None)]
            header += [a.annotation for a in (*args.posonlyargs, *args.args, *args.kwonlyargs,
                                              args.vararg, args.kwarg) if a is not None and a.annotation]
            if node.returns is not None:
                header.append(node.returns)
            for x in header:
                self._walk(x, here, None)
            body = unit_for(node.name) if unit_for else here
            for stmt in node.body:
                self._walk(stmt, body, None)
        elif isinstance(node, ast.ClassDef):
            for x in (*node.decorator_list, *node.bases, *node.keywords):
                self._walk(x, here, None)
            if unit_for:  # methods of a module-level class: its unit
                body_units = functools.partial(_same_unit, unit_for(node.name))
            else:
                body_units = None
            for stmt in node.body:
                self._walk(stmt, here, body_units)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                here.ops.append(("load", alias.name))
                if alias.asname:
                    here.bind(alias.asname, ("module", alias.name))
                else:  # `import a.b.c` binds a (then read as a.b.c.name)
                    top = alias.name.split(".")[0]
                    here.bind(top, ("module", top))
        elif isinstance(node, ast.ImportFrom):
            module = self._absolute(node.module, node.level)
            if module is None:
                return
            here.ops.append(("load", module))
            for alias in node.names:
                if alias.name == "*":
                    here.ops.append(("whole", module))
                    continue
                here.ops.append(("sub", f"{module}.{alias.name}"))
                here.bind(alias.asname or alias.name, ("from", module, alias.name))
        elif isinstance(node, ast.Attribute) and _dotted(node):
            name, *attrs = _dotted(node)
            here.attrs.add((name, tuple(attrs)))
        elif isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                here.names.add(node.id)
        else:
            for child in ast.iter_child_nodes(node):
                self._walk(child, here, unit_for if isinstance(child, ast.stmt) else None)


def _dotted(node) -> list[str] | None:
    """``a.b.c`` read as a value: ["a", "b", "c"] (None for ``f().b``)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        return [node.id, *reversed(parts)]
    return None


_PARSED: dict = {}


def _parse(path: Path, name: str | None, is_pkg: bool) -> _Module:
    """Parsed file, cached while its size and mtime stay the same."""
    st = path.stat()
    key = (str(path), name)
    hit = _PARSED.get(key)
    if hit is None or hit[0] != (st.st_mtime_ns, st.st_size):
        hit = ((st.st_mtime_ns, st.st_size), _Module(path, name, is_pkg))
        _PARSED[key] = hit
    return hit[1]


class _Closure:
    """The modules a script runs: a worklist over load / whole / reach tasks."""

    def __init__(self, root: Path, package: str, local: Path | None = None):
        self.root = root
        self.package = package
        self.local = local  # the script's folder: its sibling modules run too
        self.loaded: dict[str, Path] = {}
        self.done = set()
        self.todo = deque()
        self._sources: dict[str, Path | None] = {}
        self._modules: dict[str, _Module] = {}

    def source(self, name: str) -> Path | None:
        """Source file of a module of the package (None: not one)."""
        if name not in self._sources:
            found = None
            if name == self.package or name.startswith(self.package + "."):
                base = self.root.joinpath(*name.split("."))
                for cand in (base / "__init__.py", base.with_name(base.name + ".py")):
                    if cand.is_file():
                        found = cand
                        break
            elif self.local is not None and "." not in name and (self.local / f"{name}.py").is_file():
                found = self.local / f"{name}.py"  # a helper beside the script (_bootstrap)
            self._sources[name] = found
        return self._sources[name]

    def module(self, name: str) -> _Module:
        if name not in self._modules:
            path = self.loaded[name]
            self._modules[name] = _parse(path, name, path.name == "__init__.py")
        return self._modules[name]

    def push(self, *task):
        if task not in self.done:
            self.done.add(task)
            self.todo.append(task)

    def run(self, script: _Module):
        self.chunk(script, script.eager)
        for unit in script.units.values():  # a script runs all of itself
            self.chunk(script, unit)
        while self.todo:
            kind, *args = self.todo.popleft()
            getattr(self, "_" + kind)(*args)

    def chunk(self, mod: _Module, chunk: _Chunk):
        for op, name in chunk.ops:
            if op == "sub":  # `from pkg import x`: x may be a submodule
                if self.source(name):
                    self.push("load", name)
            else:
                self.push(op, name)
        for name in chunk.names:
            self.resolve(mod, chunk, name, ())
        for name, attrs in chunk.attrs:
            self.resolve(mod, chunk, name, attrs)

    def resolve(self, mod: _Module, chunk: _Chunk, name: str, attrs: tuple):
        """A name read in ``chunk`` of ``mod`` (as ``name.attr1.attr2...``)."""
        targets = chunk.bindings.get(name, [])
        if chunk is not mod.eager:
            targets = targets + mod.eager.bindings.get(name, [])
        for target in targets:
            self.use(target, attrs)
        if mod.name and name in mod.units:
            self.push("reach", mod.name, name)

    def use(self, target, attrs=()):
        """A binding read, followed by the attributes read from it: a name of
        a module reaches that name; a module reaches the first attribute
        that is not a submodule, or all of itself if read bare."""
        if target[0] == "from":
            _, module, name = target
            if not self.source(f"{module}.{name}"):
                self.push("reach", module, name)
                return
            target = ("module", f"{module}.{name}")
        module = target[1]
        for attr in attrs:
            sub = f"{module}.{attr}"
            self.push("reach", module, attr)
            if not self.source(sub):
                return
            self.push("load", sub)  # an attribute only once imported; harmless if not
            module = sub
        self.push("whole", module)

    def _load(self, name: str):
        """Importing ``a.b.c`` runs ``a``, ``a.b`` and ``a.b.c``."""
        if name in self.loaded:
            return
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix in self.loaded:
                continue
            path = self.source(prefix)
            if path is None:
                return
            self.loaded[prefix] = path
            mod = self.module(prefix)
            self.chunk(mod, mod.eager)

    def _whole(self, name: str):
        self._load(name)
        if name not in self.loaded:
            return
        mod = self.module(name)
        for unit in mod.units:
            self.push("reach", name, unit)
        for targets in mod.eager.bindings.values():
            for target in targets:
                self.use(target)

    def _reach(self, name: str, attr: str):
        """``name.attr`` is used: a function or class, a name the module
        imported, or a submodule."""
        self._load(name)
        if name not in self.loaded:
            return
        mod = self.module(name)
        if attr in mod.units:
            self.chunk(mod, mod.units[attr])
        for target in mod.eager.bindings.get(attr, []):
            self.use(target)


def library_modules(script_path, *, root=None, package=None) -> list[Path]:
    """The source files of the library package that ``script_path`` runs,
    transitively, with the ``__init__.py`` of every package on the way.
    Modules beside the script (``_bootstrap``) are followed, and listed too.

    Parameters
    ----------
    script_path : path
        A rule script (or any Python file outside the package).
    root, package : optional
        The folder on ``sys.path`` holding the package, and its name; default:
        this library (:data:`ROOT`, :data:`PACKAGE`).

    Returns
    -------
    list of Path: absolute, sorted.
    """
    return list(_library_modules(str(Path(script_path).resolve()), str(root or ROOT), package or PACKAGE))


@cache
def _library_modules(script: str, root: str, package: str) -> tuple[Path, ...]:
    # The syntax trees are many small objects: in a process with a large heap
    # (Snakemake's, parsing the workflow) the garbage collector's passes they
    # trigger cost more than the parsing itself (measured: 0.65 s -> 0.4 s
    # CPU for the study's 62 rules). Collection only pauses: anything it
    # would have freed is collected once it is enabled again.
    enabled = gc.isenabled()
    gc.disable()
    try:
        closure = _Closure(Path(root).resolve(), package, Path(script).parent)
        closure.run(_parse(Path(script), None, False))
    finally:
        if enabled:
            gc.enable()
    return tuple(sorted(p.resolve() for p in closure.loaded.values()))


@cache
def code_digest(script_path, *, root=None, package=None) -> str:
    """Hex sha256 of the code a rule script runs: the script and every
    library file of :func:`library_modules`, each as its path (relative to
    the library's folder on ``sys.path``, so the same in every checkout) and
    its bytes, sorted by path. Cached per script within a process."""
    root = Path(root or ROOT).resolve()
    script = Path(script_path).resolve()
    files = [(f"<script>/{script.name}", script)]
    files += [(p.relative_to(root).as_posix() if p.is_relative_to(root) else f"<script>/{p.name}", p)
              for p in library_modules(script, root=root, package=package)]
    h = hashlib.sha256()
    for key, path in sorted(files):
        data = path.read_bytes()
        for part in (key.encode(), data):
            h.update(len(part).to_bytes(8, "little"))
            h.update(part)
    return h.hexdigest()


def clear_caches():
    """Forget the cached digests and file lists (after editing sources within
    one process; Snakemake parses the workflow once per process)."""
    code_digest.cache_clear()
    _library_modules.cache_clear()
