"""Helpers for tests that run the ``harness`` command as a user would.

Import as ``from clitools import harness, run_json`` (``tests/`` is on pytest's pythonpath).
"""

import json
import os
import subprocess
import sys
from pathlib import Path


def harness(*args, env=None, timeout=300):
    """Run ``python -m harness ARGS`` and return the CompletedProcess (text mode)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "harness", *map(str, args)],
                          capture_output=True, text=True, env=full_env, timeout=timeout,
                          check=False)


def run_json(*args, **kwargs):
    """``harness run ... --json``; asserts it succeeded and returns the record."""
    done = harness("run", *args, "--json", **kwargs)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_refused(done, needle, out):
    """Bad input: exit 2, one line on stderr naming ``needle``, nothing on stdout, no file
    written under ``out``."""
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert needle in lines[0]
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert not out.exists() or not any(p.is_file() for p in out.rglob("*"))


def processes_with(marker: str) -> dict[int, list[str]]:
    """pid -> argv of the live (not zombie) processes whose environment holds ``marker`` (an
    exact ``NAME=value`` entry), read from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if stat[stat.rindex(")") + 2] == "Z":
                continue
            if marker.encode() in (entry / "environ").read_bytes().split(b"\0"):
                found[int(entry.name)] = (entry / "cmdline").read_bytes().decode().split("\0")
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not ours to read
    return found
