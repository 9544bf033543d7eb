"""The library files a rule script runs, found statically (scattermorph.provenance.codedeps),
checked against what Python really loads when the script runs."""

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scattermorph.provenance.codedeps import clear_caches, code_digest, library_modules

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "workflow/scripts"

# A package using every import form a rule script or library module can; the
# comment on each file says how it is reached. never.py and hidden.py are
# imported only inside functions nobody calls.
FAKE = {
    "fakepkg/__init__.py": "from .core import VERSION  # runs on every import of the package\n",
    "fakepkg/core.py": "VERSION = 1\n",
    "fakepkg/util.py": "def helper():\n    return 1\n",  # from fakepkg import util (a submodule)
    "fakepkg/lazy.py": "def lazy_fn():\n    return 2\n",  # from .. import lazy, inside a function
    "fakepkg/lazy2.py": "def h():\n    return 0\n",  # from fakepkg import lazy2, inside a function
    "fakepkg/methoddep.py": "def k():\n    return 0\n",  # from .methoddep import k, inside a method
    "fakepkg/never.py": "X = 1\n",
    "fakepkg/hidden.py": "Y = 1\n",
    "fakepkg/alias.py": "CONST = 5\n",  # import fakepkg.alias as al; al.CONST
    "fakepkg/api.py": textwrap.dedent("""\
        import json

        import fakepkg.sub.inner.leaf  # dotted import: runs sub, sub.inner, leaf
        from fakepkg.sub import impl  # a submodule by from-import


        def used():
            from fakepkg import lazy2

            return lazy2.h() + impl.exported() + json.loads("0")


        class Model:
            def fit(self):
                from .methoddep import k

                return k()
        """),
    "fakepkg/sub/__init__.py": "from .impl import exported  # re-exported name\n",
    "fakepkg/sub/impl.py": textwrap.dedent("""\
        from ..util import helper


        def exported():
            from . import deep

            return deep.f() + helper()


        def unused():
            import fakepkg.never

            return fakepkg.never.X
        """),
    "fakepkg/sub/deep.py": textwrap.dedent("""\
        def f():
            from .. import lazy

            return lazy.lazy_fn()


        def g():
            from ..hidden import Y

            return Y
        """),
    "fakepkg/sub/inner/__init__.py": "",
    "fakepkg/sub/inner/leaf.py": "def g():\n    return 3\n",
}

SCRIPT = textwrap.dedent("""\
    import math

    import fakepkg.api
    import fakepkg.alias as al
    from fakepkg import util
    from fakepkg.api import Model
    from fakepkg.sub import exported


    def main():
        from fakepkg.sub.inner import leaf

        return leaf.g() + exported() + fakepkg.api.used() + Model().fit() + al.CONST + util.helper()


    print(math.floor(main()))
    """)

# Run a script, then list the package's files Python loaded.
LOADED = """
import json, runpy, sys
root, script, package = sys.argv[1:]
sys.path.insert(0, root)
runpy.run_path(script, run_name="__main__")
print(json.dumps(sorted(m.__file__ for n, m in list(sys.modules.items())
                        if (n == package or n.startswith(package + ".")) and getattr(m, "__file__", None))))
"""


def _write_fake(where):
    for rel, text in FAKE.items():
        (where / rel).parent.mkdir(parents=True, exist_ok=True)
        (where / rel).write_text(text)
    script = where / "scripts/run_fake.py"
    script.parent.mkdir()
    script.write_text(SCRIPT)
    return script


def _loaded(root, script, package):
    out = subprocess.run([sys.executable, "-c", LOADED, str(root), str(script), package],
                         capture_output=True, text=True, timeout=60, check=True)
    return {Path(p).resolve() for p in json.loads(out.stdout.splitlines()[-1])}


def test_static_modules_contain_every_module_the_script_loads(tmp_path):
    script = _write_fake(tmp_path)
    static = set(library_modules(script, root=tmp_path, package="fakepkg"))
    dynamic = _loaded(tmp_path, script, "fakepkg")
    assert dynamic <= static, sorted(map(str, dynamic - static))
    # every import form is followed ...
    assert {p.relative_to(tmp_path).as_posix() for p in dynamic} == set(FAKE) - {
        "fakepkg/never.py", "fakepkg/hidden.py"}
    # ... and a function nobody can reach does not drag in what it imports
    assert static == dynamic


