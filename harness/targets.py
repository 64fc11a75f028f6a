"""Efficiency targets: the platform's defaults and a TOML file that replaces them.

A target says which parallel efficiency a workload must keep at a scale ``r = p/p0`` (cores over
baseline cores). The defaults come from the platform's KPI sheet (docs/design.md, "Analysis
contract"):

====== ===========
scale  efficiency
====== ===========
10x    E > 0.90
50x    E > 0.87
100x   E > 0.85
500x   E > 0.80
====== ===========

with a baseline of 5 cores and a P2 alert for any efficiency below 0.70. A scale between rows
takes the *next row up* (r = 30 is held to the 50x target), a scale at or below the first row
takes the first row (r <= 10 takes the 10x target), and a scale above the last row has no target.
A point passes when its efficiency is strictly greater than its target.

``harness analyze --targets FILE`` replaces the whole table with a TOML file of this form
(every key is optional except at least one ``[[target]]``; omitted keys keep the defaults)::

    # efficiency a workload must keep, by scale over the baseline
    baseline_cores = 5     # cores the KPI sheet counts scales from (informational; see below)
    p2_alert = 0.70        # raise a P2 alert for any efficiency below this

    [[target]]
    scale = 10             # r = cores / baseline cores, a number >= 1, strictly increasing
    efficiency = 0.90      # required efficiency, in (0, 1]

    [[target]]
    scale = 50
    efficiency = 0.87

Unknown keys, scales that do not increase, and efficiencies outside (0, 1] are refused with
:class:`~harness.errors.SpecError` naming the file and the key. ``baseline_cores`` does not
change the analysis baseline (the smallest core count measured, or ``--baseline-cores``); the
analyzer notes when a group's baseline differs from it. An example ships as
``jobs/targets.example.toml``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import SpecError
from harness.tomlfile import tomllib

DEFAULT_BASELINE_CORES = 5
DEFAULT_P2_ALERT = 0.70
DEFAULT_ROWS: tuple[tuple[float, float], ...] = ((10, 0.90), (50, 0.87), (100, 0.85), (500, 0.80))

_TOP_KEYS = ("baseline_cores", "p2_alert", "target")
_ROW_KEYS = ("scale", "efficiency")


@dataclass(frozen=True)
class Targets:
    """A target table: ``scales[i]`` must keep efficiency above ``efficiencies[i]``.

    Attributes
    ----------
    scales, efficiencies
        Rows of the table, scales strictly increasing.
    p2_alert
        Any efficiency below this raises a P2 alert.
    baseline_cores
        The core count the KPI sheet counts scales from (informational).
    source
        Where the table came from: ``"platform defaults"`` or the file name.
    """

    scales: tuple[float, ...] = tuple(float(s) for s, _ in DEFAULT_ROWS)
    efficiencies: tuple[float, ...] = tuple(e for _, e in DEFAULT_ROWS)
    p2_alert: float = DEFAULT_P2_ALERT
    baseline_cores: int = DEFAULT_BASELINE_CORES
    source: str = "platform defaults"

    def target_for(self, scale: np.ndarray | float) -> np.ndarray:
        """Target efficiency for each scale: the row at or next above it; NaN above the last row.

        Parameters
        ----------
        scale
            Scales ``r = p/p0`` (any shape).

        Returns
        -------
        numpy.ndarray
            Target efficiencies, NaN where the scale is above the last row (no target).
        """
        r = np.asarray(scale, dtype=np.float64)
        table = np.asarray(self.scales, dtype=np.float64)
        # first row whose scale is >= r: "a scale between rows takes the next row up"
        index = np.searchsorted(table, r, side="left")
        values = np.append(np.asarray(self.efficiencies, dtype=np.float64), np.nan)
        return values[np.minimum(index, len(table))]

    def to_dict(self) -> dict[str, Any]:
        """The table as plain data (for JSON output)."""
        return {
            "source": self.source,
            "baseline_cores": self.baseline_cores,
            "p2_alert": self.p2_alert,
            "rows": [
                {"scale": s, "efficiency": e}
                for s, e in zip(self.scales, self.efficiencies, strict=True)
            ],
        }


def defaults() -> Targets:
    """The platform's default targets (docs/design.md, "Analysis contract")."""
    return Targets()


