"""Every record the harness writes in a tiny real run validates against the shipped JSON Schema:
a local sweep's ok records, a record written by the rank that failed, and one written by the
supervising ``harness run`` when the time limit killed the run."""

import json

from clitools import harness

from harness import record_schema as schema
from harness import records

SPEC = """\
name = "schema-check"
cores = [1, 2]
runs = 1
reps = 2
warmup = 1
time_limit = "02:00"

[profile]
name = "local-cluster"
partition = "local"
cores_per_node = 2

[[workload]]
name = "calibrate"
size = "tiny"

[[workload]]
name = "cfd"
variants = ["blocking", "overlap"]
size = "tiny"
"""


def check_all(out) -> list[dict]:
    found = records.find([out])
    assert found, f"no records under {out}"
    decoded = []
    for path in found:
        data = json.loads(path.read_text(encoding="utf-8"))
        schema.validate(data, str(path))
        decoded.append(data)
    return decoded


def test_a_local_sweeps_records_validate(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC, encoding="utf-8")
    out = tmp_path / "results"
    done = harness("sweep", spec, "--local", "--out", out, "--sweep-id", "s", timeout=600)
    assert done.returncode == 0, done.stderr
    decoded = check_all(out / "s")
    points = {(d["workload"], d["variant"], d["ranks"]) for d in decoded}
    assert points == {("calibrate", "amdahl", 1), ("calibrate", "amdahl", 2),
                      ("cfd", "blocking", 1), ("cfd", "blocking", 2),
                      ("cfd", "overlap", 1), ("cfd", "overlap", 2)}
    assert {d["status"] for d in decoded} == {"ok"}
    assert all(d["schema"] == "harness.run/1" for d in decoded)


def test_failed_records_validate(tmp_path):
    rank_failed = harness("run", "cfd", "--ranks", 2, "--out", tmp_path / "a", "--json",
                          env={"HARNESS_INJECT_FAULT": "1"}, timeout=120)
    assert rank_failed.returncode == 1
    timed_out = harness("run", "cfd", "--ranks", 2, "--set", "n=1024", "--set", "steps=100000",
                        "--time-limit", 3, "--out", tmp_path / "b", "--json", timeout=120)
    assert timed_out.returncode == 1
    (by_rank,) = check_all(tmp_path / "a")
    (by_supervisor,) = check_all(tmp_path / "b")
    assert by_rank["status"] == by_supervisor["status"] == "failed"
    assert "fault injected on rank 1" in by_rank["error"]
    assert by_supervisor["error"] == "timeout after 3 s"
