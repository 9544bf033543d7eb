"""Pictures of 3D structures (scattermorph.plots.structures): the geometry is
checked against answers known without the code (areas of balls and
cylinders, planes of a field with a known pattern); the figures only have to
render."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from mpl_toolkits.mplot3d.art3d import Poly3DCollection

from scattermorph.errors import ParameterError
from scattermorph.plots import structures as ps
from scattermorph.plots.morphology import plot_coarsening, plot_gallery, plot_motivating_pair
from scattermorph.plots.save import save_figure

PNG = b"\x89PNG\r\n\x1a\n"


def smooth_ball(n, dx, r, centre, width=1.0):
    """Volume fraction of a ball of radius ``r`` (b) on a periodic ``n^3`` grid
    (sample i at i dx): a tanh profile of width ``width`` (b), 1/2 at radius r."""
    x = np.arange(n) * dx
    d = [np.minimum(np.abs(x - c), n * dx - np.abs(x - c)) for c in centre]  # periodic distance
    R = np.sqrt(d[0][:, None, None] ** 2 + d[1][None, :, None] ** 2 + d[2][None, None, :] ** 2)
    return 0.5 * (1 - np.tanh((R - r) / width))


def z_cylinder(n, r):
    """A cylinder of radius r along z through the whole periodic box (dx = 1)."""
    x = np.arange(n, dtype=float)
    R = np.sqrt((x[:, None] - n / 2) ** 2 + (x[None, :] - n / 2) ** 2)
    return np.repeat((0.5 * (1 - np.tanh(R - r)))[:, :, None], n, axis=2)


def random_field(n, seed=0, phi0=0.4):
    """A smooth random two-phase-like field in [0, 1] with mean ~phi0."""
    rng = np.random.default_rng(seed)
    k = np.fft.fftfreq(n)
    k2 = k[:, None, None] ** 2 + k[None, :, None] ** 2 + k[None, None, :] ** 2
    g = np.real(np.fft.ifftn(np.fft.fftn(rng.normal(size=(n, n, n))) * np.exp(-k2 * 200)))
    g = (g - g.mean()) / g.std()
    return 1 / (1 + np.exp(-4 * (g - np.quantile(g, 1 - phi0))))


# ---------------------------------------------------------------- sections
def test_sections_are_the_mid_planes_of_a_known_pattern():
    nx, ny, nz = 6, 8, 10
    i, j, k = np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz), indexing="ij")
    s = ps.orthogonal_sections(i.astype(float))  # phi = x index
    assert s["xy"].shape == (nx, ny) and s["xz"].shape == (nx, nz) and s["yz"].shape == (ny, nz)
    # x runs along the horizontal axis of xy and xz; yz is the plane x = nx // 2
    assert np.array_equal(s["xy"], np.repeat(np.arange(nx)[:, None], ny, axis=1))
    assert np.array_equal(s["xz"], np.repeat(np.arange(nx)[:, None], nz, axis=1))
    assert np.all(s["yz"] == nx // 2)
    s = ps.orthogonal_sections(k.astype(float))  # phi = z index
    assert np.all(s["xy"] == nz // 2)
    assert np.array_equal(s["yz"], np.repeat(np.arange(nz)[None, :], ny, axis=0))
    s = ps.orthogonal_sections(j.astype(float))  # phi = y index
    assert np.all(s["xz"] == ny // 2)
    with pytest.raises(ParameterError, match="need a 3D field"):
        ps.orthogonal_sections(np.zeros((4, 4)))


def test_draw_sections_puts_the_axes_in_b():
    f = np.zeros((8, 12, 16))
    fig, axes = plt.subplots(1, 3)
    ps.draw_sections(axes, f, 2.5)
    # xy: x in [0, 8 dx], y in [0, 12 dx]; xz: z up to 16 dx; yz: y across
    assert axes[0].get_xlim() == (0, 20) and axes[0].get_ylim() == (0, 30)
    assert axes[1].get_xlim() == (0, 20) and axes[1].get_ylim() == (0, 40)
    assert axes[2].get_xlim() == (0, 30) and axes[2].get_ylim() == (0, 40)
    assert [im.get_clim() for ax in axes for im in ax.images] == [(0.0, 1.0)] * 3  # one colour scale
    plt.close(fig)


# ---------------------------------------------------------------- isosurface
# Marching cubes puts vertices on the grid edges (linear interpolation) and
# joins them by flat triangles, i.e. chords of the curved surface: the area is
# a little short of the true one, by a relative amount of order (h / r)^2
# (measured: -0.33 % for r = 10 h, -1.1 % for r = 6 h, -1.4 % for r = 5 h).
# The tolerances below are ~3x those, far below the errors a wrong wrap, a
# missing layer or wrong units would make (a missing layer of a cylinder of
# length 32 h: -3 %; a factor dx: x4).
@pytest.mark.parametrize("centre", [(24.0, 24.0, 24.0), (0.0, 0.0, 0.0), (47.0, 3.0, 20.0)],
                         ids=["inside", "corner", "across-faces"])
def test_ball_area_is_four_pi_r_squared(centre):
    r, dx = 20.0, 2.0  # 10 cells
    f = smooth_ball(48, dx, r, [c * dx for c in centre], width=dx)
    verts, faces, info = ps.isosurface_mesh(f, dx, level=0.5, caps=False)
    assert info["phase_is_rich"] and info["cells"] == (48, 48, 48)
    assert np.allclose(info["box"], 96.0)
    assert verts.min() >= 0 and verts.max() <= 96.0
    assert ps.mesh_area(verts, faces) == pytest.approx(4 * np.pi * r**2, rel=0.01)
    # caps: a face plane at distance d < r from the centre cuts a disc of
    # radius sqrt(r^2 - d^2), drawn on that face and on the opposite one
    cut = 0.0
    for c in centre:
        d = min(c * dx, 96.0 - c * dx)
        cut += 2 * np.pi * max(r**2 - d**2, 0.0)
    v2, f2, _ = ps.isosurface_mesh(f, dx, level=0.5, caps=True)
    assert ps.mesh_area(v2, f2) == pytest.approx(4 * np.pi * r**2 + cut, rel=0.01)


@pytest.mark.parametrize("cells", [32, 40], ids=["block-mean", "interpolated"])
def test_coarsened_ball_area(cells):
    # 64^3 drawn on 32^3 (block means) or 40^3 (linear interpolation): r = 6 or
    # 7.5 coarse cells, tolerance 3 %
    f = smooth_ball(64, 1.0, 12.0, (0.0, 0.0, 0.0))
    verts, faces, info = ps.isosurface_mesh(f, 1.0, level=0.5, max_cells=cells, caps=False)
    assert info["cells"] == (cells,) * 3 and np.allclose(info["box"], 64.0)
    assert np.allclose(info["spacing"], 64.0 / cells)
    assert ps.mesh_area(verts, faces) == pytest.approx(4 * np.pi * 12.0**2, rel=0.03)


def test_resample_periodic_keeps_the_pattern():
    x = np.arange(48)
    f = np.broadcast_to(np.sin(2 * np.pi * x / 48)[:, None, None], (48, 24, 24))
    g = ps.resample_periodic(f, 16)  # blocks of 3
    assert g.shape == (16, 8, 8)
    # block means of a sine: the sine at the block centres times sinc(pi 3/48)/sinc(pi/48)
    xc = 3 * np.arange(16) + 1
    amp = np.sin(np.pi * 3 / 48) / (3 * np.sin(np.pi / 48))
    assert np.allclose(g[:, 0, 0], amp * np.sin(2 * np.pi * xc / 48))
    g = ps.resample_periodic(f, 20)  # interpolated: sample j at (j + 1/2) 48/20 - 1/2
    assert g.shape == (20, 10, 10)
    xs = (np.arange(20) + 0.5) * 48 / 20 - 0.5
    assert np.allclose(g[:, 0, 0], np.sin(2 * np.pi * xs / 48), atol=0.01)  # linear interp. error
    assert ps.resample_periodic(f, 64) is f or ps.resample_periodic(f, 64).shape == f.shape  # unchanged


def test_face_budget():
    f = random_field(48, seed=3, phi0=0.5)
    v, fa, info = ps.isosurface_mesh(f, 1.0, max_faces=10**9)
    assert info["cells"] == (48,) * 3 and len(fa) > 20_000
    budget = len(fa) // 4
    v, fa, info = ps.isosurface_mesh(f, 1.0, max_faces=budget)
    assert len(fa) <= budget and info["cells"][0] < 48  # coarser grid, fewer triangles
    assert v.min() >= 0 and v.max() <= 48.0


def test_periodic_wrap_closes_the_surface_at_the_box_faces():
    n, r = 32, 6.0
    f = z_cylinder(n, r)
    side = 2 * np.pi * r * n
    v, fa, _ = ps.isosurface_mesh(f, 1.0, level=0.5, caps=False)
    assert ps.mesh_area(v, fa) == pytest.approx(side, rel=0.01)  # the whole length n, open ends
    v, fa, _ = ps.isosurface_mesh(f, 1.0, level=0.5, caps=True)
    assert ps.mesh_area(v, fa) == pytest.approx(side + 2 * np.pi * r**2, rel=0.01)  # + 2 end caps
    # without the wrap one layer is missing: the check above can tell
    v, fa, _ = ps.isosurface_mesh(f, 1.0, level=0.5, caps=False, periodic=False)
    assert ps.mesh_area(v, fa) == pytest.approx(2 * np.pi * r * (n - 1), rel=0.01)


def test_minority_phase_and_levels():
    f = smooth_ball(32, 1.0, 6.0, (16.0, 16.0, 16.0))
    # a ball of the rich phase in a poor matrix: the minority is the rich phase
    assert ps.isosurface_mesh(f, 1.0, level="mean")[2]["phase_is_rich"]
    # the inverted field: the minority is the poor phase, same interface
    v1, f1, i1 = ps.isosurface_mesh(f, 1.0, level=0.5)
    v2, f2, i2 = ps.isosurface_mesh(1 - f, 1.0, level=0.5)
    assert not i2["phase_is_rich"] and ps.mesh_area(v1, f1) == pytest.approx(ps.mesh_area(v2, f2))
    assert i1["fraction"] == pytest.approx(4 / 3 * np.pi * 6.0**3 / 32**3, rel=0.05)
    # one phase everywhere: no triangles, no error
    v, fa, _ = ps.isosurface_mesh(np.full((8, 8, 8), 0.3), 1.0, level=0.5)
    assert v.shape == (0, 3) and fa.shape == (0, 3)
    with pytest.raises(ParameterError, match="cells = 2"):
        ps.isosurface_mesh(f, 1.0, max_cells=2)
    with pytest.raises(ParameterError, match="dx = -1"):
        ps.isosurface_mesh(f, -1.0)


def test_lambert_shading():
    verts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float)
    faces = np.array([[0, 1, 2], [0, 1, 3], [0, 0, 1]])  # xy plane, xz plane, degenerate
    s = ps.lambert_shading(verts, faces, [0, 0, 5], ambient=0.2)
    assert s == pytest.approx([1.0, 0.2, 0.2])  # facing the light; edge-on; degenerate
    s = ps.lambert_shading(verts, faces, [0, -1, 1], ambient=0.0)  # 45 degrees to both
    assert s[:2] == pytest.approx([np.sqrt(0.5)] * 2)
    assert ps.lambert_shading(verts, faces[:1], [0, 0, -1])[0] == pytest.approx(1.0)  # two-sided


# ---------------------------------------------------------------- figures
def _render(fig, path):
    save_figure(fig, path, dpi=60)
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 5_000


def test_3d_figures_render(tmp_path):
    fields = [random_field(24, seed=s, phi0=p) for s, p in [(0, 0.2), (1, 0.5), (2, 0.35)]]
    fig = plot_gallery(fields, ["a", "b", "c"], 2.0, suptitle="gallery")
    polys = [c for ax in fig.axes for c in ax.collections if isinstance(c, Poly3DCollection)]
    # one surface per structure, a bitmap inside the PDF copy (else tens of MB at 64^3)
    assert len(polys) == 3 and all(p.get_rasterized() for p in polys)
    save_figure(fig, tmp_path / "g.png", dpi=60, pdf=tmp_path / "g.pdf")
    assert (tmp_path / "g.png").read_bytes()[:8] == PNG
    assert (tmp_path / "g.pdf").read_bytes()[:5] == b"%PDF-"
    _render(ps.plot_gallery_3d(fields * 2, list("abcdef"), 2.0), tmp_path / "g6.png")  # 2 rows
    _render(ps.plot_sections(fields[0], 2.0), tmp_path / "s.png")
    _render(ps.plot_isosurface(fields[1], 2.0, title="one"), tmp_path / "i.png")
    q = np.geomspace(0.05, 1.5, 16)
    curves = np.vstack([np.exp(-((np.log(q / 0.3)) ** 2)) * 100, np.exp(-((np.log(q / 0.31)) ** 2)) * 50])
    curves[0, 3] = np.nan  # an empty bin is skipped
    rows = [{"volume_density": 0.2, "surface_density": 0.05, "mean_curvature_density": 1e-3,
             "euler_density": 1e-5, "q_peak": 0.3},
            {"volume_density": 0.5, "surface_density": 0.06, "mean_curvature_density": 0.0,
             "euler_density": -2e-5, "q_peak": 0.31}]
    _render(plot_motivating_pair(fields[:2], q, curves, rows, 2.0, ["drops\nq", "net\nq"]), tmp_path / "p.png")
    series = [("run", np.array([5.0, 10, 20]), np.array([10.0, 12, 15]))]
    _render(plot_coarsening(fields, [5.0, 10.0, 20.0], series, 2.0, title="c"), tmp_path / "c.png")


def test_2d_figures_keep_their_images(tmp_path):
    """2D fields still go to the image figures (no 3D axes)."""
    f2 = random_field(24)[:, :, 0]
    fig = plot_gallery([f2, f2], ["a", "b"], 1.0)
    assert not any(ax.name == "3d" for ax in fig.axes) and len(fig.axes[0].images) == 1
    _render(fig, tmp_path / "g2.png")
    fig = ps.plot_gallery_3d([random_field(16)], ["a"], 1.0)
    assert sum(ax.name == "3d" for ax in fig.axes) == 1
    _render(fig, tmp_path / "g3.png")


def test_boxes_of_different_cell_sizes_share_one_length_scale(tmp_path):
    """Runs of a sweep may have their own dx: the gallery and the pair draw
    every box on the scale of the largest (the smaller box looks smaller)."""
    f = random_field(16)
    fig = ps.plot_gallery_3d([f, f], ["dx 1", "dx 2"], [1.0, 2.0])
    planes = [ax for ax in fig.axes if ax.name != "3d" and ax.images]
    assert len(planes) == 6
    assert all(ax.get_xlim() == (0, 32.0) for ax in planes)  # the largest box: 16 x 2 b
    small = planes[0].images[0].get_extent()
    assert tuple(small) == (0, 16.0, 0, 16.0)  # the dx = 1 box itself spans 16 b
    boxes = [ax for ax in fig.axes if ax.name == "3d"]
    assert [ax.get_xlim()[1] for ax in boxes] == [16.0, 32.0]
    _render(fig, tmp_path / "g.png")
    with pytest.raises(ParameterError, match="3 cell sizes for 2 fields"):
        ps.plot_gallery_3d([f, f], ["a", "b"], [1.0, 2.0, 3.0])
    f2 = f[:, :, 0]
    _render(plot_gallery([f2, f2], ["a", "b"], [1.0, 2.0]), tmp_path / "g2.png")  # 2D too
