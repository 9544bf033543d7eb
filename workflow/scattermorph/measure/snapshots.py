"""Measure every snapshot: scattering of the field, Minkowski functionals of
the binarised structure, and the physics estimators that link the two.

The result of a study is one tidy table (one row per snapshot) plus the S(q)
curves on the study's common q grid: the single input of every ML rule.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from scattermorph import seeds
from scattermorph._io import atomic_write
from scattermorph.errors import ParameterError
from scattermorph.measure import scattering as sc
from scattermorph.measure.minkowski import minkowski, threshold

__all__ = [
    "measure_field",
    "measure_simulation",
    "save_measurements",
    "load_measurements",
    "assemble_dataset",
    "add_instrument",
    "load_dataset",
    "select_motivating_pair",
    "PAIR_CRITERIA",
]


def measure_field(phi, dx: float, *, q_edges, q_centres=None, level="mean", periodic=True,
                  connectivity=None, porod_window=None, porod_method="ruland", contrast=1.0):
    """Scattering and Minkowski functionals of one field.

    Parameters
    ----------
    phi : (M, N[, P]) ndarray
        Composition (volume fraction) field on a periodic grid.
    dx : float
        Cell size (units of b).
    q_edges : (B + 1,) ndarray
        Edges of the q grid (1/b).
    q_centres : (B,) ndarray, optional
        Nominal bin centres (default: geometric means of the edges).
    level : {"mean", "equal_volume"} or float
        Binarisation threshold (see :func:`scattermorph.measure.minkowski.threshold`).
    periodic, connectivity
        Passed to :func:`scattermorph.measure.minkowski.minkowski`.
    porod_window : (lo, hi), optional
        q window of the Porod estimate; skipped if None.
    porod_method : {"ruland", "plateau"}
        See :func:`scattermorph.measure.scattering.porod_constant`.
    contrast : float
        Composition difference between the phases, used by the invariant and
        Porod estimators (the binodal difference for a simulation).

    Returns
    -------
    row : dict
        Functionals (totals and densities), ``threshold_level``,
        ``L_first_moment``, ``L_peak``, ``q_peak``, ``invariant``,
        ``volume_fraction_invariant``, ``porod_constant``,
        ``surface_density_porod`` (3D) or ``perimeter_density_porod`` (2D).
    s_q : (B,) ndarray
        Radially averaged S(q) (NaN in empty bins).
    counts : (B,) ndarray of int
        Modes per q bin.
    """
    phi = np.asarray(phi, dtype=float)
    ndim = phi.ndim
    binary, lev = threshold(phi, level, return_level=True)
    row = {"threshold_level": float(lev)}
    row.update(minkowski(binary, spacing=dx, periodic=periodic, connectivity=connectivity))
    s, k, w = sc.structure_factor(phi, dx)
    centres = np.sqrt(q_edges[:-1] * q_edges[1:]) if q_centres is None else q_centres
    _, s_q, counts = sc.radial_average(s, k, w, q_edges)
    volume = phi.size * dx**ndim
    q_inv = float(np.sum(w * s) / volume)
    q_peak = sc.peak_position(centres, s_q)
    row.update(
        L_first_moment=sc.first_moment_length(s, k, w, dx),
        q_peak=q_peak,
        L_peak=float(2 * np.pi / q_peak) if np.isfinite(q_peak) else np.nan,
        invariant=q_inv,
        volume_fraction_invariant=sc.volume_fraction_from_invariant(q_inv, contrast),
    )
    if porod_window is not None:
        kp = sc.porod_constant(centres, s_q, ndim, porod_window, method=porod_method)
        name = "perimeter_density_porod" if ndim == 2 else "surface_density_porod"
        row["porod_constant"] = kp
        row[name] = sc.specific_surface_from_porod(kp, ndim, contrast)
    return row, s_q, counts


def measure_simulation(phi_stack, meta: dict, *, q_edges, q_centres=None, level="mean",
                       periodic=True, connectivity=None, porod_window=None,
                       porod_method="ruland", log=None):
    """Measure every snapshot of one simulation.

    Returns
    -------
    table : pandas.DataFrame
        One row per snapshot: ``sim_id``, ``snapshot``, ``time``,
        ``time_over_tau``, run parameters and the columns of
        :func:`measure_field`.
    s_q : (T, B) ndarray
    counts : (B,) ndarray of int
    """
    p = meta["params"]
    lo, hi = meta["derived"]["coexistence"]
    contrast = (hi - lo) if hi > lo else 1.0
    rows, curves, counts = [], [], None
    for i, phi in enumerate(phi_stack):
        row, s_q, c = measure_field(
            phi, p["dx"], q_edges=q_edges, q_centres=q_centres, level=level, periodic=periodic,
            connectivity=connectivity, porod_window=porod_window,
            porod_method=porod_method, contrast=contrast,
        )
        if counts is None:
            counts = c
        elif not np.array_equal(counts, c):
            raise ParameterError("snapshots of one simulation must share the grid")
        base = {**snapshot_ids(meta, i), "contrast": contrast}
        rows.append({**base, **row})
        curves.append(s_q)
        if log is not None:
            log(f"snapshot {i}: euler_density={row['euler_density']:.4g} L1={row['L_first_moment']:.4g}")
    return pd.DataFrame(rows), np.asarray(curves), counts


def _table_to_arrays(table: pd.DataFrame) -> dict:
    """Columns as plain arrays (numbers stay binary, text as unicode): an
    exact, pickle-free round trip through ``.npz``."""
    out = {"__columns__": np.array(list(table.columns))}
    for i, col in enumerate(table.columns):
        v = table[col].to_numpy()
        out[f"col{i}"] = v.astype(str) if v.dtype == object else v
    return out


def _arrays_to_table(z) -> pd.DataFrame:
    cols = [str(c) for c in z["__columns__"]]
    return pd.DataFrame({c: z[f"col{i}"] for i, c in enumerate(cols)})


def save_measurements(path, table: pd.DataFrame, s_q, counts, q_edges, q_centres) -> None:
    """Write one simulation's measurements (``.npz``, atomic)."""

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                s_q=np.asarray(s_q, dtype=float),
                counts=np.asarray(counts, dtype=np.int64),
                q_edges=np.asarray(q_edges, dtype=float),
                q=np.asarray(q_centres, dtype=float),
                **_table_to_arrays(table),
            )

    atomic_write(path, write)


