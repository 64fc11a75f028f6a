"""``harness probe`` → ``harness predict --machine`` on a real tiny sweep at 1 and 2 ranks.

Nothing here depends on the machine's speed: the assertions are about what the prediction
is made of (its models, labels and arithmetic), never about the figures' size.
"""

from __future__ import annotations

import json
import math

import pytest
from clitools import harness, run_json


def test_probe_then_predict_a_real_sweep(tmp_path):
    sweep = tmp_path / "results"
    for ranks in (1, 2):
        rec = run_json("cfd", "--ranks", ranks, "--size", "tiny", "--out", sweep,
                       "--sweep-id", "tiny")
        assert rec["status"] == "ok"
    probe = harness("probe", "--ranks", 2, "--quick", "--out", tmp_path / "probe")
    assert probe.returncode == 0, probe.stderr
    model = tmp_path / "probe" / "machine.toml"
    assert model.is_file()

    done = harness("predict", sweep / "tiny", "--machine", model, "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["schema"] == "harness.predict/1"
    assert doc["machine"]["cores_per_node"] >= 1
    (group,) = doc["groups"]
    assert group["workload"] == "cfd" and group["size"] == "tiny"
    # the runs the analyzer keeps (a contended 2-rank run is left out) are what is fitted
    assert group["measured_cores"][0] == 1
    phases = {p["phase"]: p for p in group["phases"]}
    assert set(phases) == {"compute", "halo", "reduce"}
    # cfd states its costs: compute and halo have a calibrated mechanistic model
    for name, term in (("compute", {"compute", "bandwidth"}), ("halo", {"halo"})):
        mech = phases[name]["mechanistic"]
        assert mech is not None, group["notes"]
        assert set(mech["terms"]) & term
        assert math.isfinite(mech["factor"]) and mech["factor"] > 0
    assert [p["scale"] for p in group["predictions"]] == [10.0, 50.0, 100.0, 500.0]
    largest = max(group["measured_cores"])
    for p in group["predictions"]:
        assert p["label"] == "predicted"
        assert p["extrapolation"] == pytest.approx(p["cores"] / largest)
        parts = sum(v["seconds"] for v in p["phases"].values()) + p["remainder"]
        assert p["seconds"] == pytest.approx(parts, rel=1e-9)
        assert p["efficiency"] == pytest.approx(
            group["baseline_seconds"] / (p["scale"] * p["seconds"]), rel=1e-9)
    assert group["dominant"]["scale"] == 500.0
    assert {w["name"] for w in group["what_ifs"]} == {"infiniband", "parallel filesystem",
                                                      "async"}

    table = harness("predict", sweep / "tiny", "--machine", model)
    assert table.returncode == 0, table.stderr
    assert "PREDICTION, not a measurement" in table.stdout
    assert "Dominant at 500x (predicted)" in table.stdout
