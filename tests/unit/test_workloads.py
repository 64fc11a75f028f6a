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


#: per workload: the parameter that sets the problem's size and the power of it the work
#: grows with (cells n^2, nodes n^3, individuals, cases, iterations)
PROBLEM_SIZE = {"cfd": ("n", 2), "fea": ("n", 3), "opt": ("population", 1),
                "param": ("cases", 1), "calibrate": ("parallel_iterations", 1)}


def test_every_workload_says_what_sets_its_problem_size():
    assert set(PROBLEM_SIZE) == set(workloads.names())


@pytest.mark.parametrize("ranks", [2, 4, 8, 27])
@pytest.mark.parametrize("name", workloads.names())
def test_weak_mode_keeps_the_problem_per_rank(name, ranks):
    wl = workloads.get(name)
    key, power = PROBLEM_SIZE[name]
    one, _ = wl.resolve("small", {}, "weak", 1)
    many, _ = wl.resolve("small", {}, "weak", ranks)
    # the size parameter grows so that the problem grows with the ranks, up to rounding the
    # size parameter to a whole number (at most half a unit of it)
    grown = (many[key] / one[key]) ** power
    rounding = (1 + 0.5 / one[key] / ranks ** (1 / power)) ** power - 1
    assert grown == pytest.approx(ranks, rel=rounding + 1e-12)
    # and nothing else changes
    assert {k: v for k, v in many.items() if k != key} == {k: v for k, v in one.items()
                                                          if k != key}
    # strong mode keeps the problem whatever the ranks
    assert wl.resolve("small", {}, "strong", ranks)[0] == wl.resolve("small", {}, "strong", 1)[0]


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
