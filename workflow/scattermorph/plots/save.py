"""Saving figures: PNG and PDF with the provenance record embedded in both and written beside them (sidecars), atomically."""

from __future__ import annotations

import json
import warnings

import matplotlib.pyplot as plt  # noqa: E402

from scattermorph._io import atomic_write
from scattermorph.provenance.records import PDF_KEY, PNG_KEY, from_snakemake, sha256_file, write_sidecar


def save_figure(fig, path, *, dpi: int = 150, provenance: dict | None = None, pdf=None) -> None:
    """Save ``fig`` to ``path`` (and a vector copy to ``pdf``) atomically, then close it.

    The format follows the file suffix. With a ``provenance`` record
    (:mod:`scattermorph.provenance.records`) the record is embedded in the file itself,
    in the PNG text chunk ``scattermorph:provenance`` or in the PDF document
    information dictionary under the same key, and a sidecar
    ``<file>.prov.json`` holds the record and the file's sha256 (for
    ``scattermorph audit``). Matplotlib's version string and the PDF creation
    date are left out, so the bytes change only with the figure or its record
    (whose ``created`` timestamp is the one field that differs between reruns).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : path
        The raster figure (``.png``) or any format matplotlib writes.
    dpi : int
        Resolution of raster output.
    provenance : dict, optional
        The record of :func:`scattermorph.provenance.records.from_snakemake`.
    pdf : path, optional
        Also write the figure as PDF here, with the same record.
    """
    try:
        for target in [path] + ([pdf] if pdf is not None else []):
            _save_one(fig, target, dpi, provenance)
    finally:
        plt.close(fig)


def _save_one(fig, path, dpi, provenance) -> None:
    suffix = str(path).rsplit(".", 1)[-1].lower()
    meta = None
    if suffix == "png":
        meta = {"Software": None}
        if provenance is not None:
            meta[PNG_KEY] = json.dumps(provenance, sort_keys=True)
    elif suffix == "pdf":
        # no Producer (matplotlib's version) and no CreationDate: reruns give the same bytes
        meta = {"Creator": None, "Producer": None, "CreationDate": None}
        if provenance is not None:
            meta[PDF_KEY] = json.dumps(provenance, sort_keys=True)

    def write(tmp):
        with warnings.catch_warnings():
            # matplotlib warns about keys outside the PDF standard's list; the
            # PDF reference allows any key in the information dictionary
            warnings.filterwarnings("ignore", message="Unknown infodict keyword")
            fig.savefig(tmp, dpi=dpi, format=suffix, metadata=meta)

    atomic_write(path, write)
    if provenance is not None:
        write_sidecar(path, {"figure": str(path).rsplit("/", 1)[-1], "figure_sha256": sha256_file(path),
                             "record": provenance})


def save_job_figure(fig, smk, script) -> None:
    """Save the figure of a Snakemake figure job: ``smk.output.figure`` (PNG)
    and ``smk.output.pdf``, each with the job's provenance record embedded and
    in its sidecar, at ``smk.params.dpi``.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    smk : snakemake.script.Snakemake
        The job's ``snakemake`` object (outputs ``figure`` and ``pdf``).
    script : path
        The rule's script (``__file__``).
    """

    save_figure(fig, smk.output.figure, dpi=smk.params.dpi, provenance=from_snakemake(smk, script),
                pdf=smk.output.pdf)
