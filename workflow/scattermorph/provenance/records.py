"""Provenance of figures: what made them, embedded in the file and beside it.

Every figure written through :func:`scattermorph.plots.save.save_figure` with a
record carries it twice: in the PNG's own text chunk ``scattermorph:provenance``
and in a JSON sidecar ``<figure>.prov.json``, which also holds the figure's
sha256. The record names the rule, the script and its hash, the library's
source hash and that of each library module the job loaded, the git commit
and whether the tree was dirty, the parameters the rule used (and their
hash), every input with its sha256, package versions, platform, and the
command that remakes the figure.

:func:`audit` checks records against the files on disk: a figure whose bytes no
longer match its record is *tampered*; one whose inputs, script or library code
changed since it was made is *stale*.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from scattermorph._io import atomic_write

__all__ = [
    "PNG_KEY",
    "PDF_KEY",
    "SIDECAR_SUFFIX",
    "sha256_file",
    "library_hash",
    "loaded_modules",
    "build_record",
    "from_snakemake",
    "sidecar_path",
    "record_outputs",
    "write_sidecar",
    "read_embedded",
]

PNG_KEY = "scattermorph:provenance"
PDF_KEY = PNG_KEY  # key in the PDF document information dictionary
SIDECAR_SUFFIX = ".prov.json"
PACKAGES = ("scattermorph", "numpy", "scipy", "numba", "pyFFTW", "pandas", "matplotlib",
            "scikit-image", "scikit-learn", "snakemake")
#: the scattermorph package folder, and the checkout that holds it
LIB_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = LIB_DIR.parents[1]
# The param through which every script rule passes the digest of the code it
# runs (scattermorph.provenance.codedeps.code_digest; workflow/rules/common.smk).
CODE_PARAM = "code"


def sha256_file(path) -> str:
    """Hex sha256 of a file's bytes (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def library_hash() -> str:
    """sha256 over the scattermorph sources (file names and bytes, sorted)."""
    h = hashlib.sha256()
    for p in sorted(LIB_DIR.rglob("*.py")):
        h.update(p.relative_to(LIB_DIR).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def loaded_modules() -> dict:
    """sha256 of every scattermorph module loaded in this process
    (``{"learn/features.py": hex, ...}``, paths inside the package): the
    library code a job actually ran."""
    out = {}
    for name, mod in list(sys.modules.items()):
        if name != "scattermorph" and not name.startswith("scattermorph."):
            continue
        f = getattr(mod, "__file__", None)
        if f and Path(f).resolve().is_relative_to(LIB_DIR):
            out[Path(f).resolve().relative_to(LIB_DIR).as_posix()] = sha256_file(f)
    return dict(sorted(out.items()))


def _json_hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def git_state(root: Path):
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return None, None
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10,
        )
        return commit.stdout.strip(), bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return None, None


def package_versions() -> dict:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def build_record(*, rule: str, script, inputs: dict, params: dict, outputs: list,
                 workdir=".", repo_root=None) -> dict:
    """A provenance record (plain JSON types).

    Parameters
    ----------
    rule : str
        The Snakemake rule.
    script : path
        The rule's script.
    inputs : dict of str -> list of path
        Named inputs; each file is hashed.
    params : dict
        The parameters (config values) the rule used.
    outputs : list of path
        The files the rule writes (for the remake command).
    workdir : path
        The working directory of the run (paths are recorded relative to it).
    repo_root : path, optional
        The checkout, for the git commit (default: the library's checkout).
    """
    workdir = Path(workdir).resolve()
    root = Path(repo_root) if repo_root else REPO_ROOT
    commit, dirty = git_state(root)

    def rel(p):
        p = Path(p).resolve()
        try:
            return str(p.relative_to(workdir))
        except ValueError:
            return str(p)

    files = {name: [{"path": rel(p), "sha256": sha256_file(p)} for p in paths]
             for name, paths in inputs.items()}
    params = json.loads(json.dumps(params, default=str))
    return {
        "rule": rule,
        "script": {"path": rel(script), "sha256": sha256_file(script)},
        "library": {"path": rel(LIB_DIR), "sha256": library_hash(), "modules": loaded_modules()},
        "git": {"commit": commit, "dirty": dirty},
        "params": params,
        "params_sha256": _json_hash(params),
        "inputs": files,
        "versions": package_versions(),
        "platform": {"system": platform.platform(), "python": platform.python_version(),
                     "machine": platform.machine()},
        "command": "snakemake --cores 1 --forcerun " + rule + " " + " ".join(map(rel, outputs)),
        "workdir": str(workdir),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def from_snakemake(smk, script) -> dict:
    """Record for the job of a rule script (``smk`` = the ``snakemake`` object)."""
    inputs = {}
    for name, value in smk.input.items():
        inputs[name] = list(value) if isinstance(value, (list, tuple)) else [value]
    params = {k: v for k, v in smk.params.items()}
    return build_record(rule=smk.rule, script=script, inputs=inputs, params=params,
                        outputs=list(smk.output))


def record_outputs(smk, script, outputs=None) -> list[Path]:
    """Write the provenance sidecar ``<file>.prov.json`` of every output of a
    compute job (tables, arrays, models): the record of
    :func:`from_snakemake` plus the file's sha256, so ``scattermorph audit``
    checks tables and arrays as it checks figures. Call it after the outputs
    are written (each sidecar is written atomically).

    Parameters
    ----------
    smk : snakemake.script.Snakemake
        The job's ``snakemake`` object.
    script : path
        The rule's script (``__file__``).
    outputs : list of path, optional
        Default: every output of the job.

    Returns
    -------
    list of Path: the sidecars written.
    """
    record = from_snakemake(smk, script)
    written = []
    for out in (list(smk.output) if outputs is None else outputs):
        out = Path(out)
        written.append(write_sidecar(out, {"file": out.name, "sha256": sha256_file(out), "record": record}))
    return written


def write_sidecar(path, side: dict) -> Path:
    """Write ``side`` (file name, its sha256, the record) as the JSON sidecar
    of ``path``, atomically; returns the sidecar's path."""

    text = json.dumps(side, indent=1, sort_keys=True)

    def write(tmp):
        with open(tmp, "w") as fh:
            fh.write(text)

    atomic_write(sidecar_path(path), write)
    return sidecar_path(path)


def sidecar_path(figure) -> Path:
    """``<figure>.prov.json``."""
    figure = Path(figure)
    return figure.with_name(figure.name + SIDECAR_SUFFIX)


def read_embedded(figure) -> dict | None:
    """The record embedded in a figure: the PNG text chunk ``PNG_KEY`` or the
    PDF information dictionary entry ``/PDF_KEY`` (None if absent)."""
    if Path(figure).suffix.lower() == ".pdf":
        from pypdf import PdfReader

        info = PdfReader(figure).metadata or {}
        raw = info.get("/" + PDF_KEY)
    else:
        from PIL import Image

        with Image.open(figure) as im:
            text = getattr(im, "text", {}) or im.info
            raw = text.get(PNG_KEY)
    return json.loads(str(raw)) if raw else None


