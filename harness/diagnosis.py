"""What a group's points say beyond the numbers: bottleneck, node saturation, notes, alerts.

Pure pandas over the points of :mod:`harness.metrics`. The bottleneck is the non-compute phase
(any but ``compute`` and ``assemble``) whose share of the time grows most from the baseline to
the largest scale; load imbalance is max/mean over ranks of the compute phase. A measured E below
the P2 threshold is an alert; a model's prediction below it at a scale not measured is a
separate, ``predicted`` alert that states its extrapolation distance. The notes say when runs
were pooled, when every rank still shared one node, and when the baseline differs from the
targets' (docs/design.md, "Analysis contract").
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness import modelpredict
from harness.metrics import BELOW_BASELINE, KEYS, PHASE, PHASE_MAX, cores_text
from harness.targets import Targets

#: phase -> what the platform calls it when it is the bottleneck
PHASE_NAMES = {"halo": "Network I/O", "io": "File I/O", "reduce": "Synchronization",
               "distribute": "Communication", "serial": "Serial work"}
COMPUTE = "compute"
#: phases that are local computation, never the bottleneck (fea assembles before it solves)
COMPUTE_PHASES = (COMPUTE, "assemble")
ALERT_COLUMNS = [*KEYS, "level", "kind", "cores", "scale", "efficiency", "threshold", "model",
                 "extrapolation", "message"]


def bottleneck(group: pd.DataFrame) -> dict[str, object]:
    """The non-compute phase whose share of time grows most from the baseline (r = 1) to the
    largest scale, with both shares, and load imbalance (max/mean compute) at the largest scale.

    Returns
    -------
    dict
        ``phase, name, share_baseline, share_largest, load_imbalance, reason``; ``phase`` and
        ``name`` are None (and ``reason`` says why) when no phase grows or none was timed.
    """
    group = group.loc[group["scale"] >= 1.0]
    base = group.loc[group["scale"] == 1.0].iloc[0]
    largest = group.loc[group["scale"].idxmax()]
    out: dict[str, object] = {"phase": None, "name": None, "share_baseline": np.nan,
                              "share_largest": np.nan, "load_imbalance": np.nan, "reason": ""}
    mean_c, max_c = PHASE + COMPUTE, PHASE_MAX + COMPUTE
    if mean_c in group and max_c in group and largest[mean_c] > 0:
        out["load_imbalance"] = float(largest[max_c] / largest[mean_c])
    phases = [c[len(PHASE):] for c in group.columns
              if c.startswith(PHASE) and c[len(PHASE):] not in COMPUTE_PHASES
              and np.isfinite(base[c]) and np.isfinite(largest[c])]
    if not phases:
        out["reason"] = "no non-compute phase timings: bottleneck unknown"
        return out
    if largest["scale"] <= 1.0:
        out["reason"] = "no point above the baseline: bottleneck unknown"
        return out
    share0 = {p: base[PHASE + p] / base["seconds"] for p in phases}
    share1 = {p: largest[PHASE + p] / largest["seconds"] for p in phases}
    phase = max(phases, key=lambda p: (share1[p] - share0[p], p))
    if share1[phase] - share0[phase] <= 0:
        out["reason"] = "no non-compute phase grows its share of the time"
        return out
    out.update(phase=phase, name=PHASE_NAMES.get(phase, phase),
               share_baseline=float(share0[phase]), share_largest=float(share1[phase]))
    return out


def bottleneck_columns(verdict: dict[str, object]) -> dict[str, object]:
    """A :func:`bottleneck` verdict as the columns of the group's row in the analysis."""
    return {"bottleneck_phase": verdict["phase"], "bottleneck_name": verdict["name"],
            "share_baseline": verdict["share_baseline"], "share_largest": verdict["share_largest"],
            "load_imbalance": verdict["load_imbalance"]}


