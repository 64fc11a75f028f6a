"""The probe's sizes, pairs, record, schema and machine model (harness/probe/sizes.py,
pointtopoint.choose_pairs, driver.Layout, record.py) on hand-made measurements."""

import json
from dataclasses import asdict
from types import SimpleNamespace

import pytest

from harness import machine, machinefile
from harness.errors import RecordError, UsageError
from harness.probe import record, sizes
from harness.probe.driver import Layout
from harness.probe.pointtopoint import choose_pairs
from harness.tomlfile import tomllib  # the stdlib module, or tomli before Python 3.11


def timing(seconds, verified=True):
    return {"batch": 1, "seconds": [seconds, seconds * 1.1], "seconds_min": [seconds] * 2,
            "seconds_mean": [seconds] * 2, "time": seconds, "median": seconds * 1.05,
            "verified": verified}


def measured(ranks=2, alpha=2e-6, bandwidth=5e9, bad=None):
    """What driver.measure returns on rank 0 for one node, times from known models."""
    ladder = sizes.message_ladder(2**20)
    pp = [{"bytes": m, **timing(alpha + m / bandwidth)} for m in ladder]
    ar = [{"ranks": p, "bytes": m, **timing(3e-6 * (p > 1) + 1e-7 + 1e-9 * m)}
          for p in sizes.count_ladder(ranks) for m in ladder]
    if bad == "pingpong":
        pp[3]["verified"] = False
    halo = {"grid": [ranks, 1], "neighbours": 4,
            "points": [{"bytes": m, **timing(1e-5 + m / 1e9)} for m in ladder]}
    return {
        "hosts": ["node01"],
        "pingpong": {"intra": {"pair": [0, 1] if ranks > 1 else [0, 0], "hosts": ["node01"] * 2,
                               "points": pp}, "inter": None},
        "allreduce": {"intra": {"order": list(range(ranks)), "points": ar}, "inter": None},
        "halo": {"2d": halo, "3d": {**halo, "grid": [ranks, 1, 1], "neighbours": 26}},
        "memory": {"array_bytes": 2**27, "points": [
            {"ranks": j, **timing(0.05), "bandwidth": j * 8e9, "median_bandwidth": j * 7e9}
            for j in sizes.count_ladder(ranks)]},
        "io": {"file_bytes": 2**20, "cache_dropped": True, "points": [
            {"writers": w, "write": timing(0.01), "read": timing(0.002),
             "write_bandwidth": w * 1e8, "read_bandwidth": w * 5e8}
            for w in sizes.count_ladder(ranks)]},
        "contention": 0.02,
    }


def build(meas, oversubscribed=False, ranks=2):
    topo = SimpleNamespace(nodes=1, ranks_per_node=ranks, cpus_per_node=2.0,
                           oversubscribed=oversubscribed)
    return record.build(meas, probe_id="20261130T060000-abcdef12", machine_name="node01",
                        ranks=ranks, topo=topo, sizes=asdict(sizes.QUICK), quick=True,
                        io_path="/scratch", cache_bytes=2**25,
                        provenance={"host": "node01", "mpi_library": "MPICH", "python": "3.11",
                                    "numba": "0.60"})


def test_a_verified_record_gives_a_model_with_the_fitted_figures(tmp_path):
    rec = build(measured())
    assert rec["status"] == "ok" and rec["error"] is None
    fit = rec["pingpong"]["intra"]["fit"]
    assert fit["latency"] == pytest.approx(2e-6, rel=1e-6)
    assert fit["bandwidth"] == pytest.approx(5e9, rel=1e-6)
    ar = rec["allreduce"]["intra"]["fit"]
    assert ar["source"] == "allreduce" and ar["ranks"] == [2] and "p <= 2" in ar["note"]
    path, model_path = record.write(tmp_path, rec)
    data = json.loads(path.read_text())
    record.validate(data, str(path))
    assert data["model"] == model_path.name == "machine-20261130T060000-abcdef12.toml"
    model = machinefile.load(model_path)
    assert machinefile.load(tmp_path / "machine.toml") == model
    assert model.intra.latency == pytest.approx(2e-6, rel=1e-6)
    assert model.memory.counts == (1, 2) and model.memory.values == (8e9, 16e9)
    assert model.io_read.values == (5e8, 1e9) and model.io_path == "/scratch"
    assert model.source["probe"] == path.name and model.source["oversubscribed"] is False
    assert not model.inter_measured


