"""Writing files safely and describing the software that wrote them: atomic writes (a crash never leaves half a file), the versions of the packages in use, JSON-safe values."""

from __future__ import annotations

import os
import platform
import tempfile
from pathlib import Path

import numpy as np

from scattermorph import __version__


def versions() -> dict:
    """Versions of scattermorph, Python and the numerical libraries."""
    import numba
    import scipy

    out = {
        "scattermorph": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
    }
    try:
        import pyfftw

        out["pyfftw"] = pyfftw.__version__
    except ImportError:  # pragma: no cover
        pass
    return out


def _jsonable(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, (tuple, np.ndarray)):
        return [_jsonable(x) for x in v]
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    return v


def atomic_write(path, write):
    """Call ``write(tmp_path)`` and rename the result to ``path`` atomically.

    The temporary file sits in the same directory (same filesystem), so the
    rename is atomic: readers see either no file or the complete file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    try:
        write(tmp)
        # mkstemp creates the file 0600; give it the usual permissions (umask)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
