"""The history section's selection from the store's rows: the report's groups only, at the target
scales, on the report's machines, and one value per sweep and scale (measured before predicted)."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from harness import targets
from harness.report import history

GROUP = {"workload": "cfd", "mode": "strong", "variant": "blocking", "problem": "tiny"}


def row(sweep, scale, kind, efficiency, machine="box", at="2026-01-05T10:00:00+00:00", **key):
    return {**GROUP, **key, "machine": machine, "scale": scale, "kind": kind,
            "sweep_id": sweep, "measured_at": at, "efficiency": efficiency,
            "interval_low": None, "interval_high": None, "target": 0.9, "status": "fail"}


def test_select_keeps_the_groups_target_scales_and_machines_measured_first():
    feb = "2026-02-05T10:00:00+00:00"
    frame = pd.DataFrame([
        row("s2", 10.0, "predicted", 0.5, at=feb),
        row("s2", 10.0, "measured", 0.6, at=feb),       # measured wins in its sweep
        row("s1", 10.0, "predicted", 0.7),
        row("s1", 4.0, "measured", 0.8),                 # not a target scale
        row("s1", 100.0, "predicted", 0.3, machine="elsewhere"),
        row("s1", 100.0, "predicted", 0.2, problem="small"),  # another problem
        row("s1", 100.0, "predicted", 0.4),
    ])
    sections = [SimpleNamespace(key={**GROUP, "size": "tiny", "machine": "Test CPU"})]
    picked = history.select(frame, sections, targets.defaults(), {"box"})
    assert list(zip(picked["sweep_id"], picked["scale"], picked["kind"], picked["efficiency"],
                    strict=True)) == [("s1", 10.0, "predicted", 0.7),
                                      ("s1", 100.0, "predicted", 0.4),
                                      ("s2", 10.0, "measured", 0.6)]
    assert list(picked.columns) == history.CSV_COLUMNS
    every_machine = history.select(frame, sections, targets.defaults(), set())
    assert set(every_machine["machine"]) == {"box", "elsewhere"}  # CSV inputs: no filter
    assert history.select(frame.iloc[:0], sections, targets.defaults(), {"box"}).empty