def load_measurements(path):
    """Inverse of :func:`save_measurements`: (table, s_q, counts, q_edges, q)."""
    with np.load(path, allow_pickle=False) as z:
        return _arrays_to_table(z), z["s_q"], z["counts"], z["q_edges"], z["q"]


def assemble_dataset(paths, *, max_length_fraction=None):
    """Concatenate per-simulation measurements into the study's dataset.

    Parameters
    ----------
    paths : list of path
        Measurement files written by :func:`save_measurements`.
    max_length_fraction : float, optional
        Keep only the snapshots whose characteristic length (``L_first_moment``,
        2 pi / <k>, Bray 1994) is at most this fraction of the box side
        (``grid * dx``). Beyond about a quarter of the box the few domains per
        side are shaped by the periodic box (finite-size effects on the
        coarsening law and the peak's shape), so those structures are not the
        bulk the study learns about. None keeps every snapshot.

    Returns
    -------
    table : pandas.DataFrame
        One row per kept snapshot (ordered as ``paths``, then by snapshot),
        with a ``row`` column indexing the curves.
    arrays : dict
        ``q`` (bin centres), ``q_edges``, ``s_q`` (rows x bins), ``counts``
        (rows x bins), for the kept snapshots.
    dropped : pandas.DataFrame
        The dropped snapshots: ``sim_id``, ``snapshot``, ``time_over_tau``,
        ``L_first_moment``, ``box`` (b) and ``L_over_box``.
    """
    tables, curves, counts, edges, q = [], [], [], None, None
    for path in paths:
        t, s_q, c, e, q = load_measurements(path)
        if edges is None:
            edges = e
        elif not np.array_equal(edges, e):
            raise ParameterError(f"{path}: q grid differs from the other measurements")
        tables.append(t)
        curves.append(s_q)
        counts.append(np.broadcast_to(c, s_q.shape))
    table = pd.concat(tables, ignore_index=True)
    s_q = np.concatenate(curves)
    cnt = np.concatenate(counts).astype(np.int64)
    box = table["grid"].to_numpy(dtype=float) * table["dx"].to_numpy(dtype=float)
    ratio = table["L_first_moment"].to_numpy(dtype=float) / box
    if max_length_fraction is None:
        keep = np.ones(len(table), dtype=bool)
    else:
        # a NaN length (a uniform field) cannot be judged: kept, as before
        keep = ~(ratio > float(max_length_fraction))
    dropped = table.loc[~keep, ["sim_id", "snapshot", "time_over_tau", "L_first_moment"]].copy()
    dropped["box"] = box[~keep]
    dropped["L_over_box"] = ratio[~keep]
    table = table.loc[keep].reset_index(drop=True)
    table.insert(0, "row", np.arange(len(table)))
    if table.empty:
        raise ParameterError(
            f"every snapshot has L_first_moment > {max_length_fraction} x box: nothing is "
            "left for the dataset; raise measurement.max_length_fraction, the grid, or "
            "lower simulation.time.t_max"
        )
    arrays = {"q": q, "q_edges": edges, "s_q": s_q[keep], "counts": cnt[keep]}
    return table, arrays, dropped.reset_index(drop=True)


