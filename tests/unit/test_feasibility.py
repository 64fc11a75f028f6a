"""Feasibility arithmetic: nodes, memory of the first node, core-hours; profile sizes."""

import pytest

from harness import feasibility, workloads
from harness.errors import SpecError
from harness.feasibility import RANK_OVERHEAD, InfeasibleError, check_spec, plan
from harness.profiles import load_profile, parse_memory
from harness.specs import load_spec


def spec_file(tmp_path, profile, workload='name = "param"\nsize = "tiny"', cores="[5, 120]"):
    path = tmp_path / "s.toml"
    path.write_text(f'name = "s"\ncores = {cores}\nruns = 2\ntime_limit = "30"\n'
                    f"[profile]\n{profile}\n[[workload]]\n{workload}\n")
    return load_spec(path)


def test_nodes_memory_and_core_hours_of_each_point(tmp_path):
    spec = spec_file(tmp_path, 'cores_per_node = 50\nmemory_per_node = "64G"')
    five, hundred_twenty = plan(spec)
    assert (five.nodes, five.ranks_per_node) == (1, 5)
    assert (hundred_twenty.nodes, hundred_twenty.ranks_per_node) == (3, 40)
    wl = workloads.get("param")
    p = hundred_twenty.point
    node = sum(wl.memory_per_rank(p.resolved, p.variant, 120, r) + RANK_OVERHEAD
               for r in range(40))
    assert hundred_twenty.memory_per_node == node
    assert hundred_twenty.memory_per_rank == wl.memory_per_rank(
        p.resolved, p.variant, 120, 0) + RANK_OVERHEAD  # rank 0 holds every result row
    # not exclusive: the ranks are billed; 2 runs of 30 minutes each
    assert hundred_twenty.core_hours == pytest.approx(120 * 2 * 0.5)
    assert five.refused is None and hundred_twenty.refused is None


def test_exclusive_nodes_are_billed_whole(tmp_path):
    spec = spec_file(tmp_path, "cores_per_node = 50\nexclusive = true")
    assert [pp.core_hours for pp in plan(spec)] == pytest.approx([50.0, 150.0])


def test_memory_refusal_names_workload_size_cores_and_limit(tmp_path):
    spec = spec_file(tmp_path, 'cores_per_node = 50\nmemory_per_node = "1G"')
    with pytest.raises(InfeasibleError) as info:
        check_spec(spec)
    message = str(info.value)
    assert "param/static strong tiny at 5 cores: needs 1.3 GiB on its first node" in message
    assert "more than memory_per_node 1.0 GiB" in message and "\n" not in message


def test_local_backend_uses_this_machines_memory(tmp_path, monkeypatch):
    spec = spec_file(tmp_path, "cores_per_node = 2")
    assert all(pp.nodes == 1 for pp in plan(spec, "local"))  # one machine, oversubscribed
    monkeypatch.setattr(feasibility, "local_memory", lambda: 2 ** 30)
    with pytest.raises(InfeasibleError, match=r"more than this machine's 1\.0 GiB"):
        check_spec(spec, "local")
    assert check_spec(spec, "slurm")  # the profile gives no memory_per_node: not checked


def test_max_nodes(tmp_path):
    spec = spec_file(tmp_path, "cores_per_node = 50\nmax_nodes = 2")
    with pytest.raises(InfeasibleError, match="at 120 cores: needs 3 nodes"):
        check_spec(spec)


@pytest.mark.parametrize("text,value", [("256G", 256 * 2 ** 30), ("1T", 2 ** 40),
                                        ("192000M", 192000 * 2 ** 20), ("64K", 65536)])
def test_memory_sizes(text, value):
    assert parse_memory(text) == value
    assert load_profile({"memory_per_node": text}).memory_per_node == value


@pytest.mark.parametrize("bad", ["256", "256GB", "0G", "-1G", "1.5G", 256, "256 G", "G"])
def test_bad_memory_sizes_are_refused(bad):
    with pytest.raises(SpecError, match="memory_per_node"):
        load_profile({"memory_per_node": bad}, "p.toml")
