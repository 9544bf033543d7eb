"""Rule fit_emulator: fit the GP emulators, validate them on held-out runs,
measure the speed-up over a simulation, and tabulate the response surfaces."""

import sys

import pandas as pd
from _bootstrap import job

from scattermorph._io import atomic_write
from scattermorph.gp import emulator as em
from scattermorph.gp.tutorial import save_npz

with job(snakemake, __file__) as sm:
    emu = sm.params.emulator
    runs = pd.concat([pd.read_csv(p) for p in sm.input.batches], ignore_index=True)
    train, test = runs[runs["role"] == "train"], runs[runs["role"] == "test"]
    outputs = em.output_columns(sm.params.dimension)
    model = em.EmulatorSet(em._bounds(emu), outputs, restarts=emu["restarts"],
                           random_state=sm.params.random_state).fit(train)
    pred, metrics = em.validate_emulators(model, test)
    print(metrics.to_string(), file=sys.stderr)
    t_pred = em.time_prediction(model, train.groupby("snapshot")["time_over_tau"].median().to_numpy())
    per_run = runs.groupby("sim_id")[["sim_seconds", "measure_seconds"]].first()
    t_run = float((per_run["sim_seconds"] + per_run["measure_seconds"]).mean())
    speed = pd.DataFrame([{
        "simulation_plus_measurement_seconds": t_run,
        "simulation_seconds": float(per_run["sim_seconds"].mean()),
        "emulator_prediction_seconds": t_pred,
        "speedup": t_run / t_pred,
        "n_runs_timed": len(per_run),
        "n_outputs": len(outputs),
        "n_times": emu["time"]["n_snapshots"],
    }])
    print(speed.to_string(), file=sys.stderr)
    hyper = model.hyperparameters()
    surf = em.response_surface(model, emu)
    surf["train_phi0"] = train.groupby("sim_id")["phi0"].first().to_numpy()
    surf["train_quench"] = train.groupby("sim_id")["quench"].first().to_numpy()
    surf["test_phi0"] = test.groupby("sim_id")["phi0"].first().to_numpy()
    surf["test_quench"] = test.groupby("sim_id")["quench"].first().to_numpy()
    o = sm.output
    atomic_write(o.predictions, lambda tmp: pred.to_csv(tmp, index=False))
    atomic_write(o.metrics, lambda tmp: metrics.to_csv(tmp, index=False))
    atomic_write(o.speedup, lambda tmp: speed.to_csv(tmp, index=False))
    atomic_write(o.hyperparameters, lambda tmp: hyper.to_csv(tmp, index=False))
    atomic_write(o.runs, lambda tmp: runs.to_csv(tmp, index=False))
    save_npz(o.surface, surf)