def test_one_rank_takes_the_allreduce_from_the_ping_pong_and_says_so(tmp_path):
    rec = build(measured(ranks=1), ranks=1)
    ar = rec["allreduce"]["intra"]["fit"]
    assert ar["source"] == "pingpong" and "lower bound" in ar["note"]
    assert ar["alpha"] == rec["pingpong"]["intra"]["fit"]["latency"]
    assert any("itself" in n for n in rec["notes"])
    _, model_path = record.write(tmp_path, rec)
    assert any("itself" in n for n in machinefile.load(model_path).source["notes"])


def test_oversubscription_is_in_the_record_and_the_model(tmp_path):
    rec = build(measured(), oversubscribed=True)
    assert rec["oversubscribed"] is True
    _, model_path = record.write(tmp_path, rec)
    doc = tomllib.loads(model_path.read_text())
    assert doc["source"]["oversubscribed"] is True
    assert any("not the machine's" in n for n in doc["source"]["notes"])


def test_a_failed_verification_writes_the_record_without_a_model(tmp_path):
    rec = build(measured(bad="pingpong"))
    assert rec["status"] == "verification_failed"
    assert "ping-pong intra 512 B" in rec["error"]
    # the fit uses verified points only
    assert rec["pingpong"]["intra"]["fit"]["points"] == len(sizes.message_ladder(2**20)) - 1
    path, model_path = record.write(tmp_path, rec)
    assert model_path is None and json.loads(path.read_text())["model"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    with pytest.raises(machine.MachineModelError, match="verification failed"):
        record.model_of(rec)


def test_a_record_is_written_once(tmp_path):
    rec = build(measured())
    record.write(tmp_path, rec)
    with pytest.raises(RecordError, match="already exists"):
        record.write(tmp_path, rec)


def test_the_schema_refuses_a_broken_record_and_another_major():
    data = json.loads(json.dumps(record.records.finite(build(measured()) | {"model": "m"})))
    record.validate(data)
    with pytest.raises(RecordError, match="schema"):
        record.validate({**data, "schema": "harness.probe/2"})
    record.validate({**data, "schema": "harness.probe/1.3", "later": 1})  # additive minor
    broken = json.loads(json.dumps(data))
    broken["memory"]["points"][0]["bandwidth"] = -1
    with pytest.raises(RecordError, match=r"memory\.points\.0"):
        record.validate(broken)
    with pytest.raises(RecordError, match="model"):
        record.validate({**data, "model": None})  # status ok names its model


def test_sizes_parse_and_validate():
    assert sizes.parse_size("k", "16M") == 16 * 2**20
    assert sizes.parse_size("k", "64KiB") == 65536 and sizes.parse_size("k", "100") == 100
    got = sizes.sizes_from({"pingpong_max": "1M", "samples": "3", "sample_seconds": "0.01"},
                           quick=False)
    assert (got.pingpong_max, got.samples, got.sample_seconds) == (2**20, 3, 0.01)
    assert sizes.sizes_from({}, quick=True) == sizes.QUICK
    for settings, needle in [({"nope": "1"}, "unknown probe size"),
                             ({"io": "1.5M"}, "whole number"),
                             ({"pingpong_max": "4"}, "8 B to 1 GiB"),
                             ({"samples": "0"}, "1 to 1000"),
                             ({"sample_seconds": "x"}, "seconds")]:
        with pytest.raises(UsageError, match=needle):
            sizes.sizes_from(settings, quick=False)


def test_ladders():
    assert sizes.message_ladder(16 * 2**20)[:3] == [8, 32, 128]
    assert sizes.message_ladder(16 * 2**20)[-2:] == [8 * 2**20, 16 * 2**20]
    assert sizes.message_ladder(8) == [8]
    assert sizes.count_ladder(1) == [1] and sizes.count_ladder(8) == [1, 2, 4, 8]
    assert sizes.count_ladder(12) == [1, 2, 4, 8, 12]


def test_triad_arrays_follow_streams_rule_or_the_option():
    assert sizes.triad_array_bytes(sizes.QUICK, 4) == sizes.QUICK.memory
    auto = sizes.triad_array_bytes(sizes.ProbeSizes(), 2)
    assert auto % 8 == 0 and auto >= 2**10


def test_pairs_and_round_robin_from_host_names():
    assert choose_pairs(["a"]) == {"intra": (0, 0), "inter": None}
    assert choose_pairs(["a", "a", "b", "b"]) == {"intra": (0, 1), "inter": (0, 2)}
    assert choose_pairs(["a", "b", "b"]) == {"intra": (1, 2), "inter": (0, 1)}
    assert choose_pairs(["a", "b"]) == {"intra": (0, 0), "inter": (0, 1)}
    layout = Layout(["a", "a", "b", "b", "c"])
    assert layout.nodes == 3 and layout.on_host_of(3) == [2, 3]
    assert layout.round_robin() == [0, 2, 4, 1, 3]
