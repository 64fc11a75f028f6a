"""Partial data: a truncated or newer-schema record in a directory is skipped with a warning
naming it and counted as excluded (``--strict`` stops instead); a run that fails or is stopped
leaves no scratch files behind."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from clitools import harness

from harness import records

PASSED = {"passed": True, "method": "closed form", "checksum": {"sum": 1.0}, "error": 0.0,
          "tolerance": 1e-9}


def _record(ranks: int, seconds: list[float]) -> records.RunRecord:
    return records.RunRecord(
        run_id=records.new_run_id(), sweep_id="s1", workload="cfd", variant="blocking",
        mode="strong", size="tiny", params={}, ranks=ranks, status="ok", repetitions=3,
        seconds=seconds, phases={"compute": {"min": 0.7, "mean": 0.8, "max": 0.9}},
        verification=PASSED)


@pytest.fixture
def damaged(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A sweep directory with three good records, one truncated and one of a newer schema."""
    for ranks, secs in ((1, [1.0, 1.1, 1.0]), (2, [0.55, 0.56, 0.57]), (4, [0.3, 0.31, 0.3])):
        records.write(tmp_path, _record(ranks, secs))
    good = records.write(tmp_path, _record(8, [0.2, 0.2, 0.21]))
    text = good.read_text(encoding="utf-8")
    truncated = tmp_path / "s1" / "cfd-strong-p8-truncated.json"
    truncated.write_text(text[: len(text) // 2], encoding="utf-8")
    good.unlink()
    data = json.loads(text)
    data.update(schema="harness.run/2", run_id="newer")
    newer = tmp_path / "s1" / "cfd-strong-p8-newer.json"
    newer.write_text(json.dumps(data), encoding="utf-8")
    return tmp_path / "s1", truncated, newer


def test_analyze_skips_damaged_records_with_a_warning(damaged: tuple[Path, Path, Path]) -> None:
    sweep, truncated, newer = damaged
    before = {p: p.read_bytes() for p in sweep.iterdir()}
    done = harness("analyze", sweep, "--format", "json")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    warnings = [x for x in done.stderr.splitlines() if x.startswith("harness: warning: skipped")]
    assert len(warnings) == 2
    assert any(str(truncated) in w for w in warnings)
    assert any(str(newer) in w and "harness.run/2" in w for w in warnings)
    doc = json.loads(done.stdout)
    excluded = {row["source"] for row in doc["excluded"]}
    assert {str(truncated), str(newer)} <= excluded
    cores = sorted({p["cores"] for g in doc["groups"] for p in g["points"]})
    assert cores == [1, 2, 4]  # the three good records are all analyzed
    # nothing present before the analysis is missing or changed after it
    assert {p: p.read_bytes() for p in sweep.iterdir()} == before


def test_analyze_strict_stops_at_a_damaged_record(damaged: tuple[Path, Path, Path]) -> None:
    sweep, _, _ = damaged
    done = harness("analyze", sweep, "--strict")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("harness: error: ")
    assert done.stdout == ""


def test_a_record_named_on_the_command_line_still_stops(damaged: tuple[Path, Path, Path]
                                                        ) -> None:
    _, truncated, _ = damaged
    done = harness("analyze", truncated)
    assert done.returncode == 2
    assert str(truncated) in done.stderr


def _scratch(out: Path) -> list[Path]:
    return [p for p in out.rglob(".work/*")]


@pytest.mark.mpi
def test_failed_fea_run_leaves_no_scratch(tmp_path: Path) -> None:
    """A rank fails mid-run (after the warm-up wrote its files): a failed record, no scratch."""
    done = harness("run", "fea", "--ranks", "2", "--out", tmp_path, "--sweep-id", "f",
                   env={"HARNESS_INJECT_FAULT": "1"})
    assert done.returncode == 1, done.stderr
    recs = [records.load(p) for p in (tmp_path / "f").glob("*.json")]
    assert [r.status for r in recs] == ["failed"]
    assert _scratch(tmp_path) == []


@pytest.mark.mpi
def test_stopped_fea_run_leaves_no_scratch(tmp_path: Path) -> None:
    """SIGTERM to `harness run` while its ranks are writing: the scratch directory goes."""
    argv = [sys.executable, "-m", "harness", "run", "fea", "--ranks", "2", "--size", "small",
            "--reps", "10000", "--out", str(tmp_path), "--sweep-id", "f"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 240
        while not any(p.is_file() for p in tmp_path.rglob(".work/*/*")):
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            assert time.monotonic() < deadline, "the run wrote no scratch file"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143
    assert _scratch(tmp_path) == []
    recs = [records.load(p) for p in (tmp_path / "f").glob("*.json")]
    assert [r.status for r in recs] == ["failed"]
    assert "interrupted" in recs[0].error
