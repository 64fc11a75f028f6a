"""A SIGTERM that a library turns into an error of its own still unwinds as the signal.

Numba interrupted mid-compile by the SIGTERM handler's exception raises a ``RuntimeError`` of
its own ("no compiled object yet ..."); the run must then unwind as the signal does (whoever sent
it records the run as interrupted), not write a failed record naming the library's error.
"""

import signal

import pytest

from harness import runner
from harness.launch import local


def test_an_error_after_sigterm_unwinds_as_the_signal(tmp_path, monkeypatch):
    def interrupted_compile(*args, **kwargs):
        local.terminated_by = signal.SIGTERM  # as raise_terminated leaves it
        raise RuntimeError("no compiled object yet for <Library 'pack_column'>")

    monkeypatch.setattr(local, "terminated_by", None)
    monkeypatch.setattr(runner, "_measure", interrupted_compile)
    with pytest.raises(local.Terminated):
        runner.execute(runner.RunOptions("cfd", out=tmp_path, sweep_id="s"))
    assert not list(tmp_path.rglob("*.json"))  # no record naming the library's error


def test_an_error_without_a_signal_is_recorded(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the kernel broke")

    monkeypatch.setattr(local, "terminated_by", None)
    monkeypatch.setattr(runner, "_measure", broken)
    rec, path = runner.execute(runner.RunOptions("cfd", out=tmp_path, sweep_id="s"))
    assert rec.status == "failed" and "RuntimeError: the kernel broke" in rec.error
    assert path is not None and path.exists()


def test_the_handler_remembers_the_signal(monkeypatch):
    monkeypatch.setattr(local, "terminated_by", None)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(local.Terminated):
            local.raise_terminated(signal.SIGTERM, None)
        assert local.terminated_by == signal.SIGTERM
    finally:
        signal.signal(signal.SIGTERM, previous)
