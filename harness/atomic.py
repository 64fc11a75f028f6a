"""One way to write a JSON file so that no reader ever sees half of it.

The document goes to a temporary file in the target's own directory, is flushed and fsynced,
then moved into place in one step: ``os.link`` when an existing file must never be replaced (a run
record is written once), ``os.replace`` when it is the newer state of the same thing
(``sweep.json``). A crash leaves either the old file or the new one, never a mixture.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_json(path: str | os.PathLike[str], data: Any, *, replace: bool,
               prefix: str = ".tmp-") -> Path:
    """Write ``data`` as indented JSON to ``path`` atomically; the directory is created.

    Parameters
    ----------
    path
        The file to write.
    data
        A JSON-serialisable document.
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
            json.dump(data, fh, indent=2)
            fh.write("\n")
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
