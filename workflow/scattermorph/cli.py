"""Command-line interface: ``scattermorph <command> ...``.

Commands
--------
characterise IMAGE
    Minkowski functionals and S(q) of a 2D image (PNG, TIFF, .npy) or a 3D
    stack (multi-page TIFF, .npy).
audit [PATH ...]
    Check every figure's provenance record: tampered (the file no longer
    matches its record) or stale (an input, the script or the library code
    changed); exit status 1 if any.
predict CURVE [--model MODEL]
    Minkowski densities, with standard deviations, of a measured 1D
    scattering curve (NXcanSAS, canSAS 1D XML, NIST 6-column or text columns
    q, I(q) [, dI]) from a trained model (default: the shipped
    models/default.npz; ``--about`` describes it), refitted for the curve's
    q resolution dQ/q when it states one (or ``--resolution``); ``--plot``
    draws the curve, the feature window and the predictions.
infer CURVE [--study DIR]
    Posterior over the blend's composition phi0, quench depth chi/chi_s and
    age t/tau given a curve (any format predict reads), through an emulator
    of the scattering trained on a study's simulations (default: the shipped
    models/emulator.npz; ``--about`` describes it); the absolute length
    2 pi / q1 and the Minkowski densities the posterior implies; a posterior
    predictive check (exit status 3 when the emulator does not fit the
    curve) and warnings when the posterior piles up at the prior's edge.
train TABLE --out MODEL
    Fit the Gaussian-process models to a user's table of curves and densities.
cahn FOLDER
    Cahn's linear theory from a folder of time-stamped curves of a quenched
    blend: the early growth rate R(q) per q, the Cahn plot R/q^2 against q^2
    (critical and fastest wavenumbers; with phi0, N and the segment length the
    mobility, f'' and chi/chi_s) and the late-stage growth exponent.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from scattermorph import __version__
from scattermorph._io import atomic_write
from scattermorph.errors import InputFileError, ParameterError
from scattermorph.learn.estimators import GP_KERNELS

# Each command imports the library modules it needs inside its own function, not here: a command then pays
# only for its own start-up. Importing every command's modules (the audit's emulator checks with scipy.stats,
# matplotlib for the plots, numba for the image measurements) took 2.9 s of a 3.4 s cached ``predict`` call
# on 2 cores (python -X importtime; benchmarks/bench_predict.py).

__all__ = ["main", "build_parser"]


# --------------------------------------------------------------------------
# argument types
# --------------------------------------------------------------------------
def _connectivity(text):
    """--connectivity: an integer (which ones the dimension allows is checked by the measurement)."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid connectivity {text!r}") from None


def _columns(text):
    """--columns: 1-based column numbers "1,2[,3]" as 0-based indices of q, I[, dI]."""
    try:
        cols = [int(c) - 1 for c in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid --columns {text!r}: give 1-based numbers, e.g. 1,2,3") from None
    if not 2 <= len(cols) <= 3 or min(cols) < 0:
        raise argparse.ArgumentTypeError(f"invalid --columns {text!r}: 2 or 3 numbers >= 1 (q, I[, dI])")
    return cols


# --------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------
def _cmd_characterise(args) -> int:
    from scattermorph.measure.images import characterise, read_image

    img = read_image(args.image)
    out = characterise(
        img,
        pixel_size=args.pixel_size,
        threshold=args.threshold,
        periodic=not args.open,
        connectivity=args.connectivity,
        q_bins=args.q_bins,
    )
    out["file"] = str(args.image)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"{args.image}: {out['dimension']}D {tuple(out['shape'])}, pixel size "
              f"{out['pixel_size']:g}, {'periodic' if out['periodic'] else 'open'} boundaries")
        if out["threshold_level"] is not None:
            print(f"threshold level: {out['threshold_level']:g}")
        for k, v in out["functionals"].items():
            print(f"  {k:24s} {v: .6g}")
        s = out["scattering"]
        print(f"  {'characteristic_length':24s} {s['characteristic_length']: .6g}")
        print(f"  {'invariant':24s} {s['invariant']: .6g}")
        print("  (S(q) with --json)")
    return 0


