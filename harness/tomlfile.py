"""TOML files: the one ``tomllib``/``tomli`` shim of the project, and the guarded read of a spec.

Specs, cluster profiles and targets files are TOML. Python 3.11 ships :mod:`tomllib`; 3.10 gets
the same parser as ``tomli`` (a dependency there). :func:`read_toml` is the careful read a spec
or profile file gets before it is parsed: a size limit, UTF-8 without a byte-order mark, and one
:class:`~harness.errors.SpecError` line naming the file for every way it can fail.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from harness.errors import SpecError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["MAX_SPEC_BYTES", "read_toml", "tomllib"]

#: a spec larger than this is not a spec (and reading it whole would be the first fault)
MAX_SPEC_BYTES = 1 << 20


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file: UTF-8 without a byte-order mark, at most :data:`MAX_SPEC_BYTES`.

    Raises
    ------
    SpecError
        One line naming the file: missing, unreadable, too large, not UTF-8, starting with a
        byte-order mark, or not valid TOML.
    """
    try:
        if path.is_file() and path.stat().st_size > MAX_SPEC_BYTES:
            raise SpecError(f"{path}: larger than {MAX_SPEC_BYTES >> 20} MiB; not a spec")
        with path.open("rb") as fh:
            raw = fh.read(MAX_SPEC_BYTES + 1)
    except FileNotFoundError:
        raise SpecError(f"{path}: no such spec file") from None
    except IsADirectoryError:
        raise SpecError(f"{path}: is a directory, not a spec file") from None
    except OSError as e:
        raise SpecError(f"{path}: cannot read ({e.strerror})") from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(f"{path}: larger than {MAX_SPEC_BYTES >> 20} MiB; not a spec")
    if raw.startswith(b"\xef\xbb\xbf"):
        raise SpecError(f"{path}: starts with a UTF-8 byte-order mark; save it as UTF-8 "
                        "without BOM")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SpecError(f"{path}: not UTF-8 text (byte {e.start} is {raw[e.start]:#04x}); "
                        "save it as UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path}: not valid TOML ({e})") from None
    except RecursionError:
        raise SpecError(f"{path}: not valid TOML (nested too deeply)") from None
