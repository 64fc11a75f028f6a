"""Serial-fraction arithmetic and mitigations of the report (harness.report.amdahl)."""

import math

import numpy as np
import pandas as pd
import pytest

from harness import analysis, targets
from harness.report import amdahl


def test_efficiency_078_at_100x_is_a_serial_fraction_of_0285_percent_and_a_ceiling_of_351():
    f = amdahl.amdahl_fraction(0.78, 100)
    assert f == pytest.approx(0.0028490, rel=1e-4)  # not 22 %
    assert amdahl.ceiling(f) == pytest.approx(351.0, rel=1e-3)  # not 4.5x
    assert amdahl.percent(f) == "0.285 %"
    assert amdahl.times(amdahl.ceiling(f)) == "351×"


def test_amdahl_round_trip():
    for f in (0.0, 0.001, 0.05, 0.5):
        for r in (2.0, 10.0, 500.0):
            e = amdahl.amdahl_efficiency(f, r)
            assert amdahl.amdahl_fraction(e, r) == pytest.approx(f, abs=1e-12)


def test_serial_fraction_equals_the_analyzers_karp_flatt():
    reps = pd.DataFrame({"workload": "w", "mode": "strong", "cores": [4, 8, 40, 400],
                         "seconds": [100.0, 52.0, 12.0, 2.2]})
    points = analysis.analyze(reps, targets.defaults()).points
    for row in points.loc[points["scale"] > 1].itertuples():
        assert amdahl.amdahl_fraction(row.efficiency, row.scale) == \
            pytest.approx(row.karp_flatt, rel=1e-12)


def test_gustafson_fraction():
    # weak scaling: E = 1 - f (1 - 1/r)
    f, r = 0.1, 20.0
    assert amdahl.gustafson_fraction(1 - f * (1 - 1 / r), r) == pytest.approx(f)


@pytest.mark.parametrize("e, r", [(0.8, 1.0), (0.0, 10.0), (-1.0, 10.0), (math.nan, 10.0)])
def test_undefined_points_are_refused(e, r):
    with pytest.raises(ValueError):
        amdahl.amdahl_fraction(e, r)


def test_no_ceiling_without_serial_work():
    assert amdahl.ceiling(0.0) == math.inf
    assert amdahl.ceiling(-0.01) == math.inf
    assert amdahl.times(math.inf) == "no ceiling"


@pytest.mark.parametrize("name, phase, words", [
    ("Network I/O", "halo", "interconnect"),
    ("File I/O", "io", "parallel filesystem"),
    ("Synchronization", "reduce", "asynchronous"),
    ("Communication", "distribute", "larger messages"),
    (None, "halo", "interconnect"),
    ("Serial work", "serial", "serial part"),
    ("Odd", "odd", "odd"),
])
def test_mitigation_follows_the_bottleneck(name, phase, words):
    assert words in amdahl.mitigation(name, phase)


def test_serial_mitigation_names_the_fraction_and_ceiling():
    text = amdahl.mitigation("Serial work", "serial", 0.002849)
    assert "0.285 %" in text and "351×" in text
    assert amdahl.mitigation(None, None) == "-"


def test_percent_keeps_three_significant_digits():
    assert [amdahl.percent(x) for x in np.array([0.22, 0.0001234])] == ["22 %", "0.0123 %"]
