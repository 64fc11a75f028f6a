"""Run records: round trip, atomic never-overwrite writes, and rejection of malformed files."""

import json
import math

import pytest

from harness import records
from harness.errors import RecordError


def make(**changes) -> records.RunRecord:
    rec = records.RunRecord(
        run_id=records.new_run_id(), sweep_id="s1", workload="cfd", variant="blocking",
        mode="strong", size="tiny", params={"n": 64}, ranks=2, status="ok", repetitions=2,
        warmup=1, iterations=50, seconds=[0.5, 0.6], seconds_min=[0.4, 0.5],
        seconds_mean=[0.45, 0.55],
        phases={"compute": {"min": 0.3, "mean": 0.35, "max": 0.4}},
        fom={"name": "cell updates/s", "unit": "cell updates/s", "value": 1e8},
        verification={"passed": True, "method": "closed form", "checksum": {"sum": 1.0},
                      "error": 1e-15, "tolerance": 1e-9},
        provenance={"host": "h"},
    )
    for k, v in changes.items():
        setattr(rec, k, v)
    return rec


def test_round_trip(tmp_path):
    rec = make()
    path = records.write(tmp_path, rec)
    assert path == tmp_path / "s1" / f"cfd-strong-p2-{rec.run_id}.json"
    back = records.load(path)
    assert back == rec
    assert json.loads(path.read_text())["schema"] == "harness.run/1"
    assert records.exists(tmp_path, "s1", rec.run_id) == path
    assert records.find([tmp_path]) == [path]
    assert not list((tmp_path / "s1").glob(".tmp-*"))  # no temp file left behind


def test_never_overwrites(tmp_path):
    rec = make()
    path = records.write(tmp_path, rec)
    before = path.read_bytes()
    with pytest.raises(RecordError, match="already exists"):
        records.write(tmp_path, make(run_id=rec.run_id, seconds=[9.0, 9.0]))
    assert path.read_bytes() == before


def test_a_sweep_may_be_called_jobs(tmp_path):
    path = records.write(tmp_path, make(sweep_id="jobs"))
    assert records.find([tmp_path]) == [path]


def test_run_ids_are_unique():
    assert len({records.new_run_id() for _ in range(1000)}) == 1000


@pytest.mark.parametrize("field,value,message", [
    ("ranks", None, "field 'ranks' is missing"),
    ("ranks", "2", "field 'ranks' must be int"),
    ("ranks", True, "field 'ranks' must be int"),
    ("ranks", 0, "field 'ranks' is 0"),
    ("threads_per_rank", 0, "field 'threads_per_rank' is 0"),
    ("nodes", 0, "field 'nodes' is 0"),
    ("ranks_per_node", -1, "field 'ranks_per_node' is -1"),
    ("warmup", -1, "field 'warmup' is -1"),
    ("status", "great", "field 'status'"),
    ("mode", "sideways", "field 'mode'"),
    ("schema", "harness.run/0", "field 'schema'"),
    ("seconds", [0.1, -1], "field 'seconds' entry 1"),
    ("seconds", [], "field 'seconds' is empty"),
    ("verification", None, "field 'verification' must record a passed"),
    ("phases", {"halo": {"min": 1}}, "field 'phases' entry 'halo'"),
    ("fom", {"name": "x"}, "field 'fom' must have"),
])
def test_rejects_malformed(tmp_path, field, value, message):
    data = make().to_dict()
    if value is None and field == "ranks":
        del data[field]
    else:
        data[field] = value
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(RecordError) as info:
        records.load(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_rejects_non_json_and_non_object(tmp_path):
    (tmp_path / "a.json").write_text("{not json")
    (tmp_path / "b.json").write_text("[1, 2]")
    with pytest.raises(RecordError, match="not valid JSON"):
        records.load(tmp_path / "a.json")
    with pytest.raises(RecordError, match="JSON object"):
        records.load(tmp_path / "b.json")


def test_failed_record_without_timings_is_valid(tmp_path):
    rec = make(status="failed", seconds=[], fom=None, verification=None, error="rank 1: boom")
    assert records.load(records.write(tmp_path, rec)).error == "rank 1: boom"


@pytest.mark.parametrize("bad", ["../escape", "a/b", "ok\n", "", "-flag", "x" * 129])
def test_unsafe_ids_rejected(tmp_path, bad):
    with pytest.raises(RecordError, match="sweep id"):
        records.write(tmp_path, make(sweep_id=bad))
    assert not any(tmp_path.iterdir())


def test_read_json_keeps_long_integers_and_reads_nan(tmp_path):
    """The fast JSON reader hands integers past 64 bits and NaN to the standard library, so a
    record reads the same either way."""
    path = tmp_path / "r.json"
    path.write_bytes(b'{"a": 123456789012345678901234567890, "b": NaN, "c": [1.5, "x"], '
                     b'"d": -9223372036854775809, "e": -9999999999999999999, '
                     b'"f": 18446744073709551615, "g": 18446744073709551616}')
    data, raw = records.read_json_bytes(path)
    assert data["a"] == 123456789012345678901234567890 and isinstance(data["a"], int)
    for key, value in (("d", -2**63 - 1), ("e", -9999999999999999999), ("f", 2**64 - 1),
                       ("g", 2**64)):
        assert data[key] == value and isinstance(data[key], int), key
    assert math.isnan(data["b"]) and data["c"] == [1.5, "x"]
    assert raw == path.read_bytes() and records.read_json(path)["c"] == [1.5, "x"]
    path.write_bytes(b'{"a": 1,}')
    with pytest.raises(RecordError, match=r"r\.json: not valid JSON \(line 1: "):
        records.read_json(path)


def test_find_lists_what_rglob_lists(tmp_path):
    """records.find's own directory walk: the *.json files rglob finds, in path order, without
    hidden files, sweep.json and kpi.json; a directory named *.json and a link to a directory
    are not records."""
    root = tmp_path / "res"
    for name in ("s1/a.json", "s1/b.json", "s1/kpi.json", "s1/sweep.json", "s1/.tmp-x.json",
                 "s1/notes.txt", "s2/deep/c.json", "s10/d.json", "e.json"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("{}")
    (root / "dir.json").mkdir()
    (root / "s1" / "link.json").symlink_to(root / "e.json")
    (root / "linked").symlink_to(root / "s2", target_is_directory=True)
    expected = [q for q in sorted(root.rglob("*.json"), key=lambda q: q.parts)
                if q.is_file() and not q.name.startswith(".")
                and q.name not in ("sweep.json", "kpi.json")]
    found = records.find([root])
    assert found == expected
    assert [q.relative_to(root).as_posix() for q in found] == [
        "e.json", "s1/a.json", "s1/b.json", "s1/link.json", "s10/d.json", "s2/deep/c.json"]