def add_instrument(arrays: dict, instrument: dict, *, seed: int) -> dict:
    """Add ``i_q`` and ``sigma_q``: the curves as an instrument would record them.

    With ``instrument["enabled"]`` false, ``i_q`` is ``s_q`` and ``sigma_q`` is
    zero. Otherwise :func:`scattermorph.measure.scattering.apply_instrument` is applied
    to every curve, the counting noise drawn from
    ``SeedSequence([seed, 2**32 - 2])`` row by row (deterministic).
    """
    out = dict(arrays)
    s_q = arrays["s_q"]
    if not instrument["enabled"]:
        out["i_q"] = s_q.copy()
        out["sigma_q"] = np.zeros_like(s_q)
        return out
    rng = np.random.Generator(np.random.PCG64(seeds.sequence(seed, seeds.INSTRUMENT)))
    i_q = np.empty_like(s_q)
    sig = np.empty_like(s_q)
    for r in range(s_q.shape[0]):
        i_q[r], sig[r] = sc.apply_instrument(
            arrays["q"], s_q[r], rng=rng, q_window=tuple(instrument["q_window"]),
            resolution=instrument["resolution"], counts=instrument["counts"],
            background=instrument["background"],
        )
    out["i_q"], out["sigma_q"] = i_q, sig
    return out