def _shown(value: Any) -> str:
    """``repr(value)`` for a message, cut short when long."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:30]}... ({len(text)} characters)"


def _number(value: Any) -> bool:
    """A finite int or float (not a bool); TOML integers too large for a float are not."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def load(path: str | Path) -> Targets:
    """Read a targets TOML file (format in the module docstring).

    Raises
    ------
    SpecError
        When the file cannot be read or parsed, has an unknown key, a value of the wrong kind or
        out of range, no ``[[target]]`` rows, or scales that do not strictly increase; the message
        names the file and the key.
    """
    path = Path(path)
    data = _read(path)

    def bad(key: str, why: str) -> SpecError:
        return SpecError(f"{path}: key {key!r} {why}")

    for key in data:
        if key not in _TOP_KEYS:
            raise bad(key, f"is not allowed; allowed keys are {', '.join(_TOP_KEYS)}")
    baseline = data.get("baseline_cores", DEFAULT_BASELINE_CORES)
    if (isinstance(baseline, bool) or not isinstance(baseline, int) or not
            1 <= baseline < 2**53):
        raise bad("baseline_cores", f"is {_shown(baseline)}; it must be a whole number >= 1 (and "
                  "< 2^53)")
    alert = data.get("p2_alert", DEFAULT_P2_ALERT)
    if not _number(alert) or not 0 < alert <= 1:
        raise bad("p2_alert", f"is {_shown(alert)}; it must be a number in (0, 1]")
    scales, efficiencies = _rows(data.get("target"), bad)
    return Targets(tuple(scales), tuple(efficiencies), float(alert), baseline, str(path))


def _read(path: Path) -> dict[str, Any]:
    """The parsed TOML of a targets file; a one-line :class:`SpecError` when it cannot be."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as e:
        raise SpecError(f"{path}: cannot read targets file ({e.strerror})") from e
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path}: not valid TOML ({e})") from e
    except UnicodeDecodeError as e:
        raise SpecError(f"{path}: not valid TOML (not UTF-8 text: byte {e.start})") from None
    except ValueError as e:  # e.g. an integer too long to convert
        raise SpecError(f"{path}: not valid TOML ({str(e).splitlines()[0][:120]})") from None


def _rows(rows: Any, bad: Callable[[str, str], SpecError]) -> tuple[list[float], list[float]]:
    """Scales and efficiencies of the ``[[target]]`` tables, checked row by row (``bad``
    makes the error that names the key)."""
    if not isinstance(rows, list) or not rows:
        raise bad("target", "must be one or more [[target]] tables with scale and efficiency")
    scales: list[float] = []
    efficiencies: list[float] = []
    for i, row in enumerate(rows):
        where = f"target[{i}]"
        if not isinstance(row, dict):
            raise bad(where, "must be a table with scale and efficiency")
        for key in row:
            if key not in _ROW_KEYS:
                raise bad(f"{where}.{key}",
                          f"is not allowed; a target has only {' and '.join(_ROW_KEYS)}")
        for key in _ROW_KEYS:
            if key not in row:
                raise bad(f"{where}.{key}", "is missing")
        scale, eff = row["scale"], row["efficiency"]
        if not _number(scale) or scale < 1:
            raise bad(f"{where}.scale", f"is {_shown(scale)}; it must be a number >= 1")
        if scales and scale <= scales[-1]:
            raise bad(f"{where}.scale",
                      f"is {scale!r}; scales must strictly increase (previous row {scales[-1]:g})")
        if not _number(eff) or not 0 < eff <= 1:
            raise bad(f"{where}.efficiency", f"is {_shown(eff)}; it must be a number in (0, 1]")
        scales.append(float(scale))
        efficiencies.append(float(eff))
    return scales, efficiencies
