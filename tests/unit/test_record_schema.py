"""The run record's JSON Schema: it ships in the package, accepts any harness.run/1.x record
with additive fields, refuses other majors and malformed records with one clear line, and says
what records.py checks."""

import dataclasses
import json
from importlib.resources import files

import pytest
from jsonschema import Draft202012Validator

from harness import record_schema as schema
from harness import records
from harness.errors import RecordError


def record(**changes) -> dict:
    """A valid ok record, as decoded JSON."""
    rec = records.RunRecord(
        run_id=records.new_run_id(), sweep_id="s1", workload="cfd", variant="blocking",
        mode="strong", size="tiny", params={"n": 64}, ranks=2, status="ok", repetitions=2,
        warmup=1, iterations=50, seconds=[0.5, 0.6], seconds_min=[0.4, 0.5],
        seconds_mean=[0.45, 0.55],
        phases={"compute": {"min": 0.3, "mean": 0.35, "max": 0.4}},
        fom={"name": "cell updates/s", "unit": "cell updates/s", "value": 1e8},
        verification={"passed": True, "method": "closed form", "checksum": {"sum": 1.0},
                      "error": 1e-15, "tolerance": 1e-9},
        provenance={"host": "h", "slurm": None, "env": {}},
        fixed_work={"updates": 204800}, startup={"min": 1.0, "mean": 1.1, "max": 1.2},
    )
    data = json.loads(json.dumps(rec.to_dict()))
    data.update(changes)
    return data


def test_the_schema_file_ships_in_the_package_and_is_a_valid_schema():
    text = files("harness").joinpath("schemas/run-1.json").read_text(encoding="utf-8")
    Draft202012Validator.check_schema(json.loads(text))
    assert schema.schema() == json.loads(text)


def test_the_schema_requires_what_records_requires_and_names_every_record_field():
    listed = schema.schema()["properties"]
    required = {name for name, (_, needed) in records._FIELDS.items() if needed}
    assert set(schema.schema()["required"]) == required
    assert {f.name for f in dataclasses.fields(records.RunRecord)} <= set(listed)


def test_a_valid_record_passes_and_its_version_is_read():
    data = record()
    schema.validate(data)
    records.validate(data)  # the two checks agree on a good record
    assert schema.version(data) == (1, 0)


@pytest.mark.parametrize("tag,expected", [("harness.run/1.0", (1, 0)),
                                          ("harness.run/1.7", (1, 7)),
                                          ("harness.run/1.12", (1, 12))])
def test_any_minor_version_with_additive_fields_passes(tag, expected):
    data = record(schema=tag, gpu={"model": "H200"}, cpu_quota=1.5, contention=0.02,
                  contended=False)
    schema.validate(data)
    assert schema.version(data) == expected


def test_failed_and_not_verified_records_pass():
    failed = records.failed(run_id=records.new_run_id(), sweep_id="s1", workload="fea",
                            variant="gather", mode="weak", size="tiny", params={}, ranks=4,
                            error="rank 1 died", provenance={"host": "h"})
    schema.validate(json.loads(json.dumps(failed.to_dict())))
    verification = {"passed": False, "method": "m", "checksum": {}, "error": None,
                    "tolerance": 1e-9}
    schema.validate(record(status="verification_failed", verification=verification, fom=None))


@pytest.mark.parametrize("tag", ["harness.run/2", "harness.run/2.0", "harness.run/0.9",
                                 "harness.run/10"])
def test_another_major_is_refused_naming_the_versions_read(tag):
    with pytest.raises(RecordError) as caught:
        schema.validate(record(schema=tag), "r.json")
    message = str(caught.value)
    assert message.startswith(f"r.json: schema {tag!r} is a major version this harness cannot")
    assert "harness.run/1 and any harness.run/1.x" in message
    assert "\n" not in message


@pytest.mark.parametrize("tag", ["harness.run", "harness.run/1.x", "harness.run/01", "run/1",
                                 "harness.run/1.", 1, None])
def test_a_schema_tag_that_is_not_a_version_is_refused(tag):
    with pytest.raises(RecordError, match=r"^r\.json: not a run record: field 'schema' is"):
        schema.validate(record(schema=tag), "r.json")


def test_a_record_without_schema_or_not_an_object_is_refused():
    data = record()
    del data["schema"]
    with pytest.raises(RecordError, match="not a run record: field 'schema' is None"):
        schema.validate(data, "r.json")
    with pytest.raises(RecordError, match="must be a JSON object, not list"):
        schema.validate([data], "r.json")


@pytest.mark.parametrize("changes,needle", [
    ({"ranks": 0}, "field 'ranks': 0 is less than the minimum of 1"),
    ({"ranks": True}, "field 'ranks': True is not of type 'integer'"),
    ({"ranks": 2.5}, "field 'ranks': 2.5 is not of type 'integer'"),
    ({"mode": "scaled"}, "field 'mode': 'scaled' is not one of ['strong', 'weak']"),
    ({"status": "done"}, "field 'status': 'done' is not one of"),
    ({"seconds": [0.5, -1.0]}, "field 'seconds[1]': -1.0 is less than the minimum of 0"),
    ({"seconds": []}, "field 'seconds': [] should be non-empty"),
    ({"run_id": "../x"}, "field 'run_id': '../x' does not match"),
    ({"phases": {"halo": {"min": 0.1, "max": 0.2}}}, "field 'phases.halo': 'mean' is a required"),
    ({"fom": {"name": "x", "value": 1.0}}, "'unit' is a required property"),
    ({"oversubscribed": "no"}, "field 'oversubscribed': 'no' is not of type 'boolean'"),
    ({"contended": 1}, "field 'contended': 1 is not of type 'boolean'"),
])
def test_a_malformed_field_is_named_in_one_line(changes, needle):
    with pytest.raises(RecordError) as caught:
        schema.validate(record(**changes), "r.json")
    message = str(caught.value)
    assert message.startswith("r.json: ")
    assert needle in message
    assert "\n" not in message


@pytest.mark.parametrize("name", ["run_id", "seconds", "verification", "provenance", "status"])
def test_a_missing_required_field_is_named(name):
    data = record()
    del data[name]
    with pytest.raises(RecordError, match=f"r.json: the record: '{name}' is a required property"):
        schema.validate(data, "r.json")


def test_an_ok_record_must_have_passed_its_verification():
    failing = dict(record()["verification"], passed=False)
    with pytest.raises(RecordError, match=r"field 'verification\.passed': True was expected"):
        schema.validate(record(verification=failing), "r.json")
    with pytest.raises(RecordError, match="field 'verification': None is not of type 'object'"):
        schema.validate(record(verification=None), "r.json")
