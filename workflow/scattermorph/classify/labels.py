"""Labels of a full structure: droplets or co-continuous.

Labels (:func:`structure_labels`) come from the **full** structure, binarised
by the measurement stage's rule (``measurement.threshold``):

* primary, *percolation*: label 1 ("co-continuous") if the **minority**
  phase (the one with the smaller area / volume fraction) has a cluster that
  wraps around the periodic box along at least one axis, else 0
  ("droplets"). Both phases then span the sample, which is what
  co-continuous means; the majority phase always spans it. Clusters are
  face-connected (4 in 2D, 6 in 3D): two pixels touching only at a corner are
  not one domain, because a corner contact is thinner than the diffuse
  interface (2-3 cells) and is a digitisation artefact. A wrapping cluster is
  found by labelling the clusters of the unwrapped box
  (:func:`scipy.ndimage.label`), joining clusters across each face of the box
  and following the box shifts along the joins: a cluster wraps when one of
  its pixels is reached with two different shifts (:func:`wrapping_axes`).
* secondary, *Euler*: label 1 if the Euler characteristic of the minority
  phase (same connectivity, periodic box) is <= 0, else 0. Droplets are many
  simply connected components (chi > 0); a connected network has more holes
  (or handles, in 3D) than components (chi <= 0). Cheap but indirect: a few
  isolated droplets beside a network can make chi > 0. The table of labels
  (:func:`label_table`) reports both and whether they agree.

In 3D both are computed the same way on the periodic box, with 6-connectivity
of the minority phase (face neighbours: an edge or corner contact is thinner
than the interface). There ``chi = components - handles + cavities``: a
droplet is +1, a rod or slab spanning the box 0, a sponge-like network
(genus g per cell) ``1 - g < 0``, so ``chi <= 0`` means that the minority
phase is, on balance, a network with handles: the topological criterion used
to tell disperse (droplet) from bicontinuous morphologies of phase-separating
polymer blends (Aksimentiev & Holyst 2001; the genus of bicontinuous blend
interfaces measured in 3D, Jinnai et al. 1997; a genus per domain volume to
tell drops from co-continuous domains in immiscible blends, Lopez-Barron &
Macosko 2009). In 3D the percolation label is the one that fails first: the
minority phase of a 3D spinodal structure percolates down to volume
fractions of ~0.2-0.3 (the 3D continuum percolation threshold is ~0.16 for
overlapping spheres), so a study of phi0 >= 0.3 may give one class only;
the Euler label, which calls a structure with more droplets than handles
"droplets", is then the one to train on (``classification.label: euler``).
The summary (:func:`scattermorph.classify.summary.classification_summary`) states
the label used and warns when its minority class is below
:data:`MIN_CLASS_SHARE` of the structures.

In 2D the percolation label has a twist worth knowing: on a torus two
phases cannot both wrap in crossing directions, so "co-continuous" means both
phases span the box in at least one (the same) direction, as in a labyrinth
of stripes; near 50:50 the minority phase may be cut into long fragments.

References
----------
.. [AH2001] A. Aksimentiev and R. Holyst, "Application of the Euler
   characteristic to the study of homopolymer blends and copolymer melts",
   Polimery 46, 309-322 (2001).
.. [Jinnai1997] H. Jinnai, T. Koga, Y. Nishikawa, T. Hashimoto and S. T.
   Hyde, "Curvature determination of spinodal interface in a condensed
   matter system", Phys. Rev. Lett. 78, 2248 (1997).
.. [LBM2009] C. R. Lopez-Barron and C. W. Macosko, "Characterizing
   interface shape evolution in immiscible polymer blends via 3D image
   analysis", Langmuir 25 (2009).
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd
from scipy import ndimage

from scattermorph.errors import ParameterError
from scattermorph.measure.minkowski import minkowski, threshold
from scattermorph.sim.run import load_simulation

__all__ = [
    "CLASS_NAMES",
    "MIN_CLASS_SHARE",
    "LABEL_CRITERIA",
    "wrapping_axes",
    "structure_labels",
    "class_balance",
    "label_table",
]

#: Class names of the binary task, by label.
CLASS_NAMES = ("droplets", "co-continuous")
#: Smallest share of the minority class (under the label used) that the
#: study should have (both classes represented, >= 30 %); the summary
#: warns below it.
MIN_CLASS_SHARE = 0.3
#: What each label means, with its reference (quoted by the summary).
LABEL_CRITERIA = {
    "percolation": (
        "co-continuous = a face-connected cluster of the minority phase wraps around the "
        "periodic box (both phases span the sample: the direct definition)."
    ),
    "euler": (
        "co-continuous = Euler characteristic of the minority phase (face connectivity, "
        "periodic box) <= 0, i.e. at least as many handles (3D) / holes (2D) as components: a "
        "network rather than droplets (chi > 0). The topological criterion that tells disperse "
        "from bicontinuous blend morphologies (Aksimentiev & Holyst, Polimery 46, 309 (2001); "
        "genus of bicontinuous blends: Jinnai et al., Phys. Rev. Lett. 78, 2248 (1997); "
        "Lopez-Barron & Macosko, Langmuir 25 (2009)); used where the minority phase of a 3D "
        "structure percolates at every composition, so percolation gives one class only."
    ),
}


def wrapping_axes(image) -> np.ndarray:
    """Axes along which some face-connected cluster wraps around the torus.

    Parameters
    ----------
    image : (ny, nx) or (nz, ny, nx) ndarray of bool
        Phase on a periodic box.

    Returns
    -------
    (ndim,) ndarray of bool
        ``out[a]`` is True if a cluster of the ``True`` phase, followed
        across the periodic faces, returns onto itself shifted by a box
        length along axis ``a`` (it percolates along ``a``).
    """
    image = np.asarray(image, bool)
    if image.ndim not in (2, 3):
        raise ParameterError(f"image of shape {image.shape}: need a 2D or 3D phase image")
    ndim = image.ndim
    lab, n = ndimage.label(image, structure=ndimage.generate_binary_structure(ndim, 1))
    wraps = np.zeros(ndim, bool)
    if n == 0:
        return wraps
    # joins across each periodic face: last slice -> first slice is a +1 shift
    adj = [[] for _ in range(n + 1)]
    for a in range(ndim):
        lo = np.take(lab, 0, axis=a).ravel()
        hi = np.take(lab, -1, axis=a).ravel()
        both = (lo > 0) & (hi > 0)
        pairs = np.unique(np.stack([hi[both], lo[both]], axis=1), axis=0)
        d = np.zeros(ndim, np.int64)
        d[a] = 1
        for u, v in pairs:
            adj[u].append((v, d))
            adj[v].append((u, -d))
    shift = [None] * (n + 1)
    for start in range(1, n + 1):
        if shift[start] is not None:
            continue
        shift[start] = np.zeros(ndim, np.int64)
        queue = deque([start])
        while queue:
            u = queue.popleft()
            for v, d in adj[u]:
                s = shift[u] + d
                if shift[v] is None:
                    shift[v] = s
                    queue.append(v)
                elif np.any(s != shift[v]):
                    wraps |= s != shift[v]
    return wraps


def structure_labels(field, *, level="mean") -> dict:
    """Droplet / co-continuous labels of one full structure.

    Parameters
    ----------
    field : (ny, nx) or (nz, ny, nx) ndarray of float
        Composition field of the whole (periodic) structure.
    level : {"mean", "equal_volume"} or float
        Binarisation rule (:func:`scattermorph.measure.minkowski.threshold`).

    Returns
    -------
    dict
        ``minority_fraction`` (area / volume fraction of the minority
        phase), ``minority_is_rich`` (the minority is the ``field > level``
        phase), ``wraps`` (per-axis wrapping of the minority phase, as a
        string like ``"10"``), ``label_percolation``, ``euler_density_minority``
        (per pixel / voxel, face connectivity), ``label_euler`` and
        ``labels_agree``.
    """
    binary = threshold(field, level)
    frac = float(binary.mean())
    rich_is_minority = frac <= 0.5
    minority = binary if rich_is_minority else ~binary
    wraps = wrapping_axes(minority)
    conn = 4 if minority.ndim == 2 else 6
    chi = minkowski(minority, periodic=True, connectivity=conn)["euler_density"]
    lab_p = int(wraps.any())
    lab_e = int(chi <= 0)
    return {
        "minority_fraction": min(frac, 1 - frac),
        "minority_is_rich": bool(rich_is_minority),
        "wraps": "".join(str(int(w)) for w in wraps),
        "label_percolation": lab_p,
        "euler_density_minority": float(chi),
        "label_euler": lab_e,
        "labels_agree": bool(lab_p == lab_e),
    }


def class_balance(table, label) -> float:
    """Share of the minority class of a label table under ``label``.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`label_table` (column ``label_<label>``).
    label : {"percolation", "euler"}

    Returns
    -------
    float
        ``min(n_0, n_1) / n`` in [0, 0.5]; 0 when one class is missing,
        NaN for an empty table.
    """
    y = np.asarray(table[f"label_{label}"], int)
    if y.size == 0:
        return float("nan")
    n1 = int((y == 1).sum())
    return min(n1, y.size - n1) / y.size


def label_table(paths, *, level="mean"):
    """Labels of every snapshot of every structure file (see :func:`structure_labels`).

    Returns a DataFrame with ``group`` (simulation / structure id),
    ``snapshot``, ``phi0``, ``time`` (``time_over_tau`` for simulations, the
    level for Gaussian-field cuts) and the columns of :func:`structure_labels`.
    """
    rows = []
    for path in paths:
        phi, times, meta = load_simulation(path)
        prm = meta.get("params", {})
        tau = meta.get("derived", {}).get("time_scale_tau", 1.0)
        for i in range(phi.shape[0]):
            rows.append({
                "group": meta["sim_id"],
                "snapshot": i,
                "phi0": float(prm.get("phi0", np.nan)),
                "time": float(times[i]) / tau,
                **structure_labels(phi[i], level=level),
            })
    return pd.DataFrame(rows)
