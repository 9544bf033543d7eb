"""Measurement pipeline: each snapshot's functionals, S(q) and estimators,
the study dataset, and the choice of the motivating pair."""

import numpy as np
import pandas as pd
import pytest

from scattermorph.errors import ParameterError
from scattermorph.functionals import FUNCTIONALS
from scattermorph.measure import reference as rf
from scattermorph.measure import scattering as sc
from scattermorph.measure import snapshots as ms
from scattermorph.measure.minkowski import minkowski


def test_measure_field_on_a_sharp_structure(rng):
    """A binary disc packing: functionals equal minkowski() of the same image,
    the invariant gives the area fraction exactly, Porod the perimeter."""
    n = 256
    img = rf.boolean_model((n, n), 1.0, intensity=0.0015, radius=9.0, rng=rng)
    edges, centres = sc.q_grid(2 * np.pi / n, np.pi, 64)
    row, s_q, counts = ms.measure_field(
        img.astype(float), 1.0, q_edges=edges, q_centres=centres, level=0.5,
        porod_window=(0.3, 1.0), porod_method="plateau",
    )
    direct = minkowski(img)
    for k, v in direct.items():
        assert row[k] == v  # same image, same estimator: identical
    # v (1 - v) = var for a 0/1 field: the minority root is the area fraction
    v = img.mean()
    assert row["volume_fraction_invariant"] == pytest.approx(min(v, 1 - v), rel=1e-9)
    # Porod on a digitised union of discs: within 10 % of the Crofton
    # perimeter (roughness of the digitised boundary, overlaps' corners)
    assert row["perimeter_density_porod"] == pytest.approx(row["perimeter_density"], rel=0.10)
    assert counts.sum() > 0 and np.isfinite(row["L_first_moment"])
    assert row["q_peak"] == pytest.approx(2 * np.pi / row["L_peak"])


def _meta(phi_stack, dx=2.0):
    t = np.geomspace(10.0, 100.0, phi_stack.shape[0])
    return {
        "sim_id": "fake",
        "params": dict(model="flory_huggins", phi0=0.4, quench=2.0, replicate=0, seed=1,
                       sim_index=0, shape=list(phi_stack.shape[1:]), dx=dx),
        "model": dict(chi=0.04, N=100.0),
        "derived": dict(coexistence=[0.1, 0.9], time_scale_tau=2.0),
        "times": t.tolist(),
    }


def test_measure_simulation_rows_and_curves(rng):
    stack = np.stack([rf.gaussian_random_field((64, 64), 2.0, spectrum="peaked", rng=rng,
                                               k0=0.3, width=0.05) * 0.2 + 0.4 for _ in range(3)])
    edges, centres = sc.q_grid(0.05, 1.5, 24)
    table, s_q, counts = ms.measure_simulation(stack, _meta(stack), q_edges=edges,
                                               q_centres=centres, porod_window=(0.2, 0.8))
    assert len(table) == 3 and s_q.shape == (3, 24) and counts.shape == (24,)
    assert list(table["snapshot"]) == [0, 1, 2]
    assert np.allclose(table["time_over_tau"], np.array(_meta(stack)["times"]) / 2.0)
    assert np.allclose(table["contrast"], 0.8)
    for col in FUNCTIONALS[2] + ["L_first_moment", "invariant", "perimeter_density_porod"]:
        assert table[col].notna().all(), col
    # "mean" threshold: the binary phase fraction follows the field
    assert np.all((table["area_density"] > 0.3) & (table["area_density"] < 0.7))


