"""The report's "Compared with BASE" section: the report's inputs against an earlier sweep.

BASE is what ``harness compare`` accepts (a sweep directory, or a sweep id in the KPI store),
and the comparison *is* ``harness compare``'s (:mod:`harness.store.compare`): per shared point
the time ratio ``T_new / T_base`` (medians of the run medians), the efficiency change
``E_new - E_base``, and the verdict, a regression only when slower by more than the threshold and
significant (Welch's one-sided t-test on log run-median times, p < 0.05). Nothing is recomputed
here; this module only loads the two sides and counts the verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from harness.errors import DataError
from harness.metrics import label
from harness.store import compare as store_compare
from harness.store import engine as store_engine
from harness.targets import Targets

#: the default slowdown that counts, as ``harness compare`` has it
DEFAULT_THRESHOLD = "5%"
REGRESSION = "regression"


@dataclass
class Comparison:
    """What the section shows: BASE, the threshold (a fraction), the test, one row per shared
    point (``harness compare``'s columns, written as ``comparison.csv``)."""

    base: str
    threshold: float
    test: str
    frame: pd.DataFrame
    note: str = ""

    @property
    def regressions(self) -> int:
        return int((self.frame["verdict"] == REGRESSION).sum()) if len(self.frame) else 0

    def rows(self) -> list[dict]:
        """The frame's rows as dicts, each with its group's ``name`` (as the report labels it)
        and ``regression`` (bool)."""
        return [{**r, "name": label(r["workload"], r["mode"], r["variant"], r["problem"]),
                 "regression": r["verdict"] == REGRESSION}
                for r in self.frame.to_dict(orient="records")]

    def summary(self) -> str:
        """One sentence: how many shared points, how many regressions, how decided."""
        if self.note:
            return self.note
        n = len(self.frame)
        unreachable = int((self.frame["verdict"] == "slower, significance not reachable").sum())
        text = (f"{self.regressions} regression(s) in {n} shared point(s) against {self.base} "
                f"(slower by more than {self.threshold:.1%} and significant: {self.test})")
        if unreachable:
            text += (f"; {unreachable} slower point(s) had fewer than 2 runs on a side, so "
                     "significance could not be reached")
        return text + "."


def sqlite_absent(url: str | None) -> bool:
    """True when ``url`` (resolved as the store resolves it) names a SQLite file that does not
    exist: reading it would create an empty store, which a report must never do."""
    try:
        parsed = sa.make_url(store_engine.resolve(url))
    except (sa.exc.ArgumentError, ValueError):
        return False  # the store's own check gives the message
    database = parsed.database or ""
    return (parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:")
            and not database.startswith("file:") and not Path(database).exists())


def load_base(base: str, store_url: str | None) -> store_compare.Side:
    """BASE as ``harness compare`` reads it; a sweep id needs an existing store.

    Raises
    ------
    DataError
        BASE is neither a sweep directory nor a sweep id in the store, or holds nothing to
        compare.
    StoreError
        The store cannot be read.
    """
    if not Path(base).exists() and "/" not in base and base and sqlite_absent(store_url):
        url = store_engine.masked(store_engine.resolve(store_url))
        raise DataError(f"--compare {base}: not a directory, and there is no KPI store at {url} "
                        "to look a sweep id up in (give --store URL)")
    try:
        return store_compare.load_side(base, store_url)
    except DataError as e:
        raise DataError(f"--compare {e}") from None


def load_new(paths: list[Path]) -> store_compare.Side:
    """The report's inputs as one side: run records only (a CSV names no machine to check).

    Raises
    ------
    DataError
        An input is a CSV file, or the inputs hold nothing to compare.
    """
    for path in paths:
        if path.is_file() and path.suffix.lower() != ".json":
            raise DataError(f"--compare compares run records: {path} is a timing CSV, whose "
                            "machine is unknown; give sweep directories or record files")
    sides = [store_compare.load_side(str(p), None) for p in paths]
    if len(sides) == 1:
        return sides[0]
    frames, offset = [], 0
    for side in sides:  # run numbers are per load: keep them apart
        frames.append(side.repetitions.assign(run=side.repetitions["run"] + offset))
        offset += int(side.repetitions["run"].max()) + 1
    return store_compare.Side(" ".join(map(str, paths)), set().union(*(s.machines for s in sides)),
                              pd.concat(frames, ignore_index=True))


def parse_threshold(text: str | None) -> float:
    """The threshold as ``harness compare`` parses it (default 5 %)."""
    return store_compare.parse_threshold(text if text is not None else DEFAULT_THRESHOLD)


def nothing(base: str, threshold: float) -> Comparison:
    """The comparison of inputs in which nothing was measured (every run left out)."""
    frame = pd.DataFrame(columns=[*store_compare.POINT, "ratio", "efficiency_change", "verdict"])
    return Comparison(base, threshold, store_compare.TEST, frame,
                      note=f"Nothing was measured in the inputs, so nothing could be compared "
                           f"with {base}.")


def build(base: store_compare.Side, paths: list[Path], threshold: float,
          targets: Targets) -> Comparison:
    """Compare the report's inputs with BASE point by point.

    Raises
    ------
    DataError
        The sweeps come from different machines or share no point (``harness compare``'s
        refusals), or an input cannot be compared.
    """
    new = load_new(paths)
    try:
        frame = store_compare.compare(base, new, threshold, targets)
    except DataError as e:
        raise DataError(f"--compare: {e}") from None
    return Comparison(base.label, threshold, store_compare.TEST, frame)
