"""The run record's JSON Schema (``harness/schemas/run-1.json``) and the check against it.

The schema ships inside the package so that outside tools can validate records too::

    from importlib.resources import files
    schema = json.loads(files("harness").joinpath("schemas/run-1.json").read_text())

A record names its version in ``schema`` as ``harness.run/<major>[.<minor>]``. Minor versions
only add fields (the schema allows properties it does not list), so any ``harness.run/1.x`` is
read; another major is refused with a message that says which versions this harness reads
(docs/design.md, "Run record"). Cross-field rules the schema states too: a record with status
``ok`` has at least one time and a passed verification.

Checking is two-staged for speed: the compiled validator of ``jsonschema-rs`` (microseconds a
record) answers first, and only a record it does not accept goes to the ``jsonschema``
package, whose verdict stands and whose best-matching error names the field. What
``jsonschema-rs`` accepts, ``jsonschema`` accepts too (tests/unit/test_record_schema_fast.py);
the reverse does not hold (NaN and infinite numbers, outside its JSON model, it refuses), and
such records are decided by ``jsonschema`` as before.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.resources import files
from typing import Any

from harness.errors import RecordError

#: the major version of ``harness.run`` this harness reads, and its schema file in the package
MAJOR = 1
SCHEMA_FILE = f"schemas/run-{MAJOR}.json"
_VERSION = re.compile(r"harness\.run/(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?")


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``harness.run/1`` records, as a dict."""
    return json.loads(files("harness").joinpath(SCHEMA_FILE).read_text(encoding="utf-8"))


@cache
def _validator() -> Any:
    # imported here: reading a record's version must not cost the jsonschema import
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(schema())
    return Draft202012Validator(schema())


@cache
def _fast_validator() -> Any:
    """The schema compiled by ``jsonschema-rs``, or None where that package is missing."""
    try:
        import jsonschema_rs
    except ImportError:  # a platform without its wheel: the jsonschema package alone
        return None
    return jsonschema_rs.validator_for(schema())


def accepts(data: Any) -> bool:
    """Whether ``jsonschema-rs`` finds ``data`` valid (False where it is not installed, or for
    a value outside its JSON model: what it accepts, the ``jsonschema`` package accepts too)."""
    fast = _fast_validator()
    if fast is None:
        return False
    try:
        return bool(fast.is_valid(data))
    except (ValueError, TypeError, OverflowError):  # a value outside its JSON model
        return False


def version(data: Any, source: str = "<record>") -> tuple[int, int]:
    """The ``(major, minor)`` of a decoded record's ``schema`` field (minor 0 when absent).

    Raises
    ------
    RecordError
        When ``data`` is not a JSON object or its ``schema`` is not
        ``harness.run/<major>[.<minor>]``.
    """
    if not isinstance(data, dict):
        raise RecordError(f"{source}: a run record must be a JSON object, not "
                          f"{type(data).__name__}")
    tag = data.get("schema")
    match = _VERSION.fullmatch(tag) if isinstance(tag, str) else None
    if match is None:
        raise RecordError(f"{source}: not a run record: field 'schema' is {tag!r}, expected "
                          f"'harness.run/{MAJOR}' or 'harness.run/{MAJOR}.<minor>'")
    return int(match.group(1)), int(match.group(2) or 0)


def _where(path: Any) -> str:
    parts = list(path)
    if not parts:
        return "the record"
    text = str(parts[0])
    for part in parts[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return f"field {text!r}"


def validate(data: Any, source: str = "<record>") -> None:
    """Check a decoded run record against the ``harness.run/1`` JSON Schema.

    Parameters
    ----------
    data
        The record as ``json.loads`` returns it.
    source
        What to call the record in messages (its file name).

    Raises
    ------
    RecordError
        One line naming ``source`` and what is wrong: a schema version of another major (the
        message names the versions this harness reads), or the first field that breaks the
        schema (the most relevant error, as :func:`jsonschema.exceptions.best_match` ranks them).
    """
    if version(data, source)[0] != MAJOR:
        raise RecordError(
            f"{source}: schema {data['schema']!r} is a major version this harness cannot read; "
            f"it reads harness.run/{MAJOR} and any harness.run/{MAJOR}.x (additive fields): "
            "use a harness that writes or reads that version")
    if accepts(data):
        return
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(data))
    if error is not None:
        raise RecordError(f"{source}: {_where(error.absolute_path)}: {error.message}")