def load_dataset(table_path, arrays_path):
    """Read a study dataset: (table, arrays) as written by the workflow."""
    table = pd.read_csv(table_path)
    with np.load(arrays_path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    if len(table) != arrays["s_q"].shape[0]:
        raise ParameterError(
            f"{table_path} has {len(table)} rows but {arrays_path} has "
            f"{arrays['s_q'].shape[0]} curves: regenerate both with the workflow"
        )
    return table, arrays


#: the label column(s) of :func:`scattermorph.classify.labels.structure_labels` that
#: define the classes of the motivating pair, by criterion
PAIR_CRITERIA = {
    "both": ("label_percolation", "label_euler"),
    "percolation": ("label_percolation",),
    "euler": ("label_euler",),
}


def select_motivating_pair(table: pd.DataFrame, labels: pd.DataFrame, *, criterion="both",
                           rel_tol=0.02):
    """A droplet and a co-continuous snapshot whose S(q) peak at (nearly) the same q.

    The classes are the study's connectivity labels of the full structures
    (:func:`scattermorph.classify.labels.structure_labels`, the table of the
    label_snapshots rule): *droplets* when the minority phase neither wraps
    around the periodic box (``label_percolation`` 0) nor has an Euler
    characteristic <= 0 (``label_euler`` 0: more components than handles);
    *co-continuous* when both labels are 1 (a box-spanning network with
    handles). With ``criterion="percolation"`` or ``"euler"`` one label
    alone decides.

    Every snapshot of every run is a candidate. The pair with the smallest
    relative difference of the peak positions, ``|ln(q_a / q_b)|``, wins;
    pairs within ``rel_tol`` of that smallest difference count as equally
    good (peak positions are refined from a binned S(q), and a box of
    ``n`` cells resolves q only to ``2 pi / (n dx)``), and among them the
    pair with the largest difference in mean composition ``phi0`` is taken
    (an off-critical droplet blend against a near-critical network, the
    contrast the figure is about), then the smaller q difference, then the
    later snapshots.

    Parameters
    ----------
    table : pandas.DataFrame
        The dataset (:func:`load_dataset`): ``row``, ``sim_id``,
        ``snapshot``, ``phi0``, ``time_over_tau``, ``q_peak`` (1/b).
    labels : pandas.DataFrame
        Labels of every snapshot: ``group`` (the ``sim_id``), ``snapshot``,
        ``label_percolation``, ``label_euler``.
    criterion : {"both", "percolation", "euler"}
        Which labels define the classes (see above).
    rel_tol : float
        Tolerance on the relative peak difference (dimensionless, >= 0).

    Returns
    -------
    (int, int)
        ``row`` indices of the droplet and the co-continuous snapshot.

    Raises
    ------
    ParameterError
        An unknown criterion, snapshots without labels, or a class with no
        snapshot (the message says how many each class has and how to get
        the missing one).
    """
    if criterion not in PAIR_CRITERIA:
        raise ParameterError(f"criterion {criterion!r}: use one of {sorted(PAIR_CRITERIA)}")
    if not (np.isfinite(rel_tol) and rel_tol >= 0):
        raise ParameterError(f"rel_tol = {rel_tol}: need a finite tolerance >= 0")
    cols = PAIR_CRITERIA[criterion]
    t = _labelled_snapshots(table, labels, cols)
    t = t[np.isfinite(t["q_peak"]) & (t["q_peak"] > 0)]
    lab_sum = t[list(cols)].sum(axis=1)
    drop = t[lab_sum == 0]
    co = t[lab_sum == len(cols)]
    if drop.empty or co.empty:
        raise ParameterError(_missing_class_message(t, drop, co, cols, criterion))
    qd, qc = np.log(drop["q_peak"].to_numpy()), np.log(co["q_peak"].to_numpy())
    diff = np.abs(qd[:, None] - qc[None, :])
    ok = diff <= diff.min() + rel_tol
    dphi = np.abs(drop["phi0"].to_numpy()[:, None] - co["phi0"].to_numpy()[None, :])
    late = np.minimum(drop["time_over_tau"].to_numpy()[:, None], co["time_over_tau"].to_numpy()[None, :])
    ii, jj = np.nonzero(ok)
    # lexsort: last key first -> largest dphi, then smallest diff, then latest
    k = np.lexsort((-late[ii, jj], diff[ii, jj], -dphi[ii, jj]))[0]
    return int(drop["row"].iloc[ii[k]]), int(co["row"].iloc[jj[k]])


def _labelled_snapshots(table: pd.DataFrame, labels: pd.DataFrame, cols) -> pd.DataFrame:
    """The dataset with the label columns ``cols`` of every snapshot; refuses
    snapshots without a label."""
    lab = labels.rename(columns={"group": "sim_id"})[["sim_id", "snapshot", *cols]]
    t = table.merge(lab, on=["sim_id", "snapshot"], how="left", validate="one_to_one")
    missing = t[list(cols)].isna().any(axis=1)
    if missing.any():
        first = t[missing].iloc[0]
        raise ParameterError(
            f"{int(missing.sum())} dataset snapshots have no connectivity label (first: "
            f"{first['sim_id']} snapshot {first['snapshot']}): the label table must come from "
            "the same simulations (rerun the label_snapshots rule)"
        )
    return t


def _missing_class_message(t, drop, co, cols, criterion) -> str:
    """Why the motivating pair cannot be drawn (a class has no snapshot) and
    which compositions to add."""
    what = " and ".join(cols)
    fix = []
    if drop.empty:
        hint = (" (in 3D the minority phase breaks up into droplets only at phi0 <~ 0.2: "
                "at 0.3 it is still a network at 50 tau)" if "dimension" in t
                and (t["dimension"] == 3).any() else "")
        fix.append("add off-critical compositions to simulation.sweep.phi0" + hint)
    if co.empty:
        fix.append("add compositions near 0.5 to simulation.sweep.phi0")
    return (
        f"the motivating pair needs a droplet and a co-continuous snapshot ({what}); the "
        f"dataset has {len(drop)} droplet and {len(co)} co-continuous snapshots (of "
        f"{len(t)} with a peak, by criterion {criterion!r}): " + "; ".join(fix)
    )


def snapshot_ids(meta: dict, i: int) -> dict:
    """Identifiers and run parameters of snapshot ``i`` of a simulation.

    The columns every per-snapshot table starts with: ``sim_id``,
    ``snapshot``, ``time``, ``time_over_tau``, ``step``, ``model``, ``phi0``,
    ``quench``, ``chi``, ``N``, ``replicate``, ``seed``, ``sim_index``,
    ``dimension``, ``grid``, ``dx``.
    """
    p, m, d = meta["params"], meta["model"], meta["derived"]
    t = meta["times"][i]
    return {
        "sim_id": meta["sim_id"],
        "snapshot": i,
        "time": t,
        "time_over_tau": t / d["time_scale_tau"],
        "step": meta["steps"][i] if "steps" in meta else np.nan,
        "model": p["model"],
        "phi0": p["phi0"],
        "quench": p["quench"] if p["model"] == "flory_huggins" else np.nan,
        "chi": m.get("chi", np.nan),
        "N": m.get("N", np.nan),
        "replicate": p["replicate"],
        "seed": p["seed"],
        "sim_index": p["sim_index"],
        "dimension": len(p["shape"]),
        "grid": p["shape"][0],
        "dx": p["dx"],
    }
