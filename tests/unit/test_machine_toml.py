"""Writing the machine model as TOML (harness/machinefile.py: dumps, save): load(dumps(m)) == m."""

import os

import pytest

from harness import machine, machinefile
from harness.tomlfile import tomllib  # the stdlib module, or tomli before Python 3.11

FULL = machine.MachineModel(
    name="node01", cores_per_node=16, nodes=2,
    intra=machine.Link(4.1e-07, 9.8e09), inter=machine.Link(1.8e-06, 1.2e10),
    allreduce_intra=machine.Allreduce(6.0e-07, 2.1e-10),
    allreduce_inter=machine.Allreduce(2.3e-06, 0.0),
    memory=machine.Curve((1, 2, 4, 8, 16), (1.4e10, 2.7e10, 4.9e10, 7.0e10, 7.4e10)),
    io_write=machine.Curve((1, 2, 4), (1.1e9, 1.9e9, 2.0e9)),
    io_read=machine.Curve((1, 2, 4), (3.0e9, 5.2e9, 5.9e9)),
    io_path="/scratch/probe",
    source={"probe": "probe-x.json", "oversubscribed": False, "ranks": 32,
            "notes": ["one", "two"]},
)
MINIMAL = machine.MachineModel(
    name="", cores_per_node=1, intra=machine.Link(1e-6, 1e9),
    allreduce_intra=machine.Allreduce(1e-6, 1e-9), memory=machine.Curve.flat(1e10),
    io_write=machine.Curve.flat(1e8), io_read=machine.Curve.flat(2e8))


@pytest.mark.parametrize("model", [FULL, MINIMAL], ids=["full", "minimal"])
def test_dumps_then_load_gives_the_same_model(model, tmp_path):
    text = machinefile.dumps(model)
    assert machinefile.from_dict(tomllib.loads(text)) == model
    path = machinefile.save(model, tmp_path / "m" / "machine.toml")
    assert machinefile.load(path) == model
    assert text.startswith("# Machine model written by `harness probe`")


def test_a_model_with_overrides_round_trips_with_them():
    changed = machine.with_overrides(FULL, ["network.latency=1us", "io.bandwidth=10GB/s"])
    again = machinefile.from_dict(tomllib.loads(machinefile.dumps(changed)))
    assert again == changed
    assert again.source["overrides"] == ["network.latency=1us", "io.bandwidth=10GB/s"]


def test_none_in_source_is_left_out_and_unwritable_values_are_refused():
    model = machine.MachineModel(**{**MINIMAL.__dict__, "source": {"a": None, "b": 1}})
    assert tomllib.loads(machinefile.dumps(model))["source"] == {"b": 1}
    bad = machine.MachineModel(**{**MINIMAL.__dict__, "source": {"x": object()}})
    with pytest.raises(machine.MachineModelError, match="cannot write as TOML"):
        machinefile.dumps(bad)


def test_save_is_atomic_and_write_once_on_request(tmp_path):
    path = machinefile.save(FULL, tmp_path / "machine.toml")
    before = path.read_text()
    with pytest.raises(FileExistsError):
        machinefile.save(MINIMAL, path, replace=False)
    assert path.read_text() == before
    machinefile.save(MINIMAL, path)  # replace is the default: the latest model
    assert machinefile.load(path) == MINIMAL
    assert [p.name for p in tmp_path.iterdir()] == ["machine.toml"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_save_into_an_unwritable_directory_is_one_clear_error(tmp_path):
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(machine.MachineModelError, match="cannot write the machine model"):
            machinefile.save(FULL, locked / "machine.toml")
    finally:
        locked.chmod(0o700)


def test_save_under_a_file_is_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(machine.MachineModelError, match="cannot write the machine model"):
        machinefile.save(FULL, blocker / "machine.toml")
