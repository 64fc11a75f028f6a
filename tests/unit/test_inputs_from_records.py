"""``inputs.from_records``: records already read give the frame ``inputs.load`` gives for them."""

from __future__ import annotations

import pandas as pd
import pytest

from harness import inputs, records
from harness.errors import DataError, RecordError

PASSED = {"passed": True, "method": "closed form", "checksum": {"sum": 1.0}, "error": 0.0,
          "tolerance": 1e-9}


def make_record(**fields) -> records.RunRecord:
    base = {
        "run_id": records.new_run_id(), "sweep_id": "s1", "workload": "cfd",
        "variant": "blocking", "mode": "strong", "size": "tiny", "params": {}, "ranks": 2,
        "status": "ok", "repetitions": 3, "seconds": [1.0, 1.2, 1.1],
        "phases": {"compute": {"min": 0.7, "mean": 0.8, "max": 0.9}},
        "verification": PASSED, "provenance": {"host": "h", "cpu_model": "cpu"},
    }
    base.update(fields)
    return records.RunRecord(**base)


def written(out, recs):
    """Write ``recs`` under ``out`` and read them back as (record, path) in file order."""
    paths = [records.write(out, r) for r in recs]
    return [(records.load(p), str(p)) for p in paths]


def test_the_same_frames_as_load(tmp_path):
    recs = [make_record(ranks=r, seconds=[1.0 / r, 1.1 / r], overrides={"n": 64})
            for r in (1, 2, 4)]
    recs += [make_record(ranks=8, status="failed", seconds=[], verification=None,
                         error="rank 3 died"),
             make_record(ranks=16, oversubscribed=True)]
    pairs = written(tmp_path, recs)
    loaded = inputs.load([p for _, p in pairs])
    given = inputs.from_records(pairs)
    pd.testing.assert_frame_equal(given.repetitions, loaded.repetitions)
    pd.testing.assert_frame_equal(given.excluded, loaded.excluded)
    assert len(given.repetitions) == 6 and len(given.excluded) == 2


def test_a_run_given_twice_counts_once_and_a_clash_is_an_error(tmp_path):
    rec = make_record()
    given = inputs.from_records([(rec, "a.json"), (rec, "b.json")])
    assert given.repetitions["run"].nunique() == 1
    assert list(given.excluded["reason"]) == [f"the same run as a.json (run id {rec.run_id}): "
                                              "counted once"]
    other = make_record(run_id=rec.run_id, seconds=[2.0])
    with pytest.raises(DataError, match=r"b\.json and a\.json both hold run id"):
        inputs.from_records([(rec, "a.json"), (other, "b.json")])


def test_nothing_left_and_bad_cores_are_errors():
    failed = make_record(status="failed", seconds=[], verification=None, error="x")
    with pytest.raises(DataError, match="nothing to analyze: all 1 inputs were excluded"):
        inputs.from_records([(failed, "f.json")])
    with pytest.raises(DataError, match="no repetitions"):
        inputs.from_records([])
    with pytest.raises(RecordError, match="below 2\\^53"):
        inputs.from_records([(make_record(ranks=2**40, threads_per_rank=2**14), "big.json")])