def _cmd_audit(args) -> int:
    from scattermorph.audit import audit

    notes = []
    paths = args.paths or (["results"] + (["models"] if Path("models").is_dir() else []))
    try:
        problems, n = audit(paths, params=args.params, configfile=args.configfile, notes=notes)
    except FileNotFoundError as exc:
        raise InputFileError(str(exc)) from None
    for line in problems:
        print(line)
    for line in notes:
        print(line, file=sys.stderr)
    print(f"{n} file(s) checked, {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


def _predict_log(message) -> None:
    """Progress notes of predict (a refit) on stderr."""
    print(f"scattermorph predict: note: {message}", file=sys.stderr)


def _write_predictions(args, results) -> bool:
    """The --csv and --json outputs; True when one of them was printed instead of the table."""
    from scattermorph.predict.apply import results_table

    if args.csv is not None:
        table = results_table(results)
        if args.csv == "-":
            print(table.to_csv(index=False), end="")
            return True
        table.to_csv(args.csv, index=False)
    if args.json is not None:
        doc = results[0].doc if len(results) == 1 else {"curves": [r.doc for r in results]}
        text = json.dumps(doc, indent=2)
        if args.json == "-":
            print(text)
            return True
        Path(args.json).write_text(text + "\n")
    return False


def _print_prediction(result, label, base) -> None:
    """The table of one curve: its source, resolution, the model, its domain and the densities."""
    from scattermorph.predict.model import domain_text

    curve, pred, info = result.curve, result.prediction, result.prediction.info
    name = f"{curve.source}" if curve.entry is None or curve.entry in curve.source else f"{curve.source} [{curve.entry}]"
    r = result.doc["resolution"] or {}
    if r.get("used") and r["relative_used"] > 0:
        res = f", resolution dQ/q = {r['relative_used']:g} from {r['source']}: model refitted on smeared curves"
    elif curve.dq is not None:
        res = ", dQ given (all zero: none used)" if np.all(curve.dq == 0) else ", dQ given (not used)"
    else:
        res = ", no resolution (model trained on ideal curves)"
    print(f"{name}: {info['n_points']} points, q in {info['q_unit']}{res}; model {label} "
          f"({base.kind}, {base.ndim}D, {base.X.shape[0]} training curves)")
    print(f"  training domain: {domain_text(info['training_domain'])}")
    if not info["in_domain"]:
        print("  OUT OF TRAINING DOMAIN: numbers below are not trustworthy (see warnings)")
    bg, win = info.get("background"), info.get("window") or {}
    if bg is not None:
        how = ("given" if bg["method"].startswith("given") else
               "fitted" + ("" if bg["determined"] else ", NOT DETERMINED by the curve's shape"))
        unit = f" {curve.intensity_unit}" if curve.intensity_unit else " (units of I)"
        print(f"  background: {bg['value']:.4g} +- {bg['sigma']:.2g}{unit} ({how}; subtracted)")
    if win.get("refit"):
        lo, hi = win["x_range"]
        print(f"  window: the curve covers q/q1 in [{lo:g}, {hi:g}]: model refitted on that window; "
              "cross-validated R^2 there (with this curve's background and noise errors): "
              + ", ".join(f"{k} {v['r2_window']:.3f} ({v['r2_effective']:.3f})" for k, v in win["accuracy"].items()))
    for f in pred.table.itertuples():
        if f.functional in info.get("refused", {}):
            acc = info["refused"][f.functional]
            print(f"  {f.functional:24s} refused: R^2 {acc['r2_window']:.3f} on this window (< {win['min_r2']:g})")
            continue
        print(f"  {f.functional:24s} {f.mean: .5g} +- {f.std:.3g}  [{f.unit}]")


def _cmd_predict(args) -> int:
    from scattermorph.predict.apply import about_text, apply_model, base_model, read_curve_files
    from scattermorph.predict.background import check_background

    if args.resolution is not None and not (0 <= args.resolution < 1):
        raise ParameterError(f"--resolution {args.resolution:g}: give the relative resolution dQ/q in [0, 1), "
                             "e.g. 0.1 for 10 %")
    background = None if args.background is None else check_background(args.background)
    base, path, label = base_model(args.model)
    if args.about:
        print(about_text(base, path, shipped=args.model is None))
        return 0
    if args.curve is None:
        raise ParameterError("give a CURVE (a file, a folder or a quoted glob), or --about")
    curves = read_curve_files(args.curve, q_unit=args.q_unit, columns=args.columns, entry=args.entry)
    if args.csv is not None and args.csv == "-" and args.json == "-":
        raise InputFileError("--csv - and --json - both print to stdout: write one of them to a file")
    if args.plot is not None and len(curves) != 1:
        raise ParameterError(f"--plot draws one curve; CURVE gives {len(curves)} (pick one with --entry, or "
                             "use --csv for many)")
    # every curve is read and predicted before anything is written
    results = apply_model(base, curves, label=label, resolution=args.resolution, background=background,
                          cache_dir=args.cache_dir, n_draws=args.draws, log=_predict_log)
    if args.plot is not None:
        from scattermorph.plots.predict import predict_figure  # matplotlib: only when a figure is asked for
        from scattermorph.plots.save import save_figure

        save_figure(predict_figure(results[0].curve, results[0].prediction, results[0].model), args.plot)
    for r in results:
        for w in r.prediction.warnings:
            print(f"scattermorph predict: warning: {w}", file=sys.stderr)
    if not _write_predictions(args, results):
        for r in results:
            _print_prediction(r, label, base)
    return 0


#: exit status of ``infer`` when the emulator does not fit the curve (the posterior predictive check fails)
EXIT_MISFIT = 3


def _infer_model(args):
    """(calibration model, label) of infer: the study's (``--study``) or the shipped emulator."""
    from scattermorph.infer.emulatorfile import load_shipped_emulator
    from scattermorph.infer.posterior import study_calibration

    if args.study is None:
        cal, path = load_shipped_emulator()
        return cal, f"shipped emulator {path}", path
    cal = study_calibration(args.study, cache_dir=args.cache_dir,
                            log=lambda m: print(f"scattermorph infer: note: {m}", file=sys.stderr))
    return cal, f"study {args.study}", None


def _cmd_infer(args) -> int:
    from scattermorph.infer.apply import infer_curve
    from scattermorph.infer.emulatorfile import about_emulator
    from scattermorph.predict.background import check_background
    from scattermorph.sas.curves import read_curve

    if not 8 <= args.grid <= 80:
        raise ParameterError(f"--grid {args.grid}: give 8 to 80 cells per parameter (default 32)")
    background = None if args.background is None else check_background(args.background)
    if args.about:
        if args.study is not None:
            raise ParameterError("--about describes the shipped emulator: leave out --study")
        cal, _, path = _infer_model(args)
        print(about_emulator(cal, path, shipped=True))
        return 0
    if not args.curve:
        raise ParameterError("give a CURVE (a file), several curves of one quench or a folder of them, or --about")
    if len(args.curve) > 1 or Path(args.curve[0]).is_dir():
        return _cmd_infer_series(args, background)
    if args.times is not None:
        raise ParameterError("--times dates the curves of a series: give a folder of curves with it")
    args.curve = args.curve[0]
    curve = read_curve(args.curve, q_unit=args.q_unit, columns=args.columns, entry=args.entry)
    cal, label, _ = _infer_model(args)
    # everything computed before anything is written
    res = infer_curve(cal, curve, n_grid=args.grid, background=background)
    post = res.pop("grid")
    checks = res["checks"]
    doc = dict(res, curve=str(args.curve), entry=curve.entry, format=curve.format, q_unit=curve.q_unit,
               study=str(args.study) if args.study is not None else None, emulator=label, ndim=cal.ndim,
               n_training_snapshots=int(cal.emulator.X_train.shape[0]), n_components=cal.emulator.k,
               grid_cells_per_parameter=args.grid, warnings=list(curve.warnings) + checks["warnings"])
    if args.plot is not None:
        from scattermorph.plots.inference import inference_figure  # matplotlib: only when a figure is asked for
        from scattermorph.plots.save import save_figure

        save_figure(inference_figure(post, res), args.plot)
    for w in checks["warnings"]:
        print(f"scattermorph infer: warning: {w}", file=sys.stderr)
    status = 0 if checks["fits"] else EXIT_MISFIT
    if args.json is not None:
        text = json.dumps(doc, indent=2)
        if args.json == "-":
            print(text)
            return status
        Path(args.json).write_text(text + "\n")
    _print_posterior(curve, cal, label, res)
    return status


def _cmd_infer_series(args, background) -> int:
    """infer on a series of curves of one quench: the joint posterior of phi0 and chi/chi_s."""
    from scattermorph.infer.posterior import PARAM_LABELS
    from scattermorph.infer.series import infer_series, series_files
    from scattermorph.sas.curves import read_curve

    if args.plot is not None:
        raise ParameterError("--plot draws one curve's posterior: leave it out for a series (the JSON has the "
                             "marginals)")
    files, stamps = series_files(args.curve, times=args.times)
    if args.ages == "free":
        stamps = None
    curves = [read_curve(f, q_unit=args.q_unit, columns=args.columns, entry=args.entry) for f in files]
    cal, label, _ = _infer_model(args)
    res = infer_series(cal, curves, times=stamps, n_grid=args.grid, background=background)
    res.pop("grid")
    for w in res["warnings"]:
        print(f"scattermorph infer: warning: {w}", file=sys.stderr)
    doc = dict(res, times=None if stamps is None else stamps.tolist(), study=args.study, emulator=label,
               ndim=cal.ndim, n_components=cal.emulator.k, grid_cells_per_parameter=args.grid)
    status = 0 if res["fits"] else EXIT_MISFIT
    if args.json is not None:
        text = json.dumps(doc, indent=2, default=float)
        if args.json == "-":
            print(text)
            return status
        Path(args.json).write_text(text + "\n")
    p = res["posterior"]
    how = ("ages from the time stamps' ratios, the time unit free" if res["mode"] == "timed"
           else "each curve's age free")
    print(f"{len(curves)} curves of one quench ({how}); {cal.ndim}D {label}, {cal.emulator.k} components")
    print(f"  joint posterior ({int(p['level'] * 100)} % credible intervals; prior uniform over the training box):")
    for name, r in p["params"].items():
        label_ = "log10 t/tau, first" if name == "log10_t" else PARAM_LABELS[name]
        print(f"  {label_:18s} mean {r['mean']:.4g}  median {r['median']:.4g}  central [{r['central'][0]:.4g}, "
              f"{r['central'][1]:.4g}]  width/prior {r['width_ratio']:.2f}")
    for rec in res["curves"]:
        a, ppc = rec["age_log10_t"], rec["checks"]["ppc"]
        print(f"    {Path(rec['curve']).name}: log10 t/tau {a['median']:.3g} [{a['central'][0]:.3g}, "
              f"{a['central'][1]:.3g}], fit check p {ppc['p_value']:.3g}")
    return status


def _print_posterior(curve, cal, label, res) -> None:
    """The text output of infer: the fit check, the posterior, the length scale and the densities."""
    from scattermorph.infer.posterior import PARAM_LABELS

    p, ppc = res["posterior"], res["checks"]["ppc"]
    print(f"{curve.source}: {cal.ndim}D {label} ({cal.emulator.X_train.shape[0]} snapshots, "
          f"{cal.emulator.k} principal components of the scale-free features)")
    verdict = "passed" if ppc["passed"] else "FAILED: the emulator does not fit this curve; numbers below describe no simulation"
    floor = ppc["p_value"] <= 1 / (ppc["n_reference"] + 1)  # the smallest p the reference draws resolve
    shown = f"<= {ppc['p_value']:.2g} (uncalibrated {ppc['p_gms']:.2g})" if floor else f"= {ppc['p_value']:.3g}"
    print(f"  fit check: posterior predictive p {shown}, threshold {ppc['threshold']:g}; chi^2 "
          f"{ppc['chi2_mode']:.3g} over {ppc['dof']} components at the best fit: {verdict}")
    bg = res.get("background_fit") or {"value": res["background"], "sigma": 0.0, "method": "given"}
    if bg["value"] or bg["sigma"]:
        print(f"  flat background subtracted: {bg['value']:.4g} +- {bg['sigma']:.2g} "
              f"[{curve.intensity_unit or 'intensity unit'}] ({bg['method']})")
    print(f"  posterior ({int(p['level'] * 100)} % credible intervals; prior uniform over the training box):")
    edges = res["checks"]["edges"]["parameters"]
    for name, r in p["params"].items():
        at = (edges.get(name) or {}).get("warned")
        print(f"  {PARAM_LABELS[name]:12s} mean {r['mean']:.4g}  median {r['median']:.4g}  "
              f"central [{r['central'][0]:.4g}, {r['central'][1]:.4g}]  HPD [{r['hpd'][0]:.4g}, {r['hpd'][1]:.4g}]  "
              f"prior [{r['prior'][0]:.4g}, {r['prior'][1]:.4g}]  width/prior {r['width_ratio']:.2f}"
              + (f"  AT THE {at.upper()} EDGE OF THE PRIOR" if at else ""))
    c = p["correlation"]
    print(f"  correlations: phi0-quench {c[0][1]:+.2f}, phi0-log t {c[0][2]:+.2f}, quench-log t {c[1][2]:+.2f}")
    print(f"  length scale 2 pi / q1 = {res['length_2pi_over_q1']:.4g} [{curve.q_unit.split('/')[-1]}] "
          f"(q1 = {res['q1']:.4g} {curve.q_unit})")
    print("  Minkowski densities implied by the posterior:")
    for name, f in res["functionals"].items():
        unit = "1" if f["power"] == 0 else f"({curve.q_unit})^{f['power']}"
        print(f"    {name:24s} {f['mean']: .5g} +- {f['std']:.3g}  [{unit}]")


def _cmd_train(args) -> int:
    from scattermorph.predict.fit import cv_text, train_model
    from scattermorph.predict.model import ABSOLUTE_INTENSITY, TRAINING_Q_UNIT
    from scattermorph.predict.modelfile import model_summary, save_model
    from scattermorph.sas.curves import read_table

    if args.cv_repeats < 0:
        raise ParameterError(f"--cv-repeats {args.cv_repeats}: give 0 (no cross-validation) or more splits")
    q, s_q, targets, groups = read_table(args.table, args.dimension, q_unit=args.q_unit)
    names = list(targets.columns)
    choice = args.kernel == "auto" or args.features == "auto"
    calibrate = args.calibration == "sigma" and (args.cv_repeats > 0 or choice)
    if args.calibration == "sigma" and not calibrate:
        print("scattermorph train: note: --cv-repeats 0: no cross-validation, so the standard deviations "
              "are not recalibrated", file=sys.stderr)
    model, cv = train_model(q, s_q, targets, args.dimension, names, kernel=args.kernel, feature_kind=args.features,
                            groups=groups, cv_repeats=args.cv_repeats, calibrate=calibrate, ard=args.ard,
                            restarts=args.restarts, random_state=args.seed, q_unit=args.q_unit,
                            report=lambda line: print(f"  {line}", file=sys.stderr))
    if choice:
        print(f"selected by cross-validation: --kernel {model.training['kernel']} --features {model.kind}")
    save_model(args.out, model, {"dataset": [str(args.table)], "command": "scattermorph train",
                                 "arguments": {k: v for k, v in vars(args).items() if k != "func"}})
    for w in model.training["warnings"]:
        print(f"scattermorph train: note: {w}", file=sys.stderr)
    print(model_summary(model))
    if cv is not None:
        print(cv_text(cv if calibrate else cv.drop(columns="z_rms")))
    if model.kind in ABSOLUTE_INTENSITY:
        unit = (f"q in {model.features['q_unit']} and " if model.kind in TRAINING_Q_UNIT else "")
        print(f"note: feature kind {model.kind} reads the absolute scale of the curves: predict needs {unit}"
              "the intensity as S = I / contrast^2 per unit volume, like this table's; for measured curves "
              "in arbitrary units or with an unknown contrast, train with --features scale_free")
    print(f"written {args.out}")
    return 0


def _cmd_readme(args) -> int:
    from scattermorph.provenance.readme import HAND_EDITED, STALE, check, documents, sync

    paths = [Path(p) for p in args.readme] if args.readme else documents(".")
    texts = {}
    for path in paths:
        if not path.is_file():
            raise InputFileError(f"{path}: no such file (give the Markdown files with --readme)")
        texts[path] = path.read_text(encoding="utf-8")
    if args.check:
        bad = 0
        for path, text in texts.items():
            for block, status, reason in check(text, args.root, name=str(path)):
                bad += status in (HAND_EDITED, STALE)
                print(f"{path}:{block.begin + 1}: {block.source}: {status.upper()}: {reason}")
        print(f"{', '.join(map(str, paths))}: {bad} block(s) hand-edited or stale", file=sys.stderr)
        return 1 if bad else 0
    # every file parsed before any is written: a malformed block leaves all of them as they were
    synced = {path: sync(text, args.root, name=str(path)) for path, text in texts.items()}
    for path, (new, actions) in synced.items():
        for block, action in actions:
            print(f"{path}:{block.begin + 1}: {block.source}: {action}")
        if new != texts[path]:
            atomic_write(path, lambda tmp, new=new: Path(tmp).write_text(new, encoding="utf-8"))
    return 0


# --------------------------------------------------------------------------
# the parser: one _add_<command> per subcommand
# --------------------------------------------------------------------------
def _cmd_cahn(args) -> int:
    from scattermorph.dynamics.measured import cahn_analysis, read_time_series

    t, q, intensity, q_unit = read_time_series(args.folder, times=args.times, q_unit=args.q_unit,
                                               columns=args.columns, entry=args.entry)
    res = cahn_analysis(t, q, intensity, t_max=args.t_max, q_max=args.q_max, phi0=args.phi0, N=args.N,
                        segment_length=args.segment_length, late_t_min=args.late_t_min, joint=args.joint)
    if args.plot is not None:
        from scattermorph.plots.dynamics import plot_cahn  # matplotlib: only when a figure is asked for
        from scattermorph.plots.save import save_figure

        save_figure(plot_cahn({"q": q, "t": t, "s_qt": intensity, "rate": res["rate"], "rate_se": res["rate_se"],
                               "intercept": res["intercept"], "slope": res["slope"],
                               "k_critical": res["q_critical"]}), args.plot)
    length = q_unit.split("/")[-1]
    print(f"{args.folder}: {t.size} curves, t = {t[0]:.4g} to {t[-1]:.4g}, {q.size} q values ({q_unit})")
    print(f"  Cahn plot R/q^2 = a + b q^2: a = {res['intercept']:.5g} ({length}^2/time, = -M f''), "
          f"b = {res['slope']:.5g} ({length}^4/time, = -2 M kappa0)")
    print(f"  q_c = {res['q_critical']:.5g} {q_unit} (modes above it decay), fastest q_m = {res['q_fastest']:.5g}")
    if "blend" in res:
        b = res["blend"]
        print(f"  mobility M = {b['mobility']:.5g} +- {b['mobility_sd']:.2g} ({length}^2/time), "
              f"f''(phi0) = {b['f2']:.5g} +- {b['f2_sd']:.2g}, chi/chi_s = {b['quench']:.5g} +- {b['quench_sd']:.2g}")
    if "alpha" in res:
        print(f"  late stage: q1 ~ t^-alpha, alpha = {res['alpha']:.4g} +- {res['alpha_se']:.2g}")
    if args.json is not None:
        doc = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in res.items()}
        doc.update(times=t.tolist(), q=q.tolist(), q_unit=q_unit, folder=str(args.folder))
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    return 0


