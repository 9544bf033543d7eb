"""Labels, features, splits, models and the bootstrap of the classification
stage (scattermorph.classify: labels, features, classifiers, sections, jobs)."""

import itertools
from collections import deque

import numpy as np
import pandas as pd
import pytest
import yaml

from _workflow import ROOT
from scattermorph.classify.classifiers import (
    MODELS,
    bootstrap_rows,
    fit_predict,
    make_classifier,
    model_specs,
    run_bootstrap,
    simulation_split,
)
from scattermorph.classify.features import (
    load_features,
    physics_feature_names,
    raw_feature_names,
    save_features,
    view_dataset,
)
from scattermorph.classify.jobs import (
    bootstrap_job,
    build_features,
    check_classification,
    decompose_predictions,
    save_predictions,
)
from scattermorph.classify.labels import class_balance, label_table, structure_labels, wrapping_axes
from scattermorph.classify.sections import section_structures
from scattermorph.classify.summary import classification_summary
from scattermorph.config import ConfigError, validate
from scattermorph.errors import ParameterError
from scattermorph.sim.run import save_simulation


def _brute_wraps(image):
    """Pixel-level oracle: breadth-first search on the torus carrying
    unwrapped coordinates; a pixel reached at two unwrapped positions means a
    cluster winds around the box along the axes where they differ."""
    shape = image.shape
    ndim = image.ndim
    seen = {}
    wraps = np.zeros(ndim, bool)
    steps = [tuple(s * (np.arange(ndim) == a)) for a in range(ndim) for s in (1, -1)]
    for start in itertools.product(*map(range, shape)):
        if not image[start] or start in seen:
            continue
        seen[start] = start
        queue = deque([start])
        while queue:
            p = queue.popleft()
            u = seen[p]
            for s in steps:
                q = tuple((pi + si) % n for pi, si, n in zip(p, s, shape))
                uq = tuple(ui + si for ui, si in zip(u, s))
                if not image[q]:
                    continue
                if q not in seen:
                    seen[q] = uq
                    queue.append(q)
                else:
                    wraps |= np.array([(a - b) % n == 0 and a != b for a, b, n in zip(uq, seen[q], shape)])
    return wraps


def test_wrapping_simple_shapes():
    s = np.zeros((10, 12), bool)
    s[3, :] = True  # a full row wraps along axis 1
    np.testing.assert_array_equal(wrapping_axes(s), [False, True])
    s[3, 5] = False
    np.testing.assert_array_equal(wrapping_axes(s), [False, False])
    d = np.zeros((8, 8), bool)  # face-connected staircase winding (1, 1)
    for i in range(8):
        d[i, i] = d[i, (i + 1) % 8] = True
    np.testing.assert_array_equal(wrapping_axes(d), [True, True])
    ring = np.zeros((9, 9), bool)
    ring[2:7, 2:7] = True
    ring[3:6, 3:6] = False
    assert not wrapping_axes(ring).any()
    # touches both faces but the two ends miss each other by one row
    u = np.zeros((8, 8), bool)
    u[2, :4] = u[2:5, 3] = u[4, 3:] = True
    assert not wrapping_axes(u).any()


@pytest.mark.parametrize("shape", [(12, 12), (10, 14), (6, 6, 6), (5, 7, 4)])
@pytest.mark.parametrize("density", [0.45, 0.55, 0.6, 0.7])
def test_wrapping_agrees_with_pixel_oracle(shape, density):
    # near the site-percolation thresholds (0.593 in 2D, 0.312 in 3D) both
    # outcomes occur; 5 images per case
    rng = np.random.default_rng(int(density * 100) + len(shape))
    for _ in range(5):
        img = rng.random(shape) < (density if len(shape) == 2 else density - 0.3)
        np.testing.assert_array_equal(wrapping_axes(img), _brute_wraps(img))


