"""Synthetic run records for the KPI store's benchmark and tests: valid ``harness.run/1``, made
to look like real ones.

The template is a real record (``harness run cfd --size tiny``, 2.9 kB of JSON: parameters,
five repetitions, three phases, FOM, verification, provenance, work), copied here with its
timings replaced. Each sweep is a platform study (``jobs/platform.toml``): the nine workload
cases of the four families (cfd blocking/overlap, fea gather/per-rank/mpiio, opt sync/async,
param static/dynamic) plus ``calibrate``, strong scaling from the 5-core baseline at
``scales`` times it, ``runs`` records per point. The default shape, 10 cases x 5 scales x 2 runs,
is 100 records per sweep, so 100,000 records are 1,000 sweeps.

Times follow Amdahl's law, ``T(p) = T1 (f + (1 - f) p0 / p)`` with a serial fraction ``f``
per case (0.002 to 0.02) and a 1 % deterministic spread between runs and repetitions, so every
sweep gives efficiencies, fits and predictions like a real one. Everything is deterministic
(run ids from a hash of sweep and position): the same call writes the same files.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: the workload cases of one platform sweep: (workload, variant, serial fraction)
CASES = (
    ("cfd", "blocking", 0.004), ("cfd", "overlap", 0.002),
    ("fea", "gather", 0.02), ("fea", "per-rank", 0.008), ("fea", "mpiio", 0.012),
    ("opt", "sync", 0.01), ("opt", "async", 0.006),
    ("param", "static", 0.005), ("param", "dynamic", 0.003),
    ("calibrate", "amdahl", 0.015),
)
BASELINE_CORES = 5
SCALES = (1, 10, 50, 100, 500)
RUNS = 2
#: records per sweep with the default shape
PER_SWEEP = len(CASES) * len(SCALES) * RUNS

#: a record written by ``harness run cfd --size tiny`` on this machine (2026-11-30)
TEMPLATE: dict[str, Any] = {
    "run_id": "20261130T060153-fc7cc7dc", "sweep_id": "adhoc", "workload": "cfd",
    "variant": "blocking", "mode": "strong", "size": "tiny",
    "params": {"n": 64, "steps": 50, "nu": 0.01, "u": 1.0, "v": 0.5, "kx": 1, "ky": 2,
               "safety": 0.9, "residual_every": 10},
    "ranks": 1, "status": "ok", "nodes": 1, "ranks_per_node": 1, "threads_per_rank": 1,
    "oversubscribed": False, "warmup": 1, "repetitions": 5, "iterations": 50,
    "seconds": [0.0005958929999962947, 0.0005601099999950065, 0.0006192970000000741,
                0.0005655280000098628, 0.0005596389999880103],
    "phases": {"compute": {"min": 0.00014654160004567984, "mean": 0.00014654160004567984,
                           "max": 0.00014654160004567984},
               "halo": {"min": 0.0003959719999642175, "mean": 0.0003959719999642175,
                        "max": 0.0003959719999642175},
               "reduce": {"min": 2.0782199993618632e-05, "mean": 2.0782199993618632e-05,
                          "max": 2.0782199993618632e-05}},
    "fom": {"name": "cell updates/s", "unit": "cell updates/s", "value": 362139451.9748417},
    "verification": {
        "passed": True,
        "method": "closed form of the discrete scheme (|G|^s sin(theta + s arg G)), max norm "
                  "relative to |G|^s; checksum over the gathered field in global order",
        "checksum": {"sum": 2.591815650987428e-13, "l2": 28.700162576572623},
        "error": 4.726662717270141e-15, "tolerance": 1e-09},
    "provenance": {"host": "vm", "git_sha": "44d46febd66b07032ad617c7827392a6aca6a668",
                   "git_dirty": False, "python": "3.11.7", "numba": "0.68.1",
                   "numpy": "2.4.6", "mpi4py": "4.1.2",
                   "mpi_library": "MPICH Version:      5.0.2", "cpu_model": "AMD EPYC",
                   "slurm": None, "env": {}, "harness": "0.1.0", "cpus_per_node": 2.0,
                   "launcher": "singleton"},
    "created_at": "2026-11-30T06:01:53+00:00", "schema": "harness.run/1",
    "seconds_min": [], "seconds_mean": [],
    "extra_foms": [{"name": "effective bandwidth", "unit": "GB/s", "value": 5.794231231597467}],
    "work": {"cell_updates": 204800, "bytes_per_update": 16, "flops_per_update": 9,
             "dt": 0.003463669950738916, "residual": 0.028472010902185596},
    "error": None, "overrides": {}, "compiled_while_timed": False,
    "fixed_work": {"cell_updates": 204800},
    "startup": {"min": 1.1819262259996322, "mean": 1.1819262259996322,
                "max": 1.1819262259996322},
    "cpu_quota": None, "contention": None, "contended": False,
}
_PHASE_SHARE = {"compute": 0.26, "halo": 0.70, "reduce": 0.04}


def _jitter(*key: object) -> float:
    """A deterministic factor in [0.99, 1.01) from ``key``."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    return 0.99 + 0.02 * int.from_bytes(digest, "big") / 2**64


