"""One way to write a file (JSON, or any text) so that no reader ever sees half of it.

The document goes to a temporary file in the target's own directory, is flushed and fsynced,
then moved into place in one step: ``os.link`` when an existing file must never be replaced (a run
record is written once), ``os.replace`` when it is the newer state of the same thing
(``sweep.json``, the latest machine model). A crash leaves either the old file or the new one,
never a mixture. :func:`write_json` serialises a document; :func:`write_text` writes text as is
(a TOML machine model).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_text(path: str | os.PathLike[str], text: str, *, replace: bool,
               prefix: str = ".tmp-") -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; the directory is created.

    Parameters
    ----------
    path
        The file to write.
    text
        The whole content, written as is.
    replace
        True: an existing file is replaced. False: an existing file is an error and stays as
        it was.
    prefix
        Prefix of the temporary file's name (it lives beside ``path`` until the move).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    FileExistsError
        ``replace`` is False and ``path`` exists.
    OSError
        The directory cannot be created or written.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, target)
        else:
            os.link(tmp, target)  # fails if target exists
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def write_json(path: str | os.PathLike[str], data: Any, *, replace: bool,
               prefix: str = ".tmp-") -> Path:
    """Write ``data`` (a JSON-serialisable document) as indented JSON to ``path`` atomically;
    arguments, result and errors as :func:`write_text`."""
    return write_text(path, json.dumps(data, indent=2) + "\n", replace=replace, prefix=prefix)
