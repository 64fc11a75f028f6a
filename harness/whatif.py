"""What-ifs for ``harness predict``: the same prediction on a changed machine or algorithm.

A machine what-if recalculates each phase's mechanistic model on a modified machine model
(:func:`harness.machine.with_overrides`: the calibrated rates and factors stay as measured) and
scales the phase's chosen prediction by the ratio new / old, so the change measures the machine
alone, whichever model predicts the phase; a phase without a mechanistic model is unchanged.

The built-in ones (shown whenever a machine model is given):

- ``infiniband``: ``network.latency=1us``, ``network.bandwidth=12.5GB/s`` — one 100 Gb/s
  (InfiniBand EDR / HDR100-class) link per node with a microsecond of MPI latency; assumed
  figures, not measured here — and the inter-node allreduce on the same link,
  ``allreduce.alpha=2us``, ``allreduce.beta=0.16ns/B``: Rabenseifner's reduce-scatter +
  allgather (Thakur, Rabenseifner & Gropp 2005, "Optimization of Collective Communication
  Operations in MPICH", IJHPCA 19(1), §4.4: ``2 log₂p·α + 2 (p−1)/p·n·β + (p−1)/p·n·γ``) in
  the machine model's form ``α_ar·⌈log₂p⌉ + β_ar·m``: one message of the link's latency in the
  reduce-scatter and one in the allgather per ⌈log₂p⌉ step (``α_ar = 2α``), and each byte
  crossing the link twice for large p (``β_ar = 2/B``); the local reduction ``γ`` is compute,
  left out, as the probe's fit includes it in what it measured;
- ``parallel filesystem``: ``io.bandwidth=240GB/s`` — assumed: the aggregate I/O a production
  Lustre file system delivered in the Lustre 1.6 Operations Manual (Sun/Oracle 820-3681,
  Table 1-1), shared by the job's writers; a site's own figure belongs in ``--set``;
- ``async``: the asynchronous algorithm — each repetition's reductions are started before its
  compute and completed after it (a non-blocking allreduce), so the ``reduce`` phase costs only
  what outlasts the compute: ``max(0, reduce − compute)``. It assumes the MPI library progresses
  the reduction during the compute (true of hardware-offloaded collectives; otherwise only in
  the MPI calls) and that the algorithm tolerates one repetition of staleness.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.machine import MachineModel, with_overrides
from harness.predict import GroupForecast, async_phase_seconds, predict_totals
from harness.targets import Targets

ASYNC = "async"
#: name -> (overrides, what it assumes)
#: the ``infiniband`` link: MPI latency (s) and bandwidth (bytes/s), assumed figures
IB_LATENCY, IB_BANDWIDTH = 1e-6, 12.5e9
#: its allreduce (Rabenseifner; Thakur, Rabenseifner & Gropp 2005): s per ⌈log₂p⌉ step, s/byte
IB_ALLREDUCE_ALPHA, IB_ALLREDUCE_BETA = 2 * IB_LATENCY, 2 / IB_BANDWIDTH
BUILTIN: dict[str, tuple[tuple[str, ...], str]] = {
    "infiniband": ((f"network.latency={IB_LATENCY * 1e6:g}us",
                    f"network.bandwidth={IB_BANDWIDTH / 1e9:g}GB/s",
                    f"allreduce.alpha={IB_ALLREDUCE_ALPHA * 1e6:g}us",
                    f"allreduce.beta={IB_ALLREDUCE_BETA * 1e9:g}ns/B"),
                   "assumed: one 100 Gb/s (InfiniBand EDR/HDR100-class) link, 1 us MPI latency; "
                   "its allreduce by reduce-scatter + allgather (Thakur, Rabenseifner & Gropp "
                   "2005): 2 us per log2(p) step (a message each way), 0.16 ns/B (each byte "
                   "over the link twice)"),
    "parallel filesystem": (("io.bandwidth=240GB/s",),
                            "assumed: 240 GB/s aggregate, a production Lustre figure (Lustre "
                            "1.6 Operations Manual, Table 1-1), shared by the job's writers"),
}
ASYNC_ASSUMPTION = ("assumed: reductions start before the compute and finish after it "
                    "(non-blocking allreduce progressed during the compute), so reduce costs "
                    "max(0, reduce - compute)")


def machine_phase_seconds(forecast: GroupForecast, cores: np.ndarray, machine: MachineModel
                          ) -> dict[str, np.ndarray]:
    """Each phase's chosen prediction scaled by its mechanistic model's new / old ratio."""
    out: dict[str, np.ndarray] = {}
    for choice in forecast.phases:
        model = choice.model()
        if choice.mechanistic is None or model is None:
            continue
        old = choice.mechanistic.predict(cores)
        new = choice.mechanistic.predict(cores, machine)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(old > 0, new / old, 1.0)
        out[choice.phase] = model.predict(cores) * ratio
    return out


def _with_async(forecast: GroupForecast, cores: np.ndarray,
                seconds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``seconds`` with the asynchronous reduce applied on top (the base prediction has it)."""
    merged = {c.phase: c.model().predict(cores) for c in forecast.phases
              if c.model() is not None}
    merged.update(seconds)
    if "reduce" not in merged or "compute" not in merged:
        return seconds
    return {**seconds, "reduce": np.maximum(merged["reduce"] - merged["compute"], 0.0)}