def test_dataset_round_trip(tmp_path, rng):
    edges, centres = sc.q_grid(0.05, 1.5, 16)
    paths = []
    for i in range(2):
        stack = np.stack([rf.gaussian_random_field((32, 32), 2.0, spectrum="peaked", rng=rng,
                                                   k0=0.4, width=0.1) * 0.2 + 0.5 for _ in range(2)])
        meta = _meta(stack)
        meta["sim_id"] = f"s{i}"
        table, s_q, counts = ms.measure_simulation(stack, meta, q_edges=edges, q_centres=centres)
        path = tmp_path / f"s{i}.npz"
        ms.save_measurements(path, table, s_q, counts, edges, centres)
        back = ms.load_measurements(path)
        pd.testing.assert_frame_equal(back[0], table, check_exact=True)
        paths.append(path)
    table, arrays, dropped = ms.assemble_dataset(paths)
    assert list(table["row"]) == [0, 1, 2, 3] and dropped.empty
    assert arrays["s_q"].shape == (4, 16) and np.array_equal(arrays["q"], centres)
    out = ms.add_instrument(arrays, dict(enabled=False, q_window=[0.1, 1.0], resolution=0.1,
                                         counts=100.0, background=0.0), seed=1)
    assert np.array_equal(out["i_q"], arrays["s_q"], equal_nan=True)
    inst = dict(enabled=True, q_window=[0.1, 1.0], resolution=0.05, counts=100.0, background=0.01)
    a = ms.add_instrument(arrays, inst, seed=1)
    b = ms.add_instrument(arrays, inst, seed=1)
    assert np.array_equal(a["i_q"], b["i_q"], equal_nan=True)  # seeded, deterministic
    assert np.all(np.isnan(a["i_q"][:, centres < 0.1]))
    table.to_csv(tmp_path / "d.csv", index=False)
    np.savez(tmp_path / "d.npz", **a)
    t2, a2 = ms.load_dataset(tmp_path / "d.csv", tmp_path / "d.npz")
    assert len(t2) == 4
    np.savez(tmp_path / "bad.npz", **{k: v[:3] if v.ndim == 2 else v for k, v in a.items()})
    with pytest.raises(ParameterError, match="4 rows but .* 3 curves"):
        ms.load_dataset(tmp_path / "d.csv", tmp_path / "bad.npz")


def test_dataset_drops_snapshots_larger_than_a_fraction_of_the_box(tmp_path, rng):
    """The L <= box/4 rule: a snapshot is dropped exactly when its first-moment
    length exceeds the fraction of its own box (grid * dx), the kept rows are
    renumbered and keep their own curves, and the dropped ones are listed."""
    edges, centres = sc.q_grid(0.05, 1.5, 16)
    paths, lengths = [], []
    for i, k0 in enumerate([0.9, 0.3]):  # short (~7 b) and long (~21 b) wavelengths in a 64 b box
        stack = np.stack([rf.gaussian_random_field((32, 32), 2.0, spectrum="peaked", rng=rng,
                                                   k0=k0, width=0.05) * 0.2 + 0.5])
        meta = _meta(stack)
        meta["sim_id"] = f"s{i}"
        table, s_q, counts = ms.measure_simulation(stack, meta, q_edges=edges, q_centres=centres)
        lengths.append(float(table["L_first_moment"].iloc[0]))
        path = tmp_path / f"s{i}.npz"
        ms.save_measurements(path, table, s_q, counts, edges, centres)
        paths.append(path)
    box = 32 * 2.0
    frac = (lengths[0] / box + lengths[1] / box) / 2  # between the two ratios
    assert lengths[0] / box < frac < lengths[1] / box
    table, arrays, dropped = ms.assemble_dataset(paths, max_length_fraction=frac)
    assert list(table["sim_id"]) == ["s0"] and list(table["row"]) == [0]
    assert list(dropped["sim_id"]) == ["s1"]
    assert np.isclose(dropped["L_over_box"].iloc[0], lengths[1] / box)
    full = ms.assemble_dataset(paths)[1]
    assert np.array_equal(arrays["s_q"], full["s_q"][:1], equal_nan=True)
    with pytest.raises(ParameterError, match="max_length_fraction"):
        ms.assemble_dataset(paths, max_length_fraction=1e-3)


