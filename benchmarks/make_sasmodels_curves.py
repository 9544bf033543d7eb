"""Compute the noise-free curves of other structures that test the applicability check.

Run once, in an environment with sasmodels (``pip install sasmodels``; it compiles
its C kernels with the system compiler), from the repository root::

    python benchmarks/make_sasmodels_curves.py [--per-family 26] [--out tests/data/sasmodels_curves.npz]

Every family is a sasmodels model (SasView's fitting library, an independent code:
https://github.com/SasView/sasmodels) with parameters drawn from physically
sensible ranges by a seeded numpy Generator, on a log-spaced q grid of a random
SANS/SAXS-like sub-range of 0.001-1 1/A. The curves are stored noise-free
(``log10 I`` as float32, concatenated; ``offsets`` index the curves); the tests
and ``benchmarks/bench_applicability.py`` add resolution, noise and a flat
background from their own seed. Beside the arrays the file keeps the sasmodels
version, each curve's model name and parameters (JSON) and this script's seed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SEED = 20261207


def _lu(rng, lo, hi):
    """Log-uniform draw in [lo, hi]."""
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _sphere(rng):
    return {"radius": _lu(rng, 10, 500), "radius_pd": rng.uniform(0, 0.3), "radius_pd_n": 35}


def _core_shell_sphere(rng):
    return {"radius": _lu(rng, 20, 300), "thickness": _lu(rng, 5, 60), "sld_core": rng.uniform(-1, 7),
            "sld_shell": rng.uniform(-1, 7), "sld_solvent": rng.uniform(-0.5, 6.4),
            "radius_pd": rng.uniform(0, 0.25), "radius_pd_n": 35}


def _cylinder(rng):
    return {"radius": _lu(rng, 10, 200), "length": _lu(rng, 50, 3000), "radius_pd": rng.uniform(0, 0.3),
            "radius_pd_n": 25}


def _core_shell_cylinder(rng):
    return {"radius": _lu(rng, 10, 150), "thickness": _lu(rng, 5, 50), "length": _lu(rng, 50, 3000),
            "sld_core": rng.uniform(-1, 7), "sld_shell": rng.uniform(-1, 7), "sld_solvent": rng.uniform(-0.5, 6.4),
            "radius_pd": rng.uniform(0, 0.25), "radius_pd_n": 25}


def _ellipsoid(rng):
    return {"radius_polar": _lu(rng, 10, 500), "radius_equatorial": _lu(rng, 10, 500),
            "radius_polar_pd": rng.uniform(0, 0.2), "radius_polar_pd_n": 15}


def _vesicle(rng):
    return {"radius": _lu(rng, 50, 1000), "thickness": _lu(rng, 20, 80), "radius_pd": rng.uniform(0, 0.3),
            "radius_pd_n": 35}


def _polymer_micelle(rng):
    return {"radius_core": _lu(rng, 20, 100), "rg": _lu(rng, 5, 40), "n_aggreg": _lu(rng, 5, 200),
            "d_penetration": rng.uniform(0.5, 1.5), "sld_core": rng.uniform(0, 2), "sld_corona": rng.uniform(0, 2),
            "sld_solvent": rng.uniform(4, 6.4)}


def _hardsphere(rng):
    return {"radius": _lu(rng, 10, 300), "volfraction": rng.uniform(0.05, 0.5), "radius_pd": rng.uniform(0, 0.2),
            "radius_pd_n": 35}


def _sticky(rng):
    return {"radius": _lu(rng, 10, 300), "volfraction": rng.uniform(0.05, 0.4), "perturb": rng.uniform(0.01, 0.1),
            "stickiness": _lu(rng, 0.1, 2.0), "radius_pd": rng.uniform(0, 0.2), "radius_pd_n": 35}


def _hayter(rng):
    return {"radius": _lu(rng, 10, 100), "volfraction": rng.uniform(0.01, 0.3), "charge": rng.uniform(5, 100),
            "concentration_salt": _lu(rng, 1e-4, 0.1)}


def _lamellar_stack(rng):
    d = _lu(rng, 30, 500)
    return {"d_spacing": d, "thickness": d * rng.uniform(0.1, 0.6), "Nlayers": int(rng.integers(3, 50)),
            "sigma_d": d * rng.uniform(0, 0.3)}


def _lorentz(rng):
    return {"cor_length": _lu(rng, 5, 500)}


def _power_law(rng):
    return {"power": rng.uniform(1, 4.5)}


def _two_power_law(rng):
    return {"crossover": _lu(rng, 0.005, 0.2), "power_1": rng.uniform(1, 3), "power_2": rng.uniform(2.5, 4.5)}


def _guinier_porod(rng):
    return {"rg": _lu(rng, 10, 500), "s": rng.uniform(0, 2), "porod_exp": rng.uniform(2, 4.5)}


def _gauss_coil(rng):
    return {"rg": _lu(rng, 10, 300), "i_zero": 1.0}


def _poly_coil(rng):
    return {"rg": _lu(rng, 10, 300), "i_zero": 1.0, "polydispersity": rng.uniform(1.0, 3.0)}


def _correlation_length(rng):
    return {"lorentz_scale": _lu(rng, 1, 100), "porod_scale": _lu(rng, 1e-8, 1e-4), "cor_length": _lu(rng, 5, 300),
            "porod_exp": rng.uniform(2, 4), "lorentz_exp": rng.uniform(1.5, 3)}


def _gauss_lorentz_gel(rng):
    return {"gauss_scale": _lu(rng, 1, 1000), "cor_length_static": _lu(rng, 20, 500),
            "lorentz_scale": _lu(rng, 1, 100), "cor_length_dynamic": _lu(rng, 5, 100)}


def _mass_fractal(rng):
    return {"radius": _lu(rng, 5, 50), "fractal_dim_mass": rng.uniform(1.5, 3.0), "cutoff_length": _lu(rng, 100, 3000)}


def _surface_fractal(rng):
    return {"radius": _lu(rng, 5, 50), "fractal_dim_surf": rng.uniform(2.0, 2.9), "cutoff_length": _lu(rng, 100, 3000)}


def _fractal(rng):
    return {"radius": _lu(rng, 3, 30), "fractal_dim": rng.uniform(1.5, 3.0), "cor_length": _lu(rng, 50, 2000)}


def _teubner_strey(rng):
    d = _lu(rng, 20, 800)
    k_xi = _lu(rng, 0.5, 20)  # 2 pi xi / d: from one-phase-like (no peak) to well-ordered microemulsions
    return {"d": d, "xi": k_xi * d / (2 * np.pi), "volfraction_a": rng.uniform(0.1, 0.9)}


def _broad_peak(rng):
    return {"peak_pos": _lu(rng, 0.005, 0.3), "correlation_length": _lu(rng, 5, 500), "width_exp": rng.uniform(1, 4),
            "shape_exp": rng.uniform(0.5, 3), "porod_exp": rng.uniform(1, 4), "porod_scale": _lu(rng, 1e-8, 1e-4),
            "peak_scale": 10.0}


def _spinodal(rng):
    return {"q_0": _lu(rng, 0.003, 0.3), "gamma": rng.uniform(2, 6)}


#: family -> (sasmodels model name, parameter draw)
FAMILIES = {
    "sphere": ("sphere", _sphere), "core_shell_sphere": ("core_shell_sphere", _core_shell_sphere),
    "cylinder": ("cylinder", _cylinder), "core_shell_cylinder": ("core_shell_cylinder", _core_shell_cylinder),
    "ellipsoid": ("ellipsoid", _ellipsoid), "vesicle": ("vesicle", _vesicle),
    "polymer_micelle": ("polymer_micelle", _polymer_micelle),
    "sphere@hardsphere": ("sphere@hardsphere", _hardsphere),
    "sphere@stickyhardsphere": ("sphere@stickyhardsphere", _sticky),
    "sphere@hayter_msa": ("sphere@hayter_msa", _hayter),
    "lamellar_stack_paracrystal": ("lamellar_stack_paracrystal", _lamellar_stack),
    "lorentz": ("lorentz", _lorentz), "power_law": ("power_law", _power_law),
    "two_power_law": ("two_power_law", _two_power_law), "guinier_porod": ("guinier_porod", _guinier_porod),
    "mono_gauss_coil": ("mono_gauss_coil", _gauss_coil), "poly_gauss_coil": ("poly_gauss_coil", _poly_coil),
    "correlation_length": ("correlation_length", _correlation_length),
    "gauss_lorentz_gel": ("gauss_lorentz_gel", _gauss_lorentz_gel),
    "mass_fractal": ("mass_fractal", _mass_fractal), "surface_fractal": ("surface_fractal", _surface_fractal),
    "fractal": ("fractal", _fractal),
    "broad_peak": ("broad_peak", _broad_peak),
    "teubner_strey": ("teubner_strey", _teubner_strey), "spinodal": ("spinodal", _spinodal),
}


def q_grid(rng) -> np.ndarray:
    """A SANS/SAXS-like log-spaced q grid: 1-2.5 decades within 0.001-1 1/A, 60-150 points."""
    qmin = _lu(rng, 0.001, 0.03)
    qmax = min(1.0, qmin * _lu(rng, 10, 300))
    return np.geomspace(qmin, qmax, int(rng.integers(60, 151)))


def compute(per_family: int, seed: int = SEED):
    """Curves of every family: (log10 I float32 concatenated, offsets, q ranges, records)."""
    from sasmodels.core import load_model
    from sasmodels.data import empty_data1D
    from sasmodels.direct_model import DirectModel

    rng = np.random.default_rng(seed)
    chunks, ranges, records = [], [], []
    for family, (name, draw) in FAMILIES.items():
        kernel = load_model(name)
        made = 0
        while made < per_family:
            q = q_grid(rng)
            pars = {k: (float(v) if not isinstance(v, int) else v) for k, v in draw(rng).items()}
            intensity = DirectModel(empty_data1D(q), kernel)(scale=1.0, background=0.0, **pars)
            if not (np.all(np.isfinite(intensity)) and np.all(intensity > 0)):
                continue  # a draw where the model has no positive intensity everywhere: draw again
            chunks.append(np.log10(intensity).astype(np.float32))
            ranges.append((q[0], q[-1], q.size))
            records.append({"family": family, "model": name, "parameters": pars})
            made += 1
    offsets = np.concatenate([[0], np.cumsum([c.size for c in chunks])])
    return np.concatenate(chunks), offsets, np.array(ranges), records


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-family", type=int, default=26)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", default="tests/data/sasmodels_curves.npz")
    args = ap.parse_args(argv)
    import sasmodels

    log_i, offsets, ranges, records = compute(args.per_family, args.seed)
    meta = {"sasmodels_version": sasmodels.__version__, "seed": args.seed, "per_family": args.per_family,
            "q_unit": "1/A", "q_grid": "numpy.geomspace(q_min, q_max, n)", "intensity": "log10 I, scale 1, "
            "background 0, float32", "script": "benchmarks/make_sasmodels_curves.py", "curves": records}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, log10_intensity=log_i, offsets=offsets, q_min=ranges[:, 0], q_max=ranges[:, 1],
                        n_points=ranges[:, 2].astype(int), meta=np.array(json.dumps(meta)))
    print(f"{len(records)} curves of {len(FAMILIES)} families -> {args.out} ({Path(args.out).stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