def test_digest_follows_the_bytes_of_the_files_the_script_runs(tmp_path):
    script = _write_fake(tmp_path)

    def digest():
        clear_caches()
        return code_digest(script, root=tmp_path, package="fakepkg")

    before = digest()
    assert len(before) == 64 and digest() == before
    # the same sources in another checkout: the same digest (paths are relative)
    other = tmp_path / "copy"
    shutil.copytree(tmp_path / "fakepkg", other / "fakepkg")
    shutil.copytree(tmp_path / "scripts", other / "scripts")
    clear_caches()
    assert code_digest(other / "scripts/run_fake.py", root=other, package="fakepkg") == before
    # a file the script cannot run: no change
    (tmp_path / "fakepkg/never.py").write_text("X = 2\n")
    assert digest() == before
    # a lazily imported module (a function's import, two packages away): changed
    lazy = tmp_path / "fakepkg/lazy.py"
    lazy.write_text(lazy.read_text() + "\n")
    changed = digest()
    assert changed != before
    # the script itself
    script.write_text(script.read_text() + "# note\n")
    assert digest() not in (before, changed)


def test_within_a_process_the_digest_is_computed_once_per_script(tmp_path):
    script = _write_fake(tmp_path)
    clear_caches()
    first = code_digest(script, root=tmp_path, package="fakepkg")
    (tmp_path / "fakepkg/lazy.py").write_text("def lazy_fn():\n    return 3\n")
    assert code_digest(script, root=tmp_path, package="fakepkg") == first  # cached
    clear_caches()
    assert code_digest(script, root=tmp_path, package="fakepkg") != first


# For every rule script: run its scattermorph imports and list the scattermorph
# files loaded. The third-party packages the library imports are imported
# once, then each script's imports run in a forked child.
SCRIPT_IMPORTS = """
import ast, json, os, pathlib, sys
lib, scripts = sys.argv[1:]
sys.path[:0] = [lib, scripts]
for src in pathlib.Path(lib, "scattermorph").rglob("*.py"):
    for node in ast.parse(src.read_text()).body:
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module] if isinstance(node, ast.ImportFrom) and not node.level else [])
        for name in names:
            if name and not name.startswith("scattermorph"):
                try:
                    __import__(name)
                except ImportError:
                    pass
out = {}
for name in sorted(os.listdir(scripts)):
    if not name.endswith(".py") or name.startswith("_"):
        continue
    tree = ast.parse(open(os.path.join(scripts, name)).read())
    body = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
            and any(m.startswith("scattermorph") for m in ([a.name for a in n.names] if isinstance(n, ast.Import)
                                                         else [n.module or ""]))]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns into the loop
        try:
            os.close(r)
            exec(compile(ast.Module(body=body, type_ignores=[]), name, "exec"), {})
            files = [m.__file__ for n, m in list(sys.modules.items())
                     if n.split(".")[0] == "scattermorph" and getattr(m, "__file__", None)]
            os.write(w, json.dumps(files).encode())
        except BaseException:
            import traceback
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 1 << 16):
        data += chunk
    os.close(r)
    if os.waitpid(pid, 0)[1] != 0:
        sys.exit(f"{name}: its imports failed")
    out[name] = json.loads(data)
print(json.dumps(out))
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_every_rule_script_static_modules_contain_those_its_imports_load():
    res = subprocess.run([sys.executable, "-c", SCRIPT_IMPORTS, str(ROOT / "workflow"), str(SCRIPTS)],
                         check=False, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    loaded = json.loads(res.stdout.splitlines()[-1])
    assert len(loaded) == len([p for p in SCRIPTS.glob("*.py") if not p.name.startswith("_")])
    for name, files in loaded.items():
        static = set(library_modules(SCRIPTS / name))
        assert files, name  # every script imports the library
        missing = {Path(f).resolve() for f in files} - static
        assert not missing, (name, sorted(map(str, missing)))
