"""`scattermorph audit`: is every figure, table and model file still what its recorded job would make?

Each output's provenance record (embedded or in its sidecar) names the rule, the
config parameters, the inputs with their hashes and the library modules the job
ran. The audit rehashes them: a changed input, parameter or module makes the
file STALE, and staleness travels downstream. It sits above the prediction
code, so it can load a shipped model file to check it."""

from __future__ import annotations

import json
import math
from pathlib import Path

from scattermorph.errors import InputFileError
from scattermorph.infer.emulatorfile import SHIPPED_EMULATOR, load_emulator
from scattermorph.predict.modelfile import load_model
from scattermorph.provenance import records
from scattermorph.provenance.jobparams import current_params
from scattermorph.provenance.records import (
    CODE_PARAM,
    REPO_ROOT,
    SIDECAR_SUFFIX,
    library_hash,
    read_embedded,
    sha256_file,
    sidecar_path,
)


def _read_side(figure: Path) -> dict | None:
    """The parsed sidecar of ``figure`` (None if it has none)."""
    side = sidecar_path(figure)
    return json.loads(side.read_text()) if side.exists() else None


def _check(figure: Path, rec: dict | None, digest) -> list[str]:
    """Problems of one file against its sidecar ``rec``; ``digest(path)`` is
    the (cached) sha256 of a file."""
    problems = []
    side = sidecar_path(figure)
    if rec is None:
        return [f"MISSING {figure}: no provenance sidecar {side.name}"]
    if digest(figure) != rec.get("sha256", rec.get("figure_sha256")):
        problems.append(f"TAMPERED {figure}: its bytes no longer match the recorded sha256")
    elif figure.suffix.lower() in (".png", ".pdf"):
        try:
            emb = read_embedded(figure)
        except Exception as exc:  # unreadable image or document
            emb = None
            problems.append(f"TAMPERED {figure}: cannot read the embedded record ({exc})")
        if emb is not None and emb != rec.get("record"):
            problems.append(f"TAMPERED {figure}: embedded record differs from {side.name}")
    record = rec.get("record", {})
    for name, f, p in _recorded_inputs(record):
        if not p.exists():
            problems.append(f"STALE {figure}: input {name} {f['path']} is missing")
        elif digest(p) != f["sha256"]:
            problems.append(f"STALE {figure}: input {name} {f['path']} changed")
    script = record.get("script", {})
    sp = Path(script.get("path", ""))
    sp = sp if sp.is_absolute() else Path(record.get("workdir", ".")) / sp
    if not sp.exists() or digest(sp) != script.get("sha256"):
        problems.append(f"STALE {figure}: script {script.get('path')} changed or missing")
    lib = record.get("library", {})
    if "modules" in lib:  # the modules the job ran
        changed = [m for m, h in lib["modules"].items()
                   if not (records.LIB_DIR / m).exists() or digest(records.LIB_DIR / m) != h]
        if changed:
            problems.append(f"STALE {figure}: library module(s) {', '.join(changed)} changed")
    elif lib.get("sha256") != digest(None):  # records without the module list: whole library
        problems.append(f"STALE {figure}: the scattermorph library code changed")
    return problems


def _recorded_inputs(record):
    """(name, entry, resolved path) of every input in a record."""
    workdir = Path(record.get("workdir", "."))
    for name, files in record.get("inputs", {}).items():
        for f in files:
            p = Path(f["path"])
            yield name, f, (p if p.is_absolute() else workdir / p)


