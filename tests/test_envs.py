"""The conda environments in envs/ pin the same versions that the pip set-up
(requirements/lock.txt) installs, and the running interpreter has exactly those."""

import re
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge name -> PyPI name, where they differ
CONDA_TO_PYPI = {"matplotlib-base": "matplotlib", "pyfftw": "pyFFTW"}


def lock_pins():
    pins = {}
    for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


ENV_FILES = sorted((ROOT / "envs").glob("*.yaml"))


def test_there_are_envs():
    assert len(ENV_FILES) >= 2


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_env_pins_match_lock(path):
    pins = lock_pins()
    env = yaml.safe_load(path.read_text())
    assert "conda-forge" in env["channels"]
    checked = 0
    for dep in env["dependencies"]:
        assert isinstance(dep, str), f"{path.name}: unexpected entry {dep!r}"
        name, _, ver = dep.partition("=")
        assert ver, f"{path.name}: {name} is not pinned"
        if name == "python":
            assert ver == "3.11"
            continue
        pypi = CONDA_TO_PYPI.get(name, name).lower()
        assert pypi in pins, f"{path.name}: {name} is not in requirements/lock.txt"
        assert ver == pins[pypi], f"{path.name}: {name}={ver} but lock.txt has {pins[pypi]}"
        checked += 1
    assert checked >= 3


@pytest.mark.parametrize(
    "dist", ["numpy", "scipy", "numba", "pyFFTW", "pandas", "matplotlib", "scikit-image", "snakemake"]
)
def test_installed_versions_are_the_pinned_ones(dist):
    # bin/test installs requirements/lock.txt; a drift means the venv is stale
    assert version(dist) == lock_pins()[dist.lower()]
