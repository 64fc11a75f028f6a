"""The workload registry and the contract every workload keeps.

The contract is in docs/design.md, "Workload contract".
"""

import pytest

from harness import workloads
from harness.errors import ParameterError, UsageError


@pytest.mark.parametrize("name", workloads.names())
def test_every_workload_keeps_the_contract(name):
    wl = workloads.get(name)
    assert wl.name == name and wl.description
    assert tuple(wl.sizes) == workloads.SIZES  # tiny, small, medium, large, in that order
    declared = {p.name for p in wl.params}
    for size, values in wl.sizes.items():
        assert set(values) == declared, f"{name} size {size} must set every parameter"
        _, variant = wl.resolve(size, {}, "strong", 1)
        assert variant == wl.variants[0]
    assert set(wl.deterministic_variants) <= set(wl.variants)
    assert wl.phases and len(set(wl.phases)) == len(wl.phases)


@pytest.mark.parametrize("name", workloads.names())
def test_weak_mode_grows_the_problem_with_the_ranks(name):
    wl = workloads.get(name)
    one, _ = wl.resolve("small", {}, "weak", 1)
    four, _ = wl.resolve("small", {}, "weak", 4)
    assert one != four


def test_unknown_workload_lists_the_valid_names():
    with pytest.raises(UsageError, match="choose one of cfd, fea, opt, param, calibrate"):
        workloads.get("lbm")


@pytest.mark.parametrize("raw,kind,expected", [
    ("12", int, 12), (" 7 ", int, 7), ("1e-3", float, 1e-3), (3, float, 3.0), ("x", str, "x"),
])
def test_param_parse(raw, kind, expected):
    assert workloads.Param("p", kind, "a parameter").parse(raw) == expected


@pytest.mark.parametrize("raw,kind,extra", [
    ("1.5", int, {}), (True, int, {}), ("nan", float, {}), ("inf", float, {}),
    ("0", int, {"positive": True}), ("-1", float, {"minimum": 0.0}),
    ("c", str, {"choices": ("a", "b")}),
])
def test_param_parse_refuses(raw, kind, extra):
    with pytest.raises(ParameterError, match="p="):
        workloads.Param("p", kind, "a parameter", **extra).parse(raw)
