"""Compare the resources the rules declare with what their jobs used.

Reads the ``benchmark:`` files (``benchmarks/results/<study>/...tsv``) of a
finished run and the resources Snakemake declares for the same jobs (a dry run
of the same config with ``--forceall``, attempt 1), and prints, per job, the
measured wall time and peak memory against the declared ``runtime`` and
``mem_mb``:

    .venv/bin/python benchmarks/check_resources.py --configfile config/tiny.yaml -d /tmp/tiny-run

* ``mem ratio`` = (max_rss of the script + JOB_SNAKEMAKE_MB) / mem_mb: the
  benchmark measures the script's processes only, while a SLURM job also holds
  the two Snakemake processes of the job (see workflow/rules/common.smk);
* ``time ratio`` = s / (60 x runtime).

A ratio above 1 means SLURM would have killed the job on its first attempt;
well below 1 wastes allocation (runtime also has a 5 min floor for job
start-up, so tiny jobs have tiny time ratios by design). Exit status 1 if any
ratio is above 1. The table is also written to
``benchmarks/results/resources_<study>.csv``.
"""

import argparse
import csv
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def snakemake_overhead_mb():
    """JOB_SNAKEMAKE_MB as declared in workflow/rules/common.smk."""
    text = (ROOT / "workflow/rules/common.smk").read_text()
    return int(re.search(r"^JOB_SNAKEMAKE_MB = (\d+)", text, re.M).group(1))


def declared_resources(configfile, workdir, cores=1):
    """{benchmark path: (rule, mem_mb, runtime)} from a dry run with --forceall."""
    cmd = [
        sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
        "--configfile", str(Path(configfile).resolve()), "-n", "--forceall", "--cores", str(cores),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    jobs = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", out):
        m = re.match(r"(?:local)?rule (\w+):", block)
        bench = re.search(r"^\s+benchmark: (\S+)", block, re.M)
        res = re.search(r"^\s+resources: (.*)$", block, re.M)
        if not (m and bench and res):
            continue
        values = dict(kv.split("=", 1) for kv in res.group(1).split(", "))
        jobs[bench.group(1)] = (m.group(1), int(values["mem_mb"]), int(values["runtime"]))
    return jobs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configfile", required=True, help="config of the finished run")
    ap.add_argument("-d", "--directory", required=True, help="working directory of the finished run")
    args = ap.parse_args(argv)
    workdir = Path(args.directory).resolve()
    overhead = snakemake_overhead_mb()
    jobs = declared_resources(args.configfile, workdir)
    rows = []
    for bench, (rule, mem_mb, runtime) in sorted(jobs.items()):
        path = workdir / bench
        if not path.exists():
            continue
        with open(path) as fh:
            rec = list(csv.DictReader(fh, delimiter="\t"))[-1]
        seconds, rss = float(rec["s"]), float(rec["max_rss"])
        rows.append({
            "job": bench.split("/", 3)[-1].removesuffix(".tsv"),
            "rule": rule,
            "seconds": seconds,
            "runtime_min": runtime,
            "time_ratio": seconds / (60 * runtime),
            "max_rss_mb": rss,
            "mem_mb": mem_mb,
            "mem_ratio": (rss + overhead) / mem_mb,
        })
    if not rows:
        sys.exit(f"no benchmark files of this config under {workdir}/benchmarks/results")
    print(f"{'job':<48} {'s':>8} {'runtime':>8} {'time':>6} {'max_rss':>8} {'mem_mb':>7} {'mem':>6}")
    for r in rows:
        print(f"{r['job']:<48} {r['seconds']:8.1f} {r['runtime_min']:8d} {r['time_ratio']:6.3f} "
              f"{r['max_rss_mb']:8.0f} {r['mem_mb']:7d} {r['mem_ratio']:6.3f}")
    for rule in sorted({r["rule"] for r in rows}):
        mine = [r for r in rows if r["rule"] == rule]
        print(f"{rule}: {len(mine)} jobs, max time ratio {max(r['time_ratio'] for r in mine):.3f}, "
              f"max mem ratio {max(r['mem_ratio'] for r in mine):.3f}")
    study = Path(next(iter(jobs))).parts[2]
    out = ROOT / "benchmarks/results" / f"resources_{study}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"(JOB_SNAKEMAKE_MB = {overhead} added to max_rss; table in {out.relative_to(ROOT)})")
    return 1 if any(r["time_ratio"] > 1 or r["mem_ratio"] > 1 for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
