"""What ``harness smoke`` runs and how it compares checksums."""

from harness import workloads
from harness.cli.smoke import RANKS, checksums_agree, smoke_points


def test_every_workload_and_variant_at_one_and_two_ranks():
    points = smoke_points()
    expected = {(name, variant, ranks) for name in workloads.names()
                for variant in workloads.get(name).variants for ranks in RANKS}
    assert {(p.workload, p.variant, p.ranks) for p in points} == expected
    assert len(points) == len(expected)
    assert all(p.size == "tiny" and p.mode == "strong" for p in points)


def test_checksums_bitwise_when_no_tolerance():
    assert checksums_agree({"sum": 1.0, "l2": 2.0}, {"sum": 1.0, "l2": 2.0}, 0.0)
    assert not checksums_agree({"sum": 1.0}, {"sum": 1.0 + 2e-16}, 0.0)
    assert not checksums_agree({"sum": 1.0}, {"l2": 1.0}, 0.0)


def test_checksums_within_a_stated_tolerance():
    assert checksums_agree({"sum": 1.0}, {"sum": 1.0 + 1e-12}, 1e-10)
    assert not checksums_agree({"sum": 1.0}, {"sum": 1.0 + 1e-9}, 1e-10)
