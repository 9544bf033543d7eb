"""What ``scattermorph infer`` does with a measured curve, before and around the posterior.

The same policy as ``scattermorph predict`` (:mod:`scattermorph.predict.apply`)
where the two meet: a curve that cannot come from a phase-separated blend is
refused with its reason, or flagged (:func:`scattermorph.predict.apply.check_applicability`);
a flat background is fitted with the shipped model's training shapes
(:func:`scattermorph.predict.background.fit_background`) unless one is given.
The posterior is then conditional on the fitted background; its uncertainty
is reported beside it, not integrated over (a second posterior at B +- sigma
shows how much it matters: see ``docs/inference.md``). A curve covering only
part of the feature window is inferred from the feature points it covers
(:meth:`scattermorph.infer.posterior.ScatteringEmulator.covered_scores`), in
the likelihood and the posterior predictive check alike, and refused on a
window narrower than :data:`scattermorph.infer.posterior.INFER_WINDOW`.
"""

from __future__ import annotations

from scattermorph.errors import InputFileError, ParameterError
from scattermorph.learn.features import SCALE_COLUMNS
from scattermorph.predict.apply import check_applicability
from scattermorph.predict.background import fit_background
from scattermorph.predict.modelfile import load_shipped_model
from scattermorph.sas.curves import Curve, positive_for_logs

__all__ = ["curve_background", "infer_curve"]


def curve_background(curve: Curve, background=None, model=None) -> dict:
    """The flat background to subtract from a curve before inference.

    Parameters
    ----------
    curve : Curve
    background : float, optional
        Given by the user (``--background``, units of the curve's I): used as is.
    model : FunctionalModel, optional
        The scale-free model whose training shapes fit the background
        (default: the shipped model).

    Returns
    -------
    dict
        ``value``, ``sigma`` (units of I), ``determined``, ``method``.
    """
    if background is not None:
        return {"value": float(background), "sigma": 0.0, "determined": True, "method": "given (--background)"}
    if model is None:
        model, _ = load_shipped_model()
    if model.kind not in SCALE_COLUMNS:
        return {"value": 0.0, "sigma": 0.0, "determined": False,
                "method": "none (the model reads the absolute intensity; give --background)"}
    return fit_background(model, curve.q, curve.intensity, curve.error)


def infer_curve(cal, curve: Curve, *, n_grid=32, background=None, model=None) -> dict:
    """The posterior of one measured curve, with the applicability and fit checks.

    Parameters
    ----------
    cal : StudyCalibration
        The emulator (:func:`scattermorph.infer.emulatorfile.load_shipped_emulator`
        or :func:`scattermorph.infer.posterior.study_calibration`).
    curve : Curve
        As read (:func:`scattermorph.sas.curves.read_curve`).
    n_grid : int
        Grid cells per parameter.
    background : float, optional
        The curve's flat background; None: fitted (:func:`curve_background`).
    model : FunctionalModel, optional
        For the applicability dimension and the background fit (default: shipped).

    Returns
    -------
    dict
        :meth:`StudyCalibration.infer`'s result (``grid`` included) plus
        ``applicability`` (verdict, reasons, diagnostics) and
        ``background_fit`` and ``window`` (the q/q1 range the curve covers,
        the feature points used); a flagged curve's reasons are the first
        warning of ``checks["warnings"]``, a partial window's note follows.

    Raises
    ------
    InputFileError
        The curve has no peak a phase-separated blend would show (the reasons in the message), or covers a
        window of q/q1 narrower than :data:`scattermorph.infer.posterior.INFER_WINDOW`.
    """
    applicable = check_applicability(curve, cal.ndim, task="infer")
    logs_ok = positive_for_logs(curve)
    bg = curve_background(logs_ok, background, model)
    try:
        res = cal.infer(logs_ok.q, logs_ok.intensity, n_grid=n_grid, background=bg["value"], window=True)
    except ParameterError as exc:  # a window too narrow for a calibrated posterior
        raise InputFileError(f"{curve.source}: {exc}") from None
    res["applicability"] = applicable.to_dict()
    res["background_fit"] = bg
    notes = []
    if applicable.verdict == "flagged":
        notes.append(f"MAY NOT BE A PHASE-SEPARATED BLEND: {applicable.text()}")
    win = res.get("window") or {}
    if win.get("partial"):
        notes.append(f"the curve covers q/q1 in [{win['x_range'][0]:.3g}, {win['x_range'][1]:.3g}]: the likelihood "
                     f"and the fit check use the {win['covered_points']} of {win['n_points']} feature points it "
                     "covers (docs/inference.md, 'The q range there is')")
    if not bg["determined"]:
        notes.append(f"the background is not determined by the curve's shape; taken as {bg['value']:.3g} +- "
                     f"{bg['sigma']:.3g}: give --background if you know it (0 for subtracted data)")
    res["checks"]["warnings"][:0] = notes
    return res