def record(sweep: int, case: int, scale: int, run: int) -> dict[str, Any]:
    """Run ``run`` of case ``CASES[case]`` at ``scale`` x the baseline in sweep number ``sweep``.

    Returns the decoded JSON of a valid ``harness.run/1`` record (status ``ok``); its sweep id
    is ``platform-<sweep, 5 digits>``, its run id unique to the four arguments.
    """
    workload, variant, serial = CASES[case]
    cores = BASELINE_CORES * scale
    t1 = 2.0 * (1 + case / 10)  # seconds at the baseline
    median = t1 * (serial + (1 - serial) / scale) * _jitter(sweep, case, scale, run)
    seconds = [median * _jitter(sweep, case, scale, run, k) for k in range(5)]
    rec = copy.deepcopy(TEMPLATE)
    day, minute = divmod(sweep, 24 * 60)
    stamp = (f"2026-{1 + day // 28 % 12:02d}-{1 + day % 28:02d}"
             f"T{minute // 60:02d}:{minute % 60:02d}:00+00:00")
    run_key = hashlib.blake2b(repr((sweep, case, scale, run)).encode(), digest_size=4).hexdigest()
    rec.update(
        run_id=f"{stamp[:4]}{stamp[5:7]}{stamp[8:10]}T{stamp[11:13]}{stamp[14:16]}00-{run_key}",
        sweep_id=f"platform-{sweep:05d}", workload=workload, variant=variant, ranks=cores,
        nodes=-(-cores // 50), ranks_per_node=min(cores, 50), created_at=stamp,
        seconds=seconds, seconds_min=[0.97 * s for s in seconds], seconds_mean=list(seconds),
        phases={name: {"min": share * median * 0.98, "mean": share * median,
                       "max": share * median * 1.02}
                for name, share in _PHASE_SHARE.items()},
    )
    rec["fom"]["value"] = 204800 * 50 / median
    rec["provenance"]["cpus_per_node"] = 50.0
    return rec


def sweep(index: int, scales: tuple[int, ...] = SCALES, runs: int = RUNS
          ) -> Iterator[dict[str, Any]]:
    """Every record of sweep number ``index``: each case at each scale, ``runs`` times."""
    for case in range(len(CASES)):
        for scale in scales:
            for run in range(runs):
                yield record(index, case, scale, run)


def write(out: Path, sweeps: int, scales: tuple[int, ...] = SCALES, runs: int = RUNS
          ) -> list[Path]:
    """Write ``sweeps`` sweeps under ``out/<sweep_id>/`` as ``harness run`` names its records
    (``<workload>-<mode>-p<ranks>-<run_id>.json``); returns the sweep directories."""
    directories = []
    for index in range(sweeps):
        directory = None
        for rec in sweep(index, scales, runs):
            if directory is None:
                directory = Path(out) / rec["sweep_id"]
                directory.mkdir(parents=True, exist_ok=True)
                directories.append(directory)
            name = f"{rec['workload']}-{rec['mode']}-p{rec['ranks']}-{rec['run_id']}.json"
            (directory / name).write_text(json.dumps(rec, indent=2), encoding="utf-8")
    return directories
