"""``harness probe`` end to end: a schema-valid record and a loadable machine model at 1 and 2
ranks, oversubscription recorded, bad input refused."""

import json
import os
import subprocess
import sys

import pytest
from clitools import assert_refused, harness

from harness import machinefile
from harness.probe import record

pytestmark = pytest.mark.mpi


def written(out):
    """The probe record under ``out`` (exactly one), validated, and its model."""
    recs = sorted(out.glob("probe-*.json"))
    assert len(recs) == 1, recs
    data = json.loads(recs[0].read_text())
    record.validate(data, str(recs[0]))
    model = machinefile.load(out / data["model"])
    assert machinefile.load(out / "machine.toml") == model
    assert not any(p.name.startswith(".") for p in out.iterdir())  # no scratch, no temporary
    return data, model


@pytest.mark.parametrize("ranks", [1, 2])
def test_quick_probe_writes_a_valid_record_and_a_loadable_model(ranks, tmp_path):
    out = tmp_path / "probe"
    done = harness("probe", "--ranks", ranks, "--quick", "--out", out,
                   "--machine-name", "test-node")
    assert done.returncode == 0, done.stderr
    data, model = written(out)
    assert data["status"] == "ok" and data["ranks"] == ranks and data["quick"] is True
    assert data["pingpong"]["intra"]["pair"] == ([0, 1] if ranks == 2 else [0, 0])
    assert data["pingpong"]["intra"]["to_self"] is (ranks == 1)
    counts = [1, 2] if ranks == 2 else [1]
    assert [p["ranks"] for p in data["memory"]["points"]] == counts
    assert [p["writers"] for p in data["io"]["points"]] == counts
    assert {p["ranks"] for p in data["allreduce"]["intra"]["points"]} == set(counts)
    assert data["allreduce"]["intra"]["fit"]["source"] == ("allreduce" if ranks == 2
                                                           else "pingpong")
    assert data["halo"]["3d"]["neighbours"] == 26 and data["halo"]["2d"]["neighbours"] == 4
    every = [p for level in ("pingpong", "allreduce") for p in data[level]["intra"]["points"]]
    every += data["halo"]["2d"]["points"] + data["halo"]["3d"]["points"]
    assert all(p["verified"] for p in every)
    assert all(lo <= hi for p in every for lo, hi in zip(p["seconds_min"], p["seconds"],
                                                         strict=True))
    assert model.name == "test-node" and model.memory.counts == tuple(counts)
    assert model.intra.latency == data["pingpong"]["intra"]["fit"]["latency"]
    assert model.source["probe"] == f"probe-{data['probe_id']}.json"
    assert "ping-pong intra" in done.stdout and "status   ok" in done.stdout


def test_json_prints_the_record_alone(tmp_path):
    done = harness("probe", "--quick", "--json", "--out", tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data == json.loads((tmp_path / f"probe-{data['probe_id']}.json").read_text())


def test_started_by_mpiexec_it_runs_in_place(tmp_path):
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    done = subprocess.run([mpiexec, "-n", "2", sys.executable, "-m", "harness", "probe",
                           "--quick", "--out", str(tmp_path)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    data, _ = written(tmp_path)
    assert data["ranks"] == 2 and done.stdout.count("status   ok") == 1  # rank 0 prints


def test_oversubscription_is_recorded_and_the_model_says_so(tmp_path):
    ranks = len(os.sched_getaffinity(0)) + 1
    done = harness("probe", "--ranks", ranks, "--quick", "--out", tmp_path,
                   "--set", "samples=1")
    assert done.returncode == 0, done.stderr
    data, model = written(tmp_path)
    assert data["oversubscribed"] is True and "OVERSUBSCRIBED" in done.stdout
    assert model.source["oversubscribed"] is True
    assert any("not the machine's" in n for n in model.source["notes"])


@pytest.mark.parametrize(("args", "needle"), [
    (["--ranks", "0"], "--ranks"),
    (["--set", "nope=1"], "unknown probe size"),
    (["--set", "io=lots"], "io="),
    (["--set", "samples=0"], "samples"),
    (["--set", "pingpong_max"], "key=value"),
    (["--machine-name", " "], "--machine-name"),
    (["--time-limit", "-1"], "--time-limit"),
    # 100000 files of 64 GiB, or triad arrays of 3 x 64 GiB per rank: no disk or node holds them
    (["--set", "io=64G", "--ranks", "100000"], "io="),
    (["--set", "io=1K", "--set", "memory=64G", "--ranks", "100000"], "memory="),
])
def test_bad_input_is_one_line_and_exit_2(args, needle, tmp_path):
    out = tmp_path / "out"
    assert_refused(harness("probe", "--quick", "--out", out, *args), needle, out)


@pytest.mark.parametrize("ranks", ["1", "2"])
def test_an_unwritable_out_is_refused_before_anything_runs(ranks, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    done = harness("probe", "--quick", "--ranks", ranks, "--out", blocker / "sub")
    assert_refused(done, "--out", tmp_path / "nothing")
    assert blocker.read_text() == "not a directory"


def test_a_probe_past_its_time_limit_is_stopped_and_leaves_no_files(tmp_path):
    # samples that each aim at 10 s: no machine finishes this within the limit
    done = harness("probe", "--ranks", 2, "--out", tmp_path, "--time-limit", "0.5",
                   "--set", "sample_seconds=10", "--set", "samples=1000")
    assert done.returncode == 1, done.stderr
    assert "time limit" in done.stderr.strip().splitlines()[-1]
    assert list(tmp_path.iterdir()) == []  # no record, no model, no scratch directory
