"""Write ``examples/micrograph.png``, the example input of ``scattermorph characterise``.

A grey-level 2D image that looks like a micrograph of a phase-separated blend:
a smooth Gaussian random field (white noise filtered in Fourier space with a
Gaussian of width ``--length`` pixels), mapped to 8-bit grey levels, plus
pixel noise. It is not a simulation of the study; it gives ``characterise`` a
grey image that needs ``--threshold``.

Usage (from the repository root)::

    .venv/bin/python examples/make_micrograph.py
    .venv/bin/scattermorph characterise examples/micrograph.png --threshold mean --pixel-size 0.12 --open
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
SEED = 20211209


def micrograph(size: int = 128, length: float = 4.0, noise: float = 3.0, seed: int = SEED) -> np.ndarray:
    """The image as uint8: smoothed noise of correlation length ``length``
    pixels scaled to grey levels 40-215, plus Gaussian pixel noise of std
    ``noise`` grey levels."""
    rng = np.random.default_rng(seed)
    k = 2 * np.pi * np.fft.fftfreq(size)
    k2 = k[:, None] ** 2 + k[None, :] ** 2
    field = np.fft.ifft2(np.fft.fft2(rng.standard_normal((size, size))) * np.exp(-0.5 * k2 * length**2)).real
    field = (field - field.min()) / (field.max() - field.min())
    grey = 40 + 175 * field + rng.normal(0.0, noise, field.shape)
    return np.clip(np.rint(grey), 0, 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "micrograph.png"), help="PNG to write")
    args = parser.parse_args()
    Image.fromarray(micrograph()).save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
