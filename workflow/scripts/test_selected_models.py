"""Rule test_selected_models: the chosen models and the paper's exact GP on
the held-out simulations, their intervals before and after sigma scaling
(factor from the grouped cross-validation on the training simulations), the
physics estimators beside them, and the study's targets."""

import sys

import pandas as pd
from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.learn import protocols as ev
from scattermorph.learn.metrics import regression_metrics

with job(snakemake, __file__, limit_threads=True) as sm:
    learning = sm.params.learning

    st = ev.load_stage(sm.input.table, sm.input.curves, learning, split_path=sm.input.split,
                       selection_path=sm.input.selection)
    table, ndim, test, selection = st["table"], st["ndim"], st["test"], st["selection"]
    # the paper's exact GP beside the chosen models (its input built here if the
    # selection does not use it)
    baseline = ev.baseline_selection(pd.read_csv(sm.input.comparison), list(selection["functional"]))
    features = dict(st["features"])
    for kind in sorted(set(baseline["features"]) - set(features)):
        features.update(ev.prepare(table, st["arrays"], pd.read_csv(sm.input.split), learning, ndim, kinds=[kind])[0])
    # sigma scaling from the grouped cross-validation on the training simulations
    cv = pd.concat([pd.read_csv(p) for p in sm.input.cv], ignore_index=True)
    factors = ev.calibration_factors(cv, pd.concat([selection, baseline], ignore_index=True))
    print(factors.to_string(), file=sys.stderr)
    frames, metric_frames = [], []
    for role, sel in (("selected", selection), ("baseline", baseline)):
        if sel.empty:
            continue
        p, m = ev.holdout_test(table, features, st["train"], test, selection=sel, ndim=ndim,
                               restarts=learning["restarts"], seed=ev.stage_seed(sm.params.seed, 2),
                               factors=factors)
        frames.append(p.assign(role=role))
        metric_frames.append(m.assign(role=role))
    preds = frames[0]
    baseline_preds = (frames[1] if len(frames) > 1 else
                      pd.DataFrame(columns=list(preds.columns)))
    metrics = pd.concat(metric_frames, ignore_index=True)
    # the physics estimators need no training: scored on the same test rows
    physics = [{"functional": f, "features": "none", "model": "physics", "role": "physics",
                **regression_metrics(table.loc[test, f], est[test])}
               for f, est in ev.physics_estimates(table, ndim).items()]
    metrics = pd.concat([metrics, pd.DataFrame(physics)], ignore_index=True)
    targets = ev.check_targets(metrics[metrics["role"] != "physics"], learning["targets"])
    atomic_write(sm.output.baseline_predictions, lambda tmp: baseline_preds.to_csv(tmp, index=False))
    atomic_write(sm.output.factors, lambda tmp: factors.to_csv(tmp, index=False))
    atomic_write(sm.output.predictions, lambda tmp: preds.to_csv(tmp, index=False))
    atomic_write(sm.output.metrics, lambda tmp: metrics.to_csv(tmp, index=False))
    atomic_write(sm.output.targets, lambda tmp: targets.to_csv(tmp, index=False))
    print(targets.to_string(), file=sys.stderr)