def _discs(n=64, r=5, spacing=16):
    y, x = np.mgrid[:n, :n]
    field = np.zeros((n, n))
    for cy in range(spacing // 2, n, spacing):
        for cx in range(spacing // 2, n, spacing):
            field = np.maximum(field, ((y - cy) ** 2 + (x - cx) ** 2 <= r * r).astype(float))
    return field


def test_labels_of_droplets_and_stripes():
    drops = structure_labels(_discs(), level=0.5)
    assert drops["label_percolation"] == 0 and drops["label_euler"] == 0
    assert drops["minority_is_rich"] and drops["euler_density_minority"] > 0
    assert drops["labels_agree"]
    stripes = np.zeros((64, 64))
    stripes[:, (np.arange(64) // 8) % 3 == 0] = 1.0  # minority stripes, 1/3
    lab = structure_labels(stripes, level=0.5)
    assert lab["wraps"] == "10" and lab["label_percolation"] == 1
    assert lab["minority_fraction"] == pytest.approx(22 / 64 * 1.0, abs=0.05)
    assert lab["euler_density_minority"] == 0 and lab["label_euler"] == 1
    # the minority is found whichever phase it is
    inv = structure_labels(1 - _discs(), level=0.5)
    assert not inv["minority_is_rich"] and inv["label_percolation"] == 0


def test_simulation_split_by_stratum():
    ids = [f"s{i}" for i in range(12)]
    strata = [0.3] * 4 + [0.4] * 4 + [0.5] * 3 + [0.6]
    test = simulation_split(ids, strata, 0.25, np.random.default_rng(1))
    for s in (0.3, 0.4, 0.5):
        members = {i for i, t in zip(ids, strata) if t == s}
        assert len(members & test) == (1 if s != 0.5 else 1)
        assert members - test  # every stratum keeps training runs
    assert "s11" not in test  # a stratum of one stays in training
    again = simulation_split(ids, strata, 0.25, np.random.default_rng(1))
    assert test == again


def test_bootstrap_rows_keeps_simulations_whole(rng):
    groups = np.repeat(["a", "b", "c", "d"], [3, 5, 2, 4])
    rows = bootstrap_rows(groups, "simulation", rng)
    picked = groups[rows]
    for g in np.unique(picked):
        # each draw of a simulation brings all its rows
        assert np.sum(picked == g) % np.sum(groups == g) == 0
    assert bootstrap_rows(groups, "snapshot", rng).size == groups.size
    with pytest.raises(ParameterError, match="unit"):
        bootstrap_rows(groups, "row", rng)


@pytest.mark.parametrize("name", MODELS)
def test_every_model_fits_and_predicts_probabilities(name, rng):
    x = rng.standard_normal((60, 3))
    y = (x[:, 0] > 0).astype(int)
    lab, p, _ = fit_predict(make_classifier(name, random_state=1), x, y, x)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(lab, np.argmax(p, axis=1))
    assert np.mean(lab == y) > 0.8  # a separable problem


def test_degenerate_training_sets(rng):
    x = rng.standard_normal((6, 2))
    lab, p, _ = fit_predict(make_classifier("svm"), x, np.ones(6, int), x[:3])
    assert (lab == 1).all() and (p[:, 1] == 1).all()
    y = np.array([0, 0, 0, 0, 1, 1])  # too few of class 1 for 3-fold calibration
    lab, p, _ = fit_predict(make_classifier("svm"), x, y, x)
    assert set(np.unique(p)) <= {0.0, 1.0}
    lab, _, _ = fit_predict(make_classifier("knn", n_neighbors=50), x, y, x)  # k > rows
    assert lab.shape == (6,)
    with pytest.raises(ParameterError, match="unknown classifier"):
        make_classifier("boosting")


def _toy_data(rng):
    n_sims, per = 8, 6
    groups = np.repeat([f"g{i}" for i in range(n_sims)], per * 2)
    f_index = np.tile(np.repeat([0, 1], per), n_sims)
    y = np.repeat(np.arange(n_sims) % 2, per * 2)
    x = rng.standard_normal((groups.size, 4)) + y[:, None] * (1 + f_index[:, None])
    test = np.isin(groups, ["g0", "g1"])
    return x, y, groups, f_index, test


def test_bootstrap_does_not_depend_on_batching(rng):
    x, y, groups, f_index, test = _toy_data(rng)
    specs = model_specs(["logistic", "random_forest", "mlp"],
                        {"knn_k": 3, "forest_trees": 5, "mlp_hidden": 4, "mlp_max_iter": 50})
    kw = dict(seed=7, source_index=0, unit="simulation")
    all4 = run_bootstrap(x, y, groups, f_index, test, [0, 1, 2, 3], specs, **kw)
    a = run_bootstrap(x, y, groups, f_index, test, [0, 1], specs, **kw)
    b = run_bootstrap(x, y, groups, f_index, test, [2, 3], specs, **kw)
    for i in range(2):
        np.testing.assert_array_equal(all4[i], np.concatenate([a[i], b[i]], axis=2))
    assert all4[0].shape == (3, 2, 4, 12)


def test_view_dataset_is_reproducible_and_exact():
    rng = np.random.default_rng(0)
    imgs = [(0, "a", 0, rng.random((32, 32))), (1, "b", 0, rng.random((32, 32)))]
    kw = dict(seed=3, kind_index=1, spacing=1.0, level="mean", radii=[0.5, 2, 4], raw_grid=4)
    rows, raw, phys = view_dataset(imgs, "pixels", [0.1, 1.0], 2, **kw)
    rows2, raw2, phys2 = view_dataset(imgs, "pixels", [0.1, 1.0], 2, **kw)
    np.testing.assert_array_equal(raw, raw2)
    np.testing.assert_array_equal(phys, phys2)
    assert len(rows) == 2 * 2 * 2 and raw.shape == (8, 32) and phys.shape == (8, 6 + 2)
    assert set(rows.loc[rows.f_index == 0, "n_visible"]) == {round(0.1 * 1024)}
    vol = [(0, "v", 0, rng.random((16, 16, 16)))]
    rows3, _, _ = view_dataset(vol, "section_window", [0.25], 3, **kw)
    assert (rows3["section_axis"] >= 0).all() and (rows3["n_visible"] == 64).all()


def _cfg(name):
    return yaml.safe_load((ROOT / name).read_text())


@pytest.mark.parametrize("name", ["config.yaml", "config/tiny.yaml", "config/paper.yaml"])
def test_shipped_configs_pass_the_stage_checks(name):
    cfg = _cfg(name)
    check_classification(cfg)
    table = section_structures(cfg)
    assert table["struct_id"].is_unique and len(table) >= 2


def test_stage_checks_name_the_key():
    cfg = _cfg("config/paper.yaml")
    cfg["classification"]["views"]["kinds"] = ["window"]
    with pytest.raises(ParameterError, match="classification.views.kinds.*3D"):
        check_classification(cfg)
    cfg = _cfg("config/tiny.yaml")
    cfg["classification"]["complexity"]["fraction"] = 0.5
    with pytest.raises(ParameterError, match="complexity.fraction=0.5"):
        check_classification(cfg)
    cfg = _cfg("config/tiny.yaml")
    cfg["classification"]["raw_grid"] = 64
    with pytest.raises(ParameterError, match="raw_grid=64"):
        check_classification(cfg)


# --------------------------------------------------------------------------
# 3D: labels of simple structures, sub-volume datasets, config checks
# --------------------------------------------------------------------------
def _grid3(n=24):
    x = np.arange(n)
    return np.meshgrid(x, x, x, indexing="ij")


def test_labels_of_3d_ball_rod_slab_and_gyroid():
    """Exact topology: a ball is one component (chi = +1, no wrap:
    droplets by both labels); a rod spanning the box along one axis and a
    slab spanning two are chi = 0 (a solid torus, a thickened 2-torus) and
    wrap: co-continuous; a gyroid labyrinth wraps along every axis with
    handles (chi < 0)."""
    n = 24
    z, y, x = _grid3(n)
    ball = (((z - 12) ** 2 + (y - 12) ** 2 + (x - 12) ** 2) <= 25).astype(float)
    lab = structure_labels(ball, level=0.5)
    assert lab["wraps"] == "000" and lab["label_percolation"] == 0
    assert lab["euler_density_minority"] * n**3 == pytest.approx(1.0, abs=1e-9)
    assert lab["label_euler"] == 0 and lab["labels_agree"] and lab["minority_is_rich"]
    rod = (((y - 12) ** 2 + (x - 12) ** 2) <= 16).astype(float)  # along axis 0
    lab = structure_labels(rod, level=0.5)
    assert lab["wraps"] == "100" and lab["label_percolation"] == 1
    assert lab["euler_density_minority"] == pytest.approx(0.0, abs=1e-12) and lab["label_euler"] == 1
    slab = ((x >= 4) & (x < 10)).astype(float)  # normal to axis 2
    lab = structure_labels(slab, level=0.5)
    assert lab["wraps"] == "110" and lab["label_percolation"] == 1
    assert lab["euler_density_minority"] == pytest.approx(0.0, abs=1e-12) and lab["label_euler"] == 1
    # the minority is found whichever phase it is (matrix around a ball)
    assert structure_labels(1 - ball, level=0.5)["label_percolation"] == 0
    k = 2 * np.pi / n
    g = (np.sin(k * x) * np.cos(k * y) + np.sin(k * y) * np.cos(k * z)
         + np.sin(k * z) * np.cos(k * x))
    lab = structure_labels(g, level=0.4)  # one labyrinth, ~36 % of the volume
    assert 0.2 < lab["minority_fraction"] < 0.45
    assert lab["wraps"] == "111" and lab["label_percolation"] == 1
    assert lab["euler_density_minority"] < 0 and lab["label_euler"] == 1


def test_class_balance():
    t = pd.DataFrame({"label_percolation": [1, 1, 1, 0], "label_euler": [1, 1, 1, 1]})
    assert class_balance(t, "percolation") == 0.25 and class_balance(t, "euler") == 0.0


def test_view_dataset_of_subvolumes():
    rng = np.random.default_rng(1)
    vol = [(0, "v", 0, rng.random((16, 16, 16))), (1, "w", 2, rng.random((16, 16, 16)))]
    kw = dict(seed=3, spacing=1.0, level="mean", radii=[0.5, 2, 4], raw_grid=2)
    for kind, k in (("subvolume_window", 4), ("subvolume_voxels", 5)):
        rows, raw, phys = view_dataset(vol, kind, [0.125, 1.0], 2, kind_index=k, **kw)
        rows2, raw2, phys2 = view_dataset(vol, kind, [0.125, 1.0], 2, kind_index=k, **kw)
        np.testing.assert_array_equal(phys, phys2)
        assert raw.shape == (8, len(raw_feature_names(2, 3))) == (8, 16)
        assert phys.shape == (8, len(physics_feature_names(2, 3))) == (8, 7 + 2)
        assert (rows["section_axis"] == -1).all()
        assert set(rows.loc[rows.f_index == 0, "n_visible"]) == {512}  # 8^3 or 512 voxels
        assert (rows.loc[rows.f_index == 1, "fraction"] == 1).all()


def test_features_file_names_3d_physics_columns(tmp_path):
    rows = pd.DataFrame({"group": ["a"], "snapshot": [0], "f_index": [0]})
    data = {"rows": rows, "raw": np.zeros((1, 16)), "physics": np.zeros((1, 7 + 3)),
            "kind": "subvolume_voxels"}
    save_features(tmp_path / "f.npz", data)
    back = load_features(tmp_path / "f.npz")
    assert back["physics_names"] == physics_feature_names(3, 3)
    assert "mean_curvature_density" in back["physics_names"]


def _cfg3d():
    cfg = _cfg("config/paper.yaml")
    c = cfg["classification"]
    c["views"]["kinds"] = ["subvolume_window", "subvolume_voxels", "section_window"]
    c["complexity"]["kind"] = "subvolume_window"
    return cfg


def test_stage_checks_of_3d_views():
    check_classification(_cfg3d())  # 3D study: sub-volume and section kinds together
    cfg = _cfg3d()
    cfg["classification"]["views"]["kinds"] = ["subvolume_voxels"]
    cfg["classification"]["complexity"]["kind"] = "subvolume_voxels"
    check_classification(cfg)
    cfg = _cfg3d()
    cfg["classification"]["views"]["kinds"] = ["window", "subvolume_window"]
    with pytest.raises(ParameterError, match=r"\['window'\].*use subvolume_window / subvolume_voxels"):
        check_classification(cfg)
    cfg = _cfg3d()
    cfg["classification"]["raw_grid_3d"] = cfg["simulation"]["grid"] + 1
    with pytest.raises(ParameterError, match="raw_grid_3d=.*exceeds the grid side"):
        check_classification(cfg)
    cfg = _cfg3d()
    cfg["classification"]["views"]["kinds"] = ["subvolume_window", "section_window"]
    cfg["classification"]["complexity"]["kind"] = "subvolume_voxels"
    with pytest.raises(ParameterError, match="complexity.kind='subvolume_voxels' is not in views.kinds"):
        check_classification(cfg)
    cfg = _cfg("config/tiny.yaml")  # a 2D study
    cfg["classification"]["views"]["kinds"] = ["window", "subvolume_window"]
    with pytest.raises(ParameterError, match=r"\['subvolume_window'\] are 3D views .* study.dimension is 2; "
                                             "use window / pixels"):
        check_classification(cfg)


def test_schema_accepts_the_3d_kinds():
    schema = ROOT / "workflow/schemas/config.schema.yaml"
    validate(_cfg3d(), schema)
    cfg = _cfg3d()
    cfg["classification"]["views"]["kinds"] = ["subvolume_cube"]
    with pytest.raises(ConfigError, match="subvolume_cube"):
        validate(cfg, schema)


def test_subvolume_stage_end_to_end(tmp_path):
    """The stage's library path with the 3D sub-volume kinds, as the rules
    call it: labels of 3D structure files (balls = droplets, rods =
    co-continuous), features of both kinds, a bootstrap batch of every
    model, the decomposition and the summary."""
    n = 16
    z, y, x = _grid3(n)
    paths = []
    for i, (phi0, kind) in enumerate([(0.2, "ball"), (0.2, "ball"), (0.4, "rod"), (0.4, "rod")]):
        snaps = []
        for t in range(3):
            r = 3 + t + (i % 2)
            c = (z - 8) ** 2 + (y - 8) ** 2 + (x - 8) ** 2 if kind == "ball" else (y - 8) ** 2 + (x - 8) ** 2
            snaps.append((c <= r * r).astype(np.float32) + 0.01 * np.float32(i))
        path = tmp_path / f"s{i}.npz"
        save_simulation(path, np.stack(snaps), {"times": [1.0, 2.0, 3.0], "sim_id": f"s{i}",
                                                "params": {"phi0": phi0, "dx": 2.0}})
        paths.append(str(path))
    labels = label_table(paths, level=0.5)
    assert (labels["label_percolation"] == (labels["phi0"] == 0.4)).all()
    assert (labels["label_euler"] == labels["label_percolation"]).all()
    settings = yaml.safe_load(yaml.safe_dump(_cfg3d()["classification"]))
    settings["views"]["fractions"] = [0.1, 1.0]
    settings["radii"] = [0.5, 4, 8, 16]
    settings["test_fraction"] = 0.5
    settings["bootstrap"].update(rounds=2, batch=2)
    settings["hyper"].update(knn_k=3, forest_trees=5, mlp_hidden=4, mlp_max_iter=20)
    preds = []
    for kind in ("subvolume_window", "subvolume_voxels"):
        data = build_features(paths, labels, kind=kind, settings=settings, seed=1, level="mean")
        assert data["raw"].shape[1] == 2 * settings["raw_grid_3d"] ** 3
        save_features(tmp_path / f"{kind}.npz", data)
        back = load_features(tmp_path / f"{kind}.npz")
        for feats in ("raw", "physics"):
            out = bootstrap_job(back, features=feats, batch=0, settings=settings, seed=1, source_index=0)
            preds.append(tmp_path / f"{kind}_{feats}.npz")
            save_predictions(preds[-1], out)
    table = decompose_predictions(preds)
    assert set(table["kind"]) == {"subvolume_window", "subvolume_voxels"}
    assert len(table) == 2 * 2 * len(settings["models"]) * 2
    page = classification_summary(biasvar=table, labels={"study snapshots": labels},
                                  sources={"biasvar": "bv.csv", "study snapshots": "l.csv"}, label="euler")
    assert "| subvolume_voxels | physics | 0.1 |" in page and "**Warning**" not in page