def _add_cahn(sub) -> None:
    """scattermorph cahn FOLDER."""
    ca = sub.add_parser(
        "cahn",
        help="Cahn plot (mobility, quench depth, critical wavenumber) from a folder of time-stamped curves",
        description=(
            "Cahn's linear theory of spinodal decomposition from time-resolved scattering: ln I(q, t) is fitted "
            "linearly in t per q over the early curves (R(q) = d ln I / 2 dt), then R(q)/q^2 against q^2 by a "
            "straight line (intercept -M f'', slope -2 M kappa0). Every curve must be on the same q grid. Bad "
            "input: a message and exit status 2, nothing written."
        ),
    )
    ca.add_argument("folder", help="folder of curve files (any format predict reads), one per time")
    ca.add_argument("--times", default=None, metavar="CSV",
                    help="CSV table with columns file, time (default: the time in each file name, e.g. run_t12.5.dat)")
    ca.add_argument("--t-max", type=float, default=None, help="last time of the early, linear regime (default: all)")
    ca.add_argument("--q-max", type=float, default=None, help="fit the Cahn plot up to this q (default: all)")
    ca.add_argument("--phi0", type=float, default=None, help="mean volume fraction (with --N, --segment-length)")
    ca.add_argument("--N", type=float, default=None, help="degree of polymerisation of both species")
    ca.add_argument("--segment-length", type=float, default=None,
                    help="statistical segment length b in the length unit of q (de Gennes kappa0 = b^2/(36 phi0 (1-phi0)))")
    ca.add_argument("--late-t-min", type=float, default=None, help="fit q1 ~ t^-alpha from this time on")
    ca.add_argument("--joint", action="store_true",
                    help="fit the Cahn plot's line to every early curve at once, with Cook's thermal-noise term "
                         "(robust where the per-q rates are noisy; default: a line through per-q rates)")
    _add_curve_options(ca, batch=False)
    ca.add_argument("--json", metavar="OUT", default=None, help="write everything as JSON to OUT")
    ca.add_argument("--plot", metavar="OUT.png", default=None, help="the curves and the Cahn plot")
    ca.set_defaults(func=_cmd_cahn)