def _pair_tables(spec):
    """Dataset and label tables from (sim_id, phi0, label_percolation,
    label_euler, [q_peak per snapshot]) tuples; time = 10 (snapshot + 1)."""
    rows, labels = [], []
    for sim, phi0, lp, le, qpeaks in spec:
        for i, q in enumerate(qpeaks):
            rows.append(dict(sim_id=sim, snapshot=i, phi0=phi0, time_over_tau=10.0 * (i + 1), q_peak=q))
            labels.append(dict(group=sim, snapshot=i, label_percolation=lp, label_euler=le))
    table = pd.DataFrame(rows)
    table.insert(0, "row", np.arange(len(table)))
    return table, pd.DataFrame(labels)


def _picked(table, pair):
    return [(table.loc[r, "sim_id"], int(table.loc[r, "snapshot"])) for r in pair]


def test_select_motivating_pair_picks_the_closest_peaks_over_all_snapshots():
    table, labels = _pair_tables([
        ("drop", 0.2, 0, 0, [0.30, 0.20, 0.15, 0.12]),
        ("co", 0.5, 1, 1, [0.25, 0.18, 0.14, 0.101]),
        # labels disagree: neither class under the default criterion
        ("mixed", 0.35, 1, 0, [0.30, 0.20, 0.15, 0.12]),
    ])
    # every snapshot counts (not only late ones): 0.25 vs 0.30 is 18 %, 0.20 vs
    # 0.18 is 10.5 %, 0.15 vs 0.14 is 6.9 %, 0.12 vs 0.101 is 17 %
    assert _picked(table, ms.select_motivating_pair(table, labels)) == [("drop", 2), ("co", 2)]
    # by percolation alone 'mixed' is co-continuous: its 0.15 equals drop's 0.15
    got = _picked(table, ms.select_motivating_pair(table, labels, criterion="percolation"))
    assert got[1][0] == "mixed" and table.set_index(["sim_id", "snapshot"]).loc[got[0], "q_peak"] == \
        table.set_index(["sim_id", "snapshot"]).loc[got[1], "q_peak"]


def test_select_motivating_pair_breaks_near_ties_by_composition_then_time():
    table, labels = _pair_tables([
        ("drop_a", 0.3, 0, 0, [0.200, 0.150]),
        ("drop_b", 0.15, 0, 0, [0.155, 0.1505]),
        ("co", 0.5, 1, 1, [0.150, 0.150]),
    ])
    # drop_a hits 0.150 exactly, drop_b within 0.5 % (< rel_tol 2 %): the more
    # off-critical drop_b wins, at its latest snapshot among equals (co's 1)
    assert _picked(table, ms.select_motivating_pair(table, labels)) == [("drop_b", 1), ("co", 1)]
    # without tolerance the exact match wins
    assert _picked(table, ms.select_motivating_pair(table, labels, rel_tol=0.0)) == [("drop_a", 1), ("co", 1)]


def test_select_motivating_pair_names_the_missing_class_and_the_fix():
    table, labels = _pair_tables([("co", 0.5, 1, 1, [0.2, 0.1]), ("co2", 0.3, 1, 1, [0.2, 0.1])])
    with pytest.raises(ParameterError, match=r"0 droplet and 4 co-continuous.*simulation\.sweep\.phi0"):
        ms.select_motivating_pair(table, labels)
    table3 = table.assign(dimension=3)
    with pytest.raises(ParameterError, match=r"simulation\.sweep\.phi0 \(in 3D .* phi0 <~ 0\.2"):
        ms.select_motivating_pair(table3, labels)
    table, labels = _pair_tables([("drop", 0.2, 0, 0, [0.2, 0.1])])
    with pytest.raises(ParameterError, match="2 droplet and 0 co-continuous.*near 0.5"):
        ms.select_motivating_pair(table, labels)
    with pytest.raises(ParameterError, match="no connectivity label.*label_snapshots"):
        ms.select_motivating_pair(table, labels.iloc[:1])
    with pytest.raises(ParameterError, match="criterion 'chi'"):
        ms.select_motivating_pair(table, labels, criterion="chi")
