"""Read a timing CSV into tidy repetitions for the analyzer, checking every cell.

A timing CSV has the columns ``workload, mode, cores, seconds`` and optionally ``variant``,
``size`` (the named problem size) and ``phase_<name>`` (seconds spent in that phase;
``phasemax_<name>`` may give its maximum over ranks). Each row is one measured repetition; other
columns are ignored. The rows of one file with the same workload, mode, variant, size and cores
share a ``run`` number (one row per repetition is the format). :func:`read_csv` gives the columns
of :mod:`harness.inputs` (``problem`` is the size: a CSV names no overrides); a bad cell is one
:class:`~harness.errors.DataError` line naming the file, line, column and what is allowed.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.errors import DataError
from harness.metrics import MAX_CORES, MODES, PHASE, PHASE_MAX

REQUIRED = ("workload", "mode", "cores", "seconds")
#: the key columns a CSV may have (``problem`` is derived from them)
CSV_LABELS = ("workload", "mode", "variant", "size")
_CSV_FORMAT = "columns workload, mode, cores, seconds (optional: variant, size, phase_<name>)"


def _is_phase(column: str) -> bool:
    for prefix in (PHASE, PHASE_MAX):
        if column.startswith(prefix) and len(column) > len(prefix):
            return True
    return False


def _bad_cell(path: Path, frame: pd.DataFrame, bad: np.ndarray, column: str, rule: str
              ) -> DataError:
    """One line naming the first bad cell of ``column``: file, line, value, and what is allowed."""
    positions = np.flatnonzero(bad)
    first = positions[0]
    raw = frame[column].iloc[first]
    shown = "an empty cell" if pd.isna(raw) else repr(str(raw))
    line = int(frame.index[first]) + 2  # the header is line 1
    others = len(positions) - 1
    more = f" ({others} more bad row{'s' if others > 1 else ''} in this column)" if others else ""
    return DataError(
        f"{path}: line {line}, column {column!r}: {shown} is not allowed; {rule}{more}")


def _label_column(path: Path, frame: pd.DataFrame, column: str, rule: str,
                  allowed: tuple[str, ...] | None = None, default: str | None = None
                  ) -> pd.Categorical:
    """A string column as a categorical, stripped; checked on its distinct values only (fast)."""
    if column not in frame:
        return pd.Categorical.from_codes(np.zeros(len(frame), dtype=np.int8), [default or ""])
    codes, uniques = pd.factorize(frame[column], use_na_sentinel=True)
    labels = [str(u).strip() for u in uniques]
    if allowed is not None:
        labels = [u.lower() for u in labels]
    if default is not None:  # empty cells take the default
        codes = np.where(codes < 0, len(labels), codes)
        labels.append(default)
    bad_codes = [i for i, u in enumerate(labels)
                 if (not u and default is None) or (allowed and u not in allowed)]
    bad = codes < 0
    if bad_codes:
        bad = bad | np.isin(codes, bad_codes)
    if bad.any():
        raise _bad_cell(path, frame, bad, column, rule)
    # distinct raw values may strip to the same label: merge them
    cats = pd.Index(labels)
    if cats.has_duplicates:
        uniq, inverse = np.unique(np.asarray(labels, dtype=object), return_inverse=True)
        return pd.Categorical.from_codes(inverse[codes], list(uniq))
    return pd.Categorical.from_codes(codes, labels)


def _numeric(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """``column`` as float64, and where a non-empty cell did not parse as a number."""
    raw = frame[column]
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        values = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        return values, np.zeros(len(values), dtype=bool)
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    unparsed = np.isnan(values) & raw.notna().to_numpy()
    return values, unparsed


def _run_numbers(codes: list[np.ndarray]) -> np.ndarray:
    """One number per distinct combination of the (non-negative) code arrays, 0, 1, ... in order
    of first appearance; re-factorized after each column so the products stay small."""
    combined = np.zeros(len(codes[0]), dtype=np.int64)
    for column in codes:
        column = np.asarray(column, dtype=np.int64)
        combined = pd.factorize(combined * (int(column.max()) + 1) + column)[0]
    return combined


def read_csv(path: str | os.PathLike[str], first_run: int = 0) -> pd.DataFrame:
    """Read and validate one timing CSV into tidy repetitions (see the module docstring).

    Parameters
    ----------
    path
        The CSV file.
    first_run
        ``run`` number of the file's first run; its other runs (distinct workload, mode,
        variant, size and cores) are numbered on from it.

    Raises
    ------
    DataError
        When the file is unreadable or empty, lacks a required column, or has a cell that is not
        allowed (empty label, mode other than strong/weak, cores not a whole number >= 1 and
        < 2^53, seconds not a number > 0, a negative or non-numeric phase time); one line naming the
        file, the line and column, and what is allowed.
    """
    path = Path(path)
    frame = _csv_table(path)
    out: dict[str, Any] = {
        "workload": _label_column(path, frame, "workload", "workload must be a non-empty name"),
        "mode": _label_column(path, frame, "mode", "mode must be strong or weak", allowed=MODES),
        "variant": _label_column(path, frame, "variant", "variant must be a name", default=""),
        "size": _label_column(path, frame, "size", "size must be a name", default=""),
    }
    out["problem"] = out["size"]  # a CSV names no overrides: the problem is its size
    out["cores"] = _csv_cores(path, frame)
    out["seconds"] = _csv_seconds(path, frame)
    out["run"] = first_run + _run_numbers([*(out[k].codes for k in CSV_LABELS),
                                           pd.factorize(out["cores"])[0]])
    out["source"] = pd.Categorical.from_codes(np.zeros(len(frame), dtype=np.int8), [str(path)])
    for column in sorted(c for c in frame.columns if _is_phase(c)):
        out[column] = _csv_phase(path, frame, column)
    return pd.DataFrame(out)


def _csv_table(path: Path) -> pd.DataFrame:
    """The rows of a timing CSV as pandas reads them (labels as text), with the required
    columns present and wholly blank rows dropped; a :class:`DataError` for anything else."""
    try:
        # a row longer than the header is an error, not a silent index column
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(path, dtype=dict.fromkeys(CSV_LABELS, str),
                                skip_blank_lines=False, skipinitialspace=True, low_memory=False,
                                index_col=False)
    except pd.errors.ParserWarning:
        raise DataError(f"{path}: a row has more cells than the header; a timing CSV needs "
                        f"{_CSV_FORMAT}") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty; a timing CSV needs {_CSV_FORMAT}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"{path}: not a readable CSV ({reason})") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})") from e
    frame.columns = [str(c).strip() for c in frame.columns]
    for column in REQUIRED:
        if column not in frame.columns:
            hint = ("; the header looks separated by ';': save it with ',' as the separator"
                    if len(frame.columns) == 1 and ";" in frame.columns[0] else "")
            raise DataError(f"{path}: missing column {column!r}; a timing CSV needs "
                            f"{_CSV_FORMAT}{hint}")
    blank = frame[list(REQUIRED)].isna().all(axis=1).to_numpy()
    if blank.any():
        frame = frame.loc[~blank]
    if frame.empty:
        raise DataError(f"{path}: no data rows; a timing CSV needs {_CSV_FORMAT}")
    return frame


def _csv_cores(path: Path, frame: pd.DataFrame) -> np.ndarray:
    """The ``cores`` column as int64: whole numbers >= 1 and below :data:`MAX_CORES`."""
    cores, unparsed = _numeric(frame, "cores")
    with np.errstate(invalid="ignore"):
        bad = (unparsed | ~np.isfinite(cores) | (cores < 1) | (cores >= MAX_CORES)
               | (cores != np.floor(cores)))
    if bad.any():
        raise _bad_cell(path, frame, bad, "cores", "cores must be a whole number >= 1 (and < 2^53)")
    return cores.astype(np.int64)


def _csv_seconds(path: Path, frame: pd.DataFrame) -> np.ndarray:
    """The ``seconds`` column as float64: finite numbers > 0."""
    seconds, unparsed = _numeric(frame, "seconds")
    with np.errstate(invalid="ignore"):
        bad = unparsed | ~np.isfinite(seconds) | (seconds <= 0)
    if bad.any():
        raise _bad_cell(path, frame, bad, "seconds", "seconds must be a number > 0")
    return seconds


def _csv_phase(path: Path, frame: pd.DataFrame, column: str) -> np.ndarray:
    """A ``phase_<name>`` or ``phasemax_<name>`` column as float64: numbers >= 0 or NaN
    (empty cells)."""
    values, unparsed = _numeric(frame, column)
    with np.errstate(invalid="ignore"):
        bad = unparsed | np.isinf(values) | (values < 0)
    if bad.any():
        raise _bad_cell(path, frame, bad, column,
                        "a phase time must be a number >= 0 (or left empty)")
    return values
