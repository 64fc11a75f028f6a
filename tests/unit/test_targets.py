"""Targets: the platform defaults, the step rule at and between rows, and TOML validation."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from harness import targets
from harness.errors import SpecError

EXAMPLE = Path(__file__).resolve().parents[2] / "jobs" / "targets.example.toml"

GOOD = """\
baseline_cores = 4
p2_alert = 0.5

[[target]]
scale = 2
efficiency = 0.75

[[target]]
scale = 8.5
efficiency = 1.0
"""


def test_defaults_are_the_kpi_sheet():
    t = targets.defaults()
    assert t.scales == (10.0, 50.0, 100.0, 500.0)
    assert t.efficiencies == (0.90, 0.87, 0.85, 0.80)
    assert t.baseline_cores == 5
    assert t.p2_alert == 0.70


@pytest.mark.parametrize(
    ("scale", "expected"),
    [
        (0.5, 0.90),     # below the first row: the first row
        (1.0, 0.90),     # the baseline itself: r <= 10 takes the 10x target
        (10.0, 0.90),    # at a row: that row
        (10.001, 0.87),  # just above a row: the next row up
        (30.0, 0.87),
        (50.0, 0.87),
        (75.0, 0.85),
        (100.0, 0.85),
        (100.5, 0.80),
        (500.0, 0.80),
        (500.01, math.nan),  # above the last row: no target
        (5000.0, math.nan),
    ],
)
def test_step_rule_at_and_between_rows(scale, expected):
    t = targets.defaults()
    got = float(t.target_for(scale))
    if math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == expected


def test_step_rule_vectorised_matches_scalar():
    t = targets.defaults()
    scales = np.array([1, 9.9, 10, 11, 49, 50, 51, 99, 100, 101, 499, 500, 501], dtype=float)
    vector = t.target_for(scales)
    scalar = np.array([float(t.target_for(s)) for s in scales])
    np.testing.assert_array_equal(vector, scalar)
    # oracle: smallest row scale >= r, by brute force
    rows = dict(zip(t.scales, t.efficiencies, strict=True))
    for r, got in zip(scales, vector, strict=True):
        above = [s for s in t.scales if s >= r]
        assert (math.isnan(got) and not above) or got == rows[min(above)]


def test_example_file_is_the_defaults():
    t = targets.load(EXAMPLE)
    d = targets.defaults()
    assert (t.scales, t.efficiencies, t.p2_alert, t.baseline_cores) == (
        d.scales, d.efficiencies, d.p2_alert, d.baseline_cores)
    assert t.source == str(EXAMPLE)


def test_load_replaces_the_table(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(GOOD)
    t = targets.load(path)
    assert t.scales == (2.0, 8.5)
    assert t.efficiencies == (0.75, 1.0)
    assert t.p2_alert == 0.5
    assert t.baseline_cores == 4
    assert float(t.target_for(3)) == 1.0
    assert math.isnan(float(t.target_for(9)))


def test_omitted_keys_keep_defaults(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text("[[target]]\nscale = 10\nefficiency = 0.5\n")
    t = targets.load(path)
    assert t.p2_alert == targets.DEFAULT_P2_ALERT
    assert t.baseline_cores == targets.DEFAULT_BASELINE_CORES


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("colour = 1\n" + GOOD, "colour"),
        (GOOD + "[[target]]\nscale = 9\nefficiency = 0.5\nnote = 'x'\n", "target[2].note"),
        (GOOD + "[[target]]\nscale = 8.5\nefficiency = 0.5\n", "target[2].scale"),
        (GOOD + "[[target]]\nscale = 3\nefficiency = 0.5\n", "target[2].scale"),
        (GOOD.replace("efficiency = 0.75", "efficiency = 0"), "target[0].efficiency"),
        (GOOD.replace("efficiency = 0.75", "efficiency = 1.2"), "target[0].efficiency"),
        (GOOD.replace("efficiency = 0.75", "efficiency = -0.5"), "target[0].efficiency"),
        (GOOD.replace("efficiency = 0.75", "efficiency = true"), "target[0].efficiency"),
        (GOOD.replace("efficiency = 0.75", "efficiency = '0.75'"), "target[0].efficiency"),
        (GOOD.replace("efficiency = 0.75\n", ""), "target[0].efficiency"),
        (GOOD.replace("scale = 2", "scale = 0.5"), "target[0].scale"),
        (GOOD.replace("p2_alert = 0.5", "p2_alert = 1.5"), "p2_alert"),
        (GOOD.replace("baseline_cores = 4", "baseline_cores = 0"), "baseline_cores"),
        (GOOD.replace("baseline_cores = 4", "baseline_cores = 2.5"), "baseline_cores"),
        ("p2_alert = 0.6\n", "target"),
    ],
)
def test_bad_files_name_file_and_key(tmp_path, text, key):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        targets.load(path)
    message = str(info.value)
    assert str(path) in message
    assert repr(key) in message
    assert "\n" not in message


def test_unparsable_and_missing_files(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("[[target]\nscale = ")
    with pytest.raises(SpecError, match="not valid TOML"):
        targets.load(broken)
    with pytest.raises(SpecError, match="cannot read"):
        targets.load(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"[[target]]\nscale = 10\nefficiency = 0.9\n# caf\xe9 in Latin-1\n",
         "not valid TOML (not UTF-8 text: byte"),
        # TOML integers are unbounded; beyond Python's digit limit the parser itself refuses
        (b"[[target]]\nscale = 1" + b"0" * 5000 + b"\nefficiency = 0.9\n", "not valid TOML ("),
    ],
)
def test_undecodable_files_are_spec_errors(tmp_path, content, says):
    path = tmp_path / "odd.toml"
    path.write_bytes(content)
    with pytest.raises(SpecError) as info:
        targets.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {says}") and "\n" not in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[[target]]\nscale = 1" + "0" * 400 + "\nefficiency = 0.9\n", "target[0].scale"),
        ("[[target]]\nscale = 10\nefficiency = 1" + "0" * 400 + "\n", "target[0].efficiency"),
        ("p2_alert = 1" + "0" * 400 + "\n[[target]]\nscale = 10\nefficiency = 0.9\n", "p2_alert"),
        ("baseline_cores = 1" + "0" * 400 + "\n[[target]]\nscale = 10\nefficiency = 0.9\n",
         "baseline_cores"),
    ],
)
def test_integers_too_large_for_a_float_are_refused(tmp_path, text, key):
    path = tmp_path / "huge.toml"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        targets.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: key {key!r} is 1000000000")
    assert "(401 characters)" in message and len(message) < len(str(path)) + 150
