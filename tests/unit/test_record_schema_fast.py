"""The run record's JSON Schema through jsonschema-rs first: whatever it accepts, the jsonschema
package accepts too, and what it refuses is decided by jsonschema, as before."""

from __future__ import annotations

import copy
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import record_schema as schema
from harness import records
from harness.errors import RecordError

FAST = schema._fast_validator()


def record() -> dict:
    """A valid ok record of every field, as decoded JSON."""
    rec = records.RunRecord(
        run_id="20261130T060153-fc7cc7dc", sweep_id="s1", workload="cfd", variant="blocking",
        mode="strong", size="tiny", params={"n": 64}, ranks=2, status="ok", repetitions=2,
        warmup=1, iterations=50, seconds=[0.5, 0.6], seconds_min=[0.4, 0.5],
        seconds_mean=[0.45, 0.55],
        phases={"compute": {"min": 0.3, "mean": 0.35, "max": 0.4}},
        fom={"name": "cell updates/s", "unit": "cell updates/s", "value": 1e8},
        extra_foms=[{"name": "bandwidth", "unit": "GB/s", "value": 5.8}],
        verification={"passed": True, "method": "closed form", "checksum": {"sum": 1.0},
                      "error": 1e-15, "tolerance": 1e-9},
        provenance={"host": "h", "git_sha": "abc", "git_dirty": False, "python": "3.11",
                    "mpi_library": "MPICH", "cpu_model": "cpu", "env": {"A": "1"},
                    "cpus_per_node": 2.0, "launcher": "mpiexec",
                    "slurm": {"job_id": "1", "partition": "p"}},
        fixed_work={"updates": 204800}, startup={"min": 1.0, "mean": 1.1, "max": 1.2},
    )
    return json.loads(json.dumps(rec.to_dict()))


def slow_accepts(data) -> bool:
    return schema._validator().is_valid(data)


pytestmark = pytest.mark.skipif(FAST is None, reason="jsonschema-rs is not installed")

#: JSON values, and the Python values json.loads can also give (NaN, infinities, huge ints)
leaves = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                   st.floats(allow_nan=True, allow_infinity=True),
                   st.text(max_size=6), st.sampled_from(["ok", "failed", "strong", "weak",
                                                          "harness.run/1", "a\n", ""]))
values = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(["min", "mean", "max", "name", "unit", "value", "passed",
                                     "x"]), inner, max_size=4)), max_leaves=8)


def _paths(data, prefix=()):
    """Every (path, value) in ``data``."""
    yield prefix, data
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for k, v in enumerate(data):
            yield from _paths(v, (*prefix, k))


PATHS = [p for p, _ in _paths(record()) if p]


def _holds(node, key) -> bool:
    if isinstance(node, dict):
        return isinstance(key, str)
    return isinstance(node, list) and isinstance(key, int) and key < len(node)


def _set(data, path, value) -> None:
    """Set ``data[path]`` to ``value`` where the path still leads somewhere (an earlier change
    may have replaced a part of it)."""
    node = data
    for key in path[:-1]:
        if not _holds(node, key) or (isinstance(node, dict) and key not in node):
            return
        node = node[key]
    if _holds(node, path[-1]):
        node[path[-1]] = value


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.lists(st.tuples(st.sampled_from(PATHS), values), min_size=1, max_size=3),
       drop=st.one_of(st.none(), st.sampled_from(sorted(record()))))
def test_what_jsonschema_rs_accepts_jsonschema_accepts(changes, drop):
    data = record()
    for path, value in changes:
        _set(data, path, copy.deepcopy(value))
    if drop is not None:
        data.pop(drop, None)
    try:
        fast = FAST.is_valid(data)
    except (ValueError, TypeError, OverflowError):
        fast = False
    if fast:
        assert slow_accepts(data)


@pytest.mark.parametrize("change", [
    {"created_at": "not a date"}, {"ranks": 2.0}, {"ranks": 10**30},
    {"schema": "harness.run/1.3"}, {"run_id": "x" * 128},
])
def test_both_accept(change):
    data = {**record(), **change}
    assert FAST.is_valid(data) and slow_accepts(data)
    schema.validate(data)


@pytest.mark.parametrize(("change", "needle"), [
    ({"ranks": True}, "'ranks'"), ({"ranks": 0}, "'ranks'"), ({"run_id": "a/b"}, "'run_id'"),
    ({"status": "ok", "seconds": []}, "seconds"), ({"provenance": {"env": {"A": 1}}}, "env"),
])
def test_a_refusal_still_names_the_field(change, needle):
    with pytest.raises(RecordError, match=needle):
        schema.validate({**record(), **change}, "r.json")


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_numbers_outside_jsonschema_rs_are_decided_by_jsonschema(value):
    """json.loads gives NaN and Infinity; the analyzer screens such times itself, so the schema
    check lets them through as it always did."""
    data = {**record(), "seconds": [value, 0.5]}
    assert not FAST.is_valid(data)
    schema.validate(data)


def test_without_jsonschema_rs_the_verdicts_are_the_same(monkeypatch):
    monkeypatch.setattr(schema, "_fast_validator", lambda: None)
    schema.validate(record())
    with pytest.raises(RecordError, match="'ranks'"):
        schema.validate({**record(), "ranks": 0}, "r.json")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.lists(st.tuples(st.sampled_from(PATHS), values), min_size=1, max_size=3),
       drop=st.one_of(st.none(), st.sampled_from(sorted(record()))))
def test_what_the_fast_record_path_accepts_both_checks_accept(changes, drop):
    """records.from_json builds a record the compiled schema accepts without running
    records.validate: only where validate and the schema accept it too, as the same record."""
    data = record()
    for path, value in changes:
        _set(data, path, copy.deepcopy(value))
    if drop is not None:
        data.pop(drop, None)
    if schema.accepts(data) and all(type(data[k]) is int for k in records._INTEGERS):
        fast = records.from_json(data, "r.json")
        assert fast == records.validate(data, "r.json")
        schema.validate(data, "r.json")


@pytest.mark.parametrize("change", [{"ranks": 2.0}, {"warmup": 1.0}, {"iterations": 5.0}])
def test_an_integer_written_as_a_float_is_refused_as_before(change):
    data = {**record(), **change}
    assert schema.accepts(data)  # JSON Schema's integer takes 2.0
    name = next(iter(change))
    with pytest.raises(RecordError, match=f"field '{name}' must be int, not float"):
        records.from_json(data, "r.json")