def _scenario(forecast: GroupForecast, name: str, assumption: str, cores: np.ndarray,
              targets: Targets, phase_seconds: dict[str, np.ndarray] | None,
              changes: list[str]) -> dict[str, Any]:
    base = forecast.rows.loc[forecast.rows["feasible"]].reset_index(drop=True)
    entry: dict[str, Any] = {"name": name, "assumption": assumption, "changes": changes,
                             "applicable": phase_seconds is not None and bool(phase_seconds)}
    if not entry["applicable"]:
        entry["rows"] = []
        return entry
    rows = predict_totals(forecast, cores, targets, phase_seconds)
    entry["rows"] = [
        {"scale": float(r.scale), "cores": int(r.cores), "seconds": float(r.seconds),
         "efficiency": float(r.efficiency), "status": str(r.status),
         "gain": float(r.efficiency - b.efficiency)}
        for r, b in zip(rows.itertuples(index=False), base.itertuples(index=False), strict=True)
    ]
    return entry


def what_ifs(forecast: GroupForecast, targets: Targets, machine: MachineModel | None,
             assignments: list[str], asynchronous_applied: bool) -> list[dict[str, Any]]:
    """The what-ifs of one group: ``--set`` first (when given), then the built-in ones.

    Each is ``{name, assumption, changes, applicable, rows[{scale, cores, seconds, efficiency,
    status, gain}]}`` with ``gain`` the efficiency it buys over the prediction at that scale.
    """
    cores = forecast.rows.loc[forecast.rows["feasible"], "cores"].to_numpy(dtype=np.int64)
    if machine is None or cores.size == 0:
        return []
    out = []
    if assignments:
        changed = with_overrides(machine, assignments)
        seconds = machine_phase_seconds(forecast, cores, changed)
        if asynchronous_applied and seconds:
            seconds = _with_async(forecast, cores, seconds)
        out.append(_scenario(forecast, "--set " + " ".join(assignments),
                             "the machine model with these values", cores, targets, seconds,
                             assignments))
    for name, (changes, assumption) in BUILTIN.items():
        changed = with_overrides(machine, changes)
        seconds = machine_phase_seconds(forecast, cores, changed)
        if asynchronous_applied and seconds:
            seconds = _with_async(forecast, cores, seconds)
        out.append(_scenario(forecast, name, assumption, cores, targets, seconds,
                             list(changes)))
    if not asynchronous_applied:
        out.append(_scenario(forecast, ASYNC, ASYNC_ASSUMPTION, cores, targets,
                             async_phase_seconds(forecast, cores), []))
    return out