def _add_characterise(sub) -> None:
    """scattermorph characterise IMAGE."""
    p = sub.add_parser(
        "characterise",
        help="Minkowski functionals and S(q) of a 2D image or 3D stack",
        description=(
            "Minkowski functionals (2D: area, perimeter, Euler characteristic; 3D: volume, "
            "surface, integrated mean curvature, Euler characteristic), as totals and "
            "densities, and the structure factor S(q) of a binary (or thresholded) image."
        ),
    )
    p.add_argument("image", help="2D image (.png, .tif, .npy) or 3D stack (multi-page .tif, .npy)")
    p.add_argument("--threshold", default=None,
                   help="binarise at 'mean', 'equal_volume' (median) or a grey level "
                        "(required unless the image has exactly two values)")
    p.add_argument("--pixel-size", type=float, default=1.0,
                   help="pixel/voxel size in your length unit (default 1)")
    p.add_argument("--open", action="store_true",
                   help="open (non-periodic) boundaries; default: the image is a periodic tile")
    p.add_argument("--connectivity", type=_connectivity, default=None,
                   help="foreground connectivity: 4 or 8 (2D), 6 or 26 (3D); default 8/26")
    p.add_argument("--q-bins", type=int, default=64, help="number of log-spaced q bins (default 64)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_characterise)


def _add_audit(sub) -> None:
    """scattermorph audit [PATH ...]."""
    a = sub.add_parser(
        "audit",
        help="check figures, tables and arrays against their provenance records",
        description=(
            "Recompute the hashes of each figure (PNG, PDF) and recorded table or array, of its "
            "recorded inputs, its script and the library code, and compare its recorded "
            "parameters with those the current config gives its rule; report every file that "
            "is TAMPERED, STALE (naming the cause: an input, the script, the library, a config "
            "key, or an input that is itself stale) or MISSING a record. Exit status 1 if any."
        ),
    )
    a.add_argument("paths", nargs="*", default=None,
                   help="files or folders to check (default: results/ and the shipped models/, whose "
                        "model files must also pass their own sha256 checksum)")
    a.add_argument("--configfile", default=None,
                   help="config to compare the recorded parameters with (default: the checkout's "
                        "config.yaml or config/*.yaml whose study.name names the results/<study>/ folder)")
    a.add_argument("--no-params", dest="params", action="store_false",
                   help="skip the parameter check (it loads the workflow with Snakemake: a few seconds per study)")
    a.set_defaults(func=_cmd_audit)


def _add_curve_options(parser, *, batch) -> None:
    """--q-unit, --columns and --entry: how a curve is read from its file (predict, infer).

    ``batch``: the command reads several curves (``--entry all``) and describes the
    options in full; else it reads one and refers to predict's description.
    """
    parser.add_argument("--q-unit", default=None,
                        help="text files: the unit of q in the file, 1/A (default), 1/nm, 1/um, 1/m or 1/b; files "
                             "that state their unit (NXcanSAS, canSAS XML, NIST): convert q to this unit (default: "
                             "keep the file's); required for such a file whose Q has no unit"
                        if batch else "as for predict")
    parser.add_argument("--columns", type=_columns, default=None,
                        help="text files: 1-based columns of q, I and optionally dI (default 1,2,3)"
                        if batch else "as for predict")
    parser.add_argument("--entry", default=None, metavar="NAME|N|all" if batch else "NAME|N",
                        help="a file holding several curves (SASentry/SASdata groups or frames): the one to use, "
                             "by name (as the error message lists them) or 1-based number, or 'all' (one result "
                             "each)" if batch else "as for predict (one curve)")


def _add_predict(sub) -> None:
    """scattermorph predict CURVE."""
    pr = sub.add_parser(
        "predict",
        help="Minkowski densities of a measured scattering curve from a trained model",
        description=(
            "Read a 1D scattering curve, map it onto the model's features and print each Minkowski "
            "density with its standard deviation. Formats (recognised by content): NXcanSAS (HDF5: "
            "SASentry/SASdata with I, Q, Idev, Qdev and their units), canSAS 1D XML (SASentry/SASdata/"
            "Idata; files declaring entities or a DTD are refused), NIST reduced 6-column files (the "
            "header's 'The 6 columns are | Q (1/A) | ...' line gives the unit; sigmaQ is dQ), and text "
            "columns q, I(q) and optionally dI (and a 4th column named dQ/dX/sigmaQ/Qdev), separated by "
            "spaces, tabs, commas or semicolons; '#' comments and text headers are skipped. The q "
            "resolution dQ (Qdev) is used: the model is refitted on training curves smeared with the curve's dQ/q "
            "(see --resolution). The output states the model's training domain. Densities of units length^-p are "
            "given in (unit of q)^p. A curve unlike the training curves gets a warning and the model's "
            "large prior uncertainty. Bad input (including truncated HDF5, missing units, arrays of "
            "unequal length): a message and exit status 2, nothing written."
        ),
    )
    pr.add_argument("curve", nargs="?", default=None,
                    help="NXcanSAS (.h5), canSAS 1D XML, NIST 6-column or text file with columns q, "
                         "I(q) [, dI]; or a folder or quoted glob of such files (see --csv)")
    pr.add_argument("--model", default=None,
                    help="model file written by 'scattermorph train' or the study (.npz); default: the model "
                         "shipped in the repository's models/default.npz (see --about)")
    pr.add_argument("--about", action="store_true",
                    help="print the model's size, provenance (study, config hash, code commit, date), training "
                         "data, functionals, features and kernels, and exit")
    pr.add_argument("--resolution", type=float, default=None, metavar="DQ/Q",
                    help="relative q resolution dQ/q of the curve (e.g. 0.1): the model is refitted on its "
                         "training curves smeared with it (pinhole Gaussian, as sasmodels) and cached; default: "
                         "the file's dQ (Qdev, sigmaQ) when it has one; 0: no smearing")
    pr.add_argument("--background", default=None, metavar="B",
                    help="flat background of the curve in the units of its I, subtracted before the features "
                         "(0 for data whose background is already subtracted); default: fitted as the value "
                         "that makes the curve's shape most like the training curves', its uncertainty "
                         "included in the standard deviations")
    pr.add_argument("--cache-dir", default=None,
                    help="folder of the refitted models (default $SCATTERMORPH_CACHE_DIR, else "
                         "~/.cache/scattermorph/models)")
    pr.add_argument("--plot", metavar="OUT.png", default=None,
                    help="draw the curve, the q window the features use, and the predicted densities with "
                         "their 68 %% and 95 %% intervals (one curve)")
    _add_curve_options(pr, batch=True)
    pr.add_argument("--draws", type=int, default=200,
                    help="Monte Carlo draws propagating dI into the standard deviations (default 200)")
    pr.add_argument("--json", metavar="OUT", default=None,
                    help="write the result as JSON to OUT ('-' prints it instead of the table)")
    pr.add_argument("--csv", metavar="OUT", default=None,
                    help="write one CSV row per curve to OUT ('-' prints it): file, entry, format, points, q "
                         "unit, in_domain, median dQ/q, the dQ/q the model was refitted for, warnings, and each functional's "
                         "mean, std and unit; "
                         "CURVE may be a folder (every file in it) or a quoted glob ('data/*.h5'), which read "
                         "every curve of every file unless --entry names one")
    pr.set_defaults(func=_cmd_predict)


def _add_infer(sub) -> None:
    """scattermorph infer CURVE."""
    inf = sub.add_parser(
        "infer",
        help="posterior over phi0, chi/chi_s and t/tau of the simulated blend given a scattering curve",
        description=(
            "Bayesian calibration of the Cahn-Hilliard-Cook simulation from a curve: the scale-free features "
            "of the curve (its shape: unit- and scale-free) against an emulator (PCA + one Gaussian process per "
            "component) trained on the study's simulations; Gaussian likelihood with the emulator's variance "
            "plus the replicate-run scatter; uniform prior over the study's ranges; the posterior evaluated "
            "exactly on a grid. Prints the credible intervals, the absolute length 2 pi / q1 in the curve's unit "
            "and the Minkowski densities implied by the posterior. Reads every format predict reads; bad input: "
            "a message and exit status 2, nothing written. Every answer is checked: a posterior predictive "
            "check of the emulator's fit (its p-value; below 0.01 a warning and exit status 3, the results still "
            "written) and a warning for each parameter whose posterior piles up at an edge of the prior box."
        ),
    )
    inf.add_argument("curve", nargs="*", default=None,
                     help="NXcanSAS (.h5), canSAS 1D XML, NIST 6-column or text file with columns q, I(q); several "
                          "files, or a folder of them, are curves of one quench at several times: their joint "
                          "posterior of phi0 and chi/chi_s (the time in each file name, e.g. run_t12.5.dat, or "
                          "--times; time stamps fix the curves' age ratios, the time unit stays free; files "
                          "without times: each curve's age free)")
    inf.add_argument("--times", default=None, metavar="CSV",
                     help="a series in a folder: CSV table with columns file, time (time since the quench, any "
                          "unit; default: the time in each file name)")
    inf.add_argument("--ages", choices=("stamped", "free"), default="stamped",
                     help="a series: 'stamped' (default) ties the curves' ages by their time stamps when they "
                          "have them; 'free' gives each curve its own age")
    inf.add_argument("--study", default=None,
                     help="study folder holding dataset.csv and dataset_sq.npz: the emulator is fitted on all its "
                          "simulations (about a minute once, then cached); default: the shipped emulator "
                          "models/emulator.npz (see --about)")
    inf.add_argument("--about", action="store_true",
                     help="print the shipped emulator's size, provenance (study, config hash, code commit and "
                          "digest, date), parameter box and training set, and exit")
    inf.add_argument("--background", default=None, metavar="B",
                     help="flat background of the curve, in its intensity unit, subtracted before the features "
                          "(data model I = scale S(q) + B; 0 for subtracted data); default: fitted as predict "
                          "fits it (the value that makes the curve's shape most like the training curves')")
    inf.add_argument("--cache-dir", default=None,
                     help="folder of the cached fits (default $SCATTERMORPH_CACHE_DIR, else ~/.cache/scattermorph/models)")
    inf.add_argument("--grid", type=int, default=32, help="grid cells per parameter (default 32: 32^3 cells)")
    _add_curve_options(inf, batch=False)
    inf.add_argument("--json", metavar="OUT", default=None, help="write everything as JSON to OUT ('-' prints it)")
    inf.add_argument("--plot", metavar="OUT.png", default=None,
                     help="corner plot of the posterior and the posterior-predictive feature curve over the data's")
    inf.set_defaults(func=_cmd_infer)


def _add_train(sub) -> None:
    """scattermorph train TABLE --out MODEL."""
    tr = sub.add_parser(
        "train",
        help="fit the models to your own table of scattering curves and densities",
        description=(
            "TABLE is a CSV file, one row per sample: columns 'q=<value>' hold I(q) on a common "
            "q grid (empty = missing), columns named like the densities (2D: area_density, "
            "perimeter_density, euler_density; 3D: volume_density, surface_density, "
            "mean_curvature_density, euler_density) in the length unit of q, optional 'sample' and "
            "'group' (rows of one sample or simulation). One Gaussian process per density is "
            "fitted and saved with its metadata in a single .npz (no pickles). Before that the "
            "same training is cross-validated (whole groups held out when the table has a 'group' "
            "column, else random 30/7 splits as in Jones & Clarke 2021) and its errors and "
            "interval coverage are printed."
        ),
    )
    tr.add_argument("table", help="CSV table (see the description)")
    tr.add_argument("--out", required=True, help="model file to write (.npz)")
    tr.add_argument("--kernel", choices=GP_KERNELS + ("paper", "auto"), default="squared_exponential",
                    help="GP kernel (default squared_exponential); 'paper': the exact GP of Jones & Clarke "
                         "(2021), ConstantKernel*RBF+WhiteKernel on unscaled features, 2 restarts (a "
                         "baseline); 'auto': the one with the best cross-validated error")
    tr.add_argument("--ard", action="store_true", help="one length scale per feature (slower)")
    tr.add_argument("--restarts", type=int, default=1, help="extra optimiser starts (default 1)")
    tr.add_argument("--seed", type=int, default=0, help="seed of the optimiser restarts (default 0)")
    tr.add_argument("--features", choices=("auto", "scale_free", "log_sq", "scale_free_invariant",
                                           "scale_free_absolute"),
                    default="auto",
                    help="auto (default): the best cross-validated of scale_free, scale_free_absolute and "
                         "log_sq. scale_free: the shape of the curve only, log10(S q1^d / Q) on q/q1 (any q "
                         "unit and intensity scale: use it for measured curves in arbitrary units); "
                         "scale_free_absolute: the shape plus log10 of the absolute invariant Q and of q1, each "
                         "group with its own kernel length scale; log_sq: the paper's log10 S on the table's q "
                         "grid; scale_free_invariant: the shape plus log10 Q. Babinet's principle: the shape "
                         "of S(q) is the same for both phases, so the volume fraction (of the minority phase) "
                         "is carried only by the absolute invariant, Q ~ contrast^2 phi (1 - phi): every kind "
                         "but scale_free needs curves in absolute units with the contrast divided out "
                         "(S = I / contrast^2), and scale_free_absolute and log_sq also need q in the "
                         "table's unit. Without the contrast, use scale_free (volume fractions then come "
                         "from the shape alone and are less accurate)")
    tr.add_argument("--cv-repeats", type=int, default=10,
                    help="random 30/7 splits of the cross-validation printed after training when the "
                         "table has no 'group' column (default 10; with groups: 5-fold grouped CV); "
                         "0 skips it and the recalibration (unless --kernel or --features is auto)")
    tr.add_argument("--calibration", choices=("sigma", "none"), default="sigma",
                    help="sigma (default): multiply each functional's predictive std by the RMS of its "
                         "cross-validated z-scores (sigma scaling, Levi et al. 2022), stored in the model "
                         "and applied by predict; none: the GP's own std")
    tr.add_argument("--dimension", type=int, choices=(2, 3), default=3,
                    help="dimension of the samples' structures (default 3)")
    tr.add_argument("--q-unit", default="1/b", help="unit of the table's q values (default 1/b)")
    tr.set_defaults(func=_cmd_train)


def _add_readme(sub) -> None:
    """scattermorph readme [--check]."""
    rd = sub.add_parser(
        "readme",
        help="copy the rules' summary files into the generated blocks of README.md and docs/*.md",
        description=(
            "Replaces the body of every '<!-- BEGIN GENERATED from PATH sha256=... -->' ... "
            "'<!-- END GENERATED -->' block of README.md and of every docs/*.md (the study's numbers are "
            "in docs/results.md) with the current text of PATH (relative to --root) and records its "
            "sha256. With --check, changes nothing and exits 1 naming each block edited by hand (body "
            "differs from its recorded sha256) or stale (PATH exists and differs); blocks whose PATH does "
            "not exist are reported as not checked. A malformed block in any file: exit 2, nothing written."
        ),
    )
    rd.add_argument("--check", action="store_true", help="only check; exit 1 if a block is hand-edited or stale")
    rd.add_argument("--readme", action="append", metavar="FILE",
                    help="a Markdown file to sync or check (repeat for several); default: README.md and "
                         "every docs/*.md of the current directory")
    rd.add_argument("--root", default=".", help="directory the blocks' paths are relative to (default .)")
    rd.set_defaults(func=_cmd_readme)


def build_parser() -> argparse.ArgumentParser:
    """The ``scattermorph`` parser: one subcommand each, whose ``func`` runs it."""
    parser = argparse.ArgumentParser(
        prog="scattermorph",
        description="Minkowski functionals and scattering of phase-separated structures.",
    )
    parser.add_argument("--version", action="version", version=f"scattermorph {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_characterise, _add_audit, _add_predict, _add_infer, _add_train, _add_readme, _add_cahn):
        add(sub)
    return parser


def main(argv=None) -> int:
    """Run a command; bad input or parameters: the message on stderr and exit status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (InputFileError, ParameterError) as exc:
        print(f"scattermorph {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