def node_saturation(group: pd.DataFrame) -> str | None:
    """What the single-node points say, when the runs record their nodes: efficiency lost while
    every rank still shared one node is node saturation (memory bandwidth and caches per rank),
    not the network; the first point across nodes is where the network enters."""
    if "nodes" not in group or not group["nodes"].notna().any():
        return None
    above = group.loc[group["scale"] > 1.0].sort_values("scale")
    inside = above.loc[above["nodes"] == 1]
    if inside.empty:
        return None
    worst = inside.loc[inside["efficiency"].idxmin()]
    text = (f"up to {cores_text(inside['cores'].max())} every rank ran on one node: the "
            f"efficiency lost there (E = {worst['efficiency']:.3f} at "
            f"{cores_text(worst['cores'])}) is node saturation (memory bandwidth and caches "
            "shared by more ranks), not the network")
    across = above.loc[above["nodes"] > 1]
    if len(across):
        first = across.iloc[0]
        text += (f"; the network enters at {cores_text(first['cores'])} on "
                 f"{int(first['nodes'])} nodes (E = {first['efficiency']:.3f})")
    return text


def group_notes(group: pd.DataFrame, targets: Targets, baseline: int) -> list[str]:
    """The group's notes: node saturation, the core counts where runs were pooled, and a
    baseline other than the targets' (``baseline`` cores, whose 10x is not the targets' 10x)."""
    notes = []
    saturation = node_saturation(group)
    if saturation:
        notes.append(saturation)
    pooled = group.loc[group["runs"] > 1]
    if len(pooled):
        listed = ", ".join(f"{m} runs at {cores_text(c)}" for c, m in
                           zip(pooled["cores"][:8], pooled["runs"][:8], strict=True))
        more = f" and {len(pooled) - 8} more core counts" if len(pooled) > 8 else ""
        notes.append(f"{listed}{more} pooled: median and spread are over the repetitions of "
                     "all those runs; each run is one replicate in the model fits")
    if baseline != targets.baseline_cores:
        hint = (f"; pass --baseline-cores {targets.baseline_cores} to match"
                if (group["cores"] == targets.baseline_cores).any() else "")
        notes.append(f"baseline is {cores_text(baseline)}, so 10x here is "
                     f"{cores_text(10 * baseline)}; the platform's targets count scales from "
                     f"{cores_text(targets.baseline_cores)} (its 10x is "
                     f"{cores_text(10 * targets.baseline_cores)}), and every scale up to 10x is "
                     f"held to the 10x target{hint}")
    return notes


def measured_alerts(points: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """P2 alerts of the measured points (baseline and above) whose efficiency is below
    ``threshold``, one row each in :data:`ALERT_COLUMNS`."""
    low = points.loc[(points["efficiency"] < threshold) & (points["status"] != BELOW_BASELINE)]
    alerts = low[[*KEYS, "cores", "scale", "efficiency"]].copy()
    alerts["level"], alerts["kind"], alerts["threshold"], alerts["model"] = \
        "P2", "measured", threshold, None
    alerts["extrapolation"] = np.nan
    alerts["message"] = [
        f"P2: measured efficiency {e:.3f} < {threshold:.2f} at {cores_text(c)} ({r:g}x)"
        for e, c, r in zip(low["efficiency"], low["cores"], low["scale"], strict=True)
    ]
    return alerts.reindex(columns=ALERT_COLUMNS)


def distance_text(extrapolation: float) -> str:
    """``4x beyond the largest measured scale`` (``, far-extrapolated`` past the limit), or
    ``within the measured scales``."""
    if extrapolation <= 1.0:
        return "within the measured scales"
    far = ", far-extrapolated" if extrapolation > modelpredict.FAR_EXTRAPOLATION else ""
    return f"{extrapolation:.3g}x beyond the largest measured scale{far}"


def predicted_alerts(predicted: pd.DataFrame, keys: tuple[str, ...], model: str,
                     threshold: float) -> list[dict[str, object]]:
    """P2 alerts where only the model says so: predicted E below threshold at a target scale
    that was not measured, each with its extrapolation distance."""
    low = predicted.loc[(predicted["efficiency"] < threshold) & predicted["target_scale"]
                        & ~predicted["uncertain"]]
    return [
        {**dict(zip(KEYS, keys, strict=True)), "level": "P2", "kind": "predicted",
         "cores": cores, "scale": scale, "efficiency": eff, "threshold": threshold,
         "model": model, "extrapolation": far,
         "message": f"P2 predicted, not measured ({model}, {distance_text(far)}): efficiency "
                    f"{eff:.3f} < {threshold:.2f} at {scale:g}x ({cores_text(cores)})"}
        for scale, cores, eff, far in zip(low["scale"], low["cores"], low["efficiency"],
                                          low["extrapolation"], strict=True)
    ]
