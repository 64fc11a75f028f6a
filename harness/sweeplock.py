"""One writer per sweep directory: a file lock held by the live process.

``harness sweep`` (local or Slurm submission) holds an exclusive ``flock`` on
``<sweep_dir>/.lock`` for as long as it writes the sweep, with the holder's pid, host and start
time written inside. A second writer is refused with the holder's pid and host (two resumes of
one sweep would otherwise both run the missing points, overlap on the cores, and pool the
overlapping runs). The kernel drops the lock when its holder dies, however it dies, so a stale
lock — the file left by a dead process — is taken over, with a note saying whose it was.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness import records
from harness.errors import BadInputError

LOCK_FILE = ".lock"


def holder(sweep_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """What ``<sweep_dir>/.lock`` says about its (last) holder: pid, host, since; or None."""
    try:
        data = json.loads((Path(sweep_dir) / LOCK_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _alive_here(info: dict[str, Any]) -> bool:
    pid = info.get("pid")
    if info.get("host") != socket.gethostname() or not isinstance(pid, int) or pid < 1:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def hold(sweep_dir: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the sweep directory's lock for the duration of the ``with`` block.

    Raises
    ------
    BadInputError
        When another live process holds it; the message names its pid and host.
    """
    sweep_dir = Path(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    path = sweep_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise BadInputError(f"{path}: cannot lock the sweep directory ({e.strerror})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            info = holder(sweep_dir) or {}
            raise BadInputError(
                f"{sweep_dir} is being written by pid {info.get('pid', '?')} on host "
                f"{info.get('host', '?')} (since {info.get('since', '?')}); one sweep has one "
                "writer: wait for it to end or stop it, then rerun") from None
        previous = holder(sweep_dir)
        if previous and previous.get("pid") and not _alive_here(previous):
            sys.stderr.write(f"harness: note: taking over the lock of {sweep_dir} left by pid "
                             f"{previous.get('pid')} on host {previous.get('host')}, which "
                             "has ended\n")
        mine = {"pid": os.getpid(), "host": socket.gethostname(), "since": records.now_iso()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(mine) + "\n").encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # released: nothing stale for the next writer to report
    finally:
        os.close(fd)  # closing drops the flock