def _leaf_diff(old, new, prefix="") -> list[str]:
    """Dotted keys whose values differ between two JSON trees, as ``key: old -> new``."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new), key=str):
            key = f"{prefix}.{k}" if prefix else str(k)
            if k not in new:
                out.append(f"{key}: removed")
            elif k not in old:
                out.append(f"{key}: added ({json.dumps(new[k])[:60]})")
            else:
                out += _leaf_diff(old[k], new[k], key)
        return out
    if not _same(old, new):
        return [f"{prefix}: {json.dumps(old)[:60]} -> {json.dumps(new)[:60]}"]
    return []


def _same(old, new) -> bool:
    """JSON values equal, NaN equal to NaN (a parameter that is NaN, e.g. the
    composition of a Gaussian-field structure, is unchanged when it stays NaN)."""
    if isinstance(old, float) and isinstance(new, float) and math.isnan(old) and math.isnan(new):
        return True
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(_same(a, b) for a, b in zip(old, new))
    return old == new


def _study_of(path: Path):
    """(working directory, study name) of a file under ``<workdir>/results/<study>/``, else None."""
    parts = path.resolve().parts
    if "results" not in parts:
        return None
    i = len(parts) - 1 - parts[::-1].index("results")
    if i + 1 >= len(parts) - 1:
        return None
    return Path(*parts[:i]), parts[i + 1]


def find_configfile(study: str, root=None):
    """The config file of the checkout whose ``study.name`` is ``study``:
    ``config.yaml`` (returned as None: Snakemake reads it by default) or one of
    ``config/*.yaml``. Raises LookupError if none or several match."""
    import yaml

    root = Path(root) if root else REPO_ROOT
    found = []
    for cand in [root / "config.yaml", *sorted((root / "config").glob("*.yaml"))]:
        try:
            name = (yaml.safe_load(cand.read_text()) or {}).get("study", {}).get("name")
        except (OSError, yaml.YAMLError, AttributeError):
            continue
        if name == study:
            found.append(cand)
    if len(found) != 1:
        what = "no config file" if not found else "several config files (" + ", ".join(map(str, found)) + ")"
        raise LookupError(f"{what} in {root} name(s) study {study!r}; pass --configfile")
    return None if found[0] == root / "config.yaml" else found[0]


def _check_params(files: list[Path], sides: dict, configfile=None, snakefile=None) -> tuple[list, list[str]]:
    """Compare each file's recorded params (``sides``: file -> parsed sidecar
    or None) with those its job would get now.

    Returns (problems, notes): ``(file, STALE line naming the changed keys)``
    pairs, and notes for files whose parameters could not be checked.
    """

    snakefile = Path(snakefile) if snakefile else REPO_ROOT / "Snakefile"
    groups: dict = {}
    notes = []
    for f in files:
        where = _study_of(f)
        if where is None:
            notes.append(f"UNCHECKED {f}: parameters not checked (not under results/<study>/)")
        else:
            groups.setdefault(where, []).append(f)
    problems = []
    for (workdir, study), members in sorted(groups.items()):
        try:
            cfg = configfile if configfile is not None else find_configfile(study, snakefile.parent)
            now = current_params(snakefile, workdir, [cfg] if cfg else [])
        except (LookupError, RuntimeError) as exc:
            notes.append(f"UNCHECKED results/{study}: parameters not checked: {exc}")
            continue
        for f in members:
            if sides[f] is None:
                continue
            record = sides[f].get("record", {})
            key = str(f.resolve().relative_to(workdir.resolve()))
            if key not in now:
                problems.append((f, f"STALE {f}: no job of the current workflow and config makes it"))
                continue
            recorded, current = record.get("params", {}), now[key]
            if CODE_PARAM not in recorded:
                # made before the rules passed their code digest: not a change
                # (the library modules the job ran are checked by their hashes)
                current = {k: v for k, v in current.items() if k != CODE_PARAM}
            diff = _leaf_diff(recorded, current)
            if diff:
                more = f" (+{len(diff) - 3} more)" if len(diff) > 3 else ""
                problems.append((f, f"STALE {f}: parameters changed since it was made: " + "; ".join(diff[:3]) + more))
    return problems, notes


def _check_shipped_model(path: Path, problems: list[str], notes) -> list[str]:
    """A shipped model (``models/*.npz``): its own sha256 checksum must hold
    (:func:`scattermorph.predict.modelfile.load_model`; the shipped emulator
    ``models/emulator.npz``: :func:`scattermorph.infer.emulatorfile.load_emulator`,
    which also rebuilds it and compares its stored predictions), on top of the sidecar checks.
    Its recorded inputs live in the study's results/, which a fresh checkout
    does not have: a *missing* input or script is a note (not checked), a
    present but changed one stays a STALE problem."""

    out = []
    for line in problems:
        if line.startswith("STALE") and (line.endswith("is missing") or line.endswith("changed or missing")):
            rec = _read_side(path) or {}
            work = Path(rec.get("record", {}).get("workdir", "."))
            missing = [p for _, _, p in _recorded_inputs(rec.get("record", {})) if not p.exists()]
            if missing or not work.exists():
                if notes is not None:
                    notes.append("UNCHECKED " + line[len("STALE "):] + " (the study that made it is not here: "
                                 "regenerate it with the study to check it)")
                continue
        out.append(line)
    try:
        if path.name == SHIPPED_EMULATOR.name:
            load_emulator(path)
        else:
            load_model(path)
    except InputFileError as exc:
        out.append(f"TAMPERED {path}: {exc}")
    return out


def audit(paths, *, params: bool = False, configfile=None, notes: list | None = None) -> tuple[list[str], int]:
    """Check every figure (PNG, PDF) and every file with a provenance sidecar
    (tables, arrays, models) under ``paths`` against its record.

    A file is ``TAMPERED`` if its bytes (or its embedded record) no longer
    match the record; ``STALE`` if a recorded input, its script or the library
    code changed, if (with ``params``) the parameters its job would get from
    the current config differ from the recorded ones, or if one of its inputs
    is itself tampered or stale (checked files only; the cause is named).

    Parameters
    ----------
    paths : sequence of path
        Files or folders.
    params : bool
        Also compare the recorded parameters with the current workflow and
        config (loads the workflow with Snakemake; a few seconds per study).
    configfile : path, optional
        The config to compare with; default: the checkout's config whose
        ``study.name`` names the ``results/<study>/`` folder.
    notes : list, optional
        Receives ``UNCHECKED`` lines: files whose parameters could not be
        checked, and why (not problems).

    Returns
    -------
    problems : list of str
        One line per problem: ``TAMPERED``, ``STALE`` or ``MISSING`` (no
        sidecar).
    n_checked : int
        Files checked.
    """
    figures = []
    for p in map(Path, paths):
        if p.is_dir():
            recorded = {q.with_name(q.name[: -len(SIDECAR_SUFFIX)]) for q in p.rglob("*" + SIDECAR_SUFFIX)}
            figures += sorted(set(p.rglob("*.png")) | set(p.rglob("*.pdf")) | recorded)
        elif p.exists():
            figures.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    hashes = {}

    def digest(path):
        """sha256 of a file, each file hashed once per audit (None: the whole library)."""
        key = None if path is None else Path(path).resolve()
        if key not in hashes:
            hashes[key] = library_hash() if key is None else sha256_file(key)
        return hashes[key]

    sides = {fig: _read_side(fig) for fig in figures}
    by_file = {fig: _check(fig, sides[fig], digest) for fig in figures}
    for fig in figures:
        if fig.suffix == ".npz" and fig.parent.name == "models" and "results" not in fig.parts:
            by_file[fig] = _check_shipped_model(fig, by_file[fig], notes)
    if params:
        param_problems, unchecked = _check_params(figures, sides, configfile)
        for fig, line in param_problems:
            by_file[fig].append(line)
        if notes is not None:
            notes += unchecked
    # staleness travels downstream: a file made from a stale or tampered file is stale
    bad = {fig.resolve() for fig, probs in by_file.items() if probs and not probs[0].startswith("MISSING")}
    changed = True
    while changed:
        changed = False
        for fig in figures:
            if fig.resolve() in bad or sides[fig] is None:
                continue
            for name, f, p in _recorded_inputs(sides[fig].get("record", {})):
                if p.resolve() in bad:
                    by_file[fig].append(f"STALE {fig}: input {name} {f['path']} is itself stale or tampered")
                    bad.add(fig.resolve())
                    changed = True
                    break
    return [line for fig in figures for line in by_file[fig]], len(figures)
