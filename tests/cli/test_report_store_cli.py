"""``harness report --compare BASE`` and ``--store URL``: the comparison section decides as
``harness compare`` does, the history section draws what the store holds, and bad BASE or store
input is refused (exit 2, one line, nothing written, no store created).

Sweeps are tiny hand-made records (tests/storetools.py); the store is SQLite in tmp_path, and
for the history also PostgreSQL (skipped with the reason when no server is configured).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
import storetools
from storetools import replicated_sweep as sweep

from harness import records, targets
from harness.cli import main
from harness.store import compare as store_compare
from harness.store import engine, push

store_url = storetools.store_url  # the fixture
JAN, FEB = "2026-01-05T10:00:00+00:00", "2026-02-05T10:00:00+00:00"


def report(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(["report", *map(str, args)])
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def refused(capsys, out, needle, *args) -> None:
    code, stdout, stderr = report(capsys, *args, "-o", out)
    assert code == 2, stderr
    assert len(stderr.strip().splitlines()) == 1 and needle in stderr, stderr
    assert "Traceback" not in stderr and stdout == ""
    assert not out.exists()


@pytest.fixture
def sweeps(tmp_path):
    """base (January) and slowed (February: 4 ranks 30 % slower), three runs a point."""
    res = tmp_path / "res"
    return (sweep(res, "base", created_at=JAN),
            sweep(res, "slowed", slow_at=4, factor=1.3, created_at=FEB))


def pushed(tmp_path, *paths, url: str | None = None) -> str:
    url = url or f"sqlite:///{tmp_path / 'kpi.sqlite'}"
    store = engine.create(url)
    try:
        push.push(store, paths, targets.defaults())
    finally:
        store.dispose()
    return url


def test_compare_section_flags_what_harness_compare_flags(capsys, tmp_path, sweeps):
    base, slowed = sweeps
    out = tmp_path / "out"
    code, _, stderr = report(capsys, slowed, "--compare", base, "-o", out)
    assert code == 0, stderr
    expected = store_compare.compare(store_compare.load_side(str(base), None),
                                     store_compare.load_side(str(slowed), None), 0.05,
                                     targets.defaults()).set_index("cores")
    written = pd.read_csv(out / "comparison.csv").set_index("cores")
    assert list(written["verdict"]) == list(expected["verdict"])
    assert written.loc[4, "verdict"] == "regression"
    assert list(written.loc[[1, 2], "verdict"]) == ["unchanged", "unchanged"]
    assert written["ratio"].to_numpy() == pytest.approx(expected["ratio"].to_numpy())
    assert written.loc[4, "ratio"] == pytest.approx(1.3)
    assert written.loc[4, "efficiency_change"] == pytest.approx(
        expected.loc[4, "efficiency_change"])
    page = (out / "index.html").read_text(encoding="utf-8")
    section = page.index(f"Compared with {base}")
    assert section < page.index('<section class="group"')  # near the top
    assert page.count("✗ REGRESSION") == 1
    assert "1 regression(s) in 3 shared point(s)" in page
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert summary.index("### Compared with") < summary.index("Alerts:")
    row = next(line for line in summary.splitlines() if "REGRESSION" in line)
    assert "| 4 | ×1.300 |" in row
    assert f"{expected.loc[4, 'efficiency_change']:+.3f}" in row


def test_compare_with_a_sweep_id_in_the_store_and_the_threshold(capsys, tmp_path, sweeps):
    base, slowed = sweeps
    url = pushed(tmp_path, base)
    out = tmp_path / "out"
    code, _, stderr = report(capsys, slowed, "--compare", "base", "--store", url,
                             "--threshold", "40%", "-o", out)
    assert code == 0, stderr
    written = pd.read_csv(out / "comparison.csv").set_index("cores")
    assert written.loc[4, "verdict"] == "unchanged"  # 30 % is under a 40 % threshold
    assert "REGRESSION" not in (out / "index.html").read_text(encoding="utf-8")


def test_bad_base_is_refused_and_nothing_is_written(capsys, tmp_path, sweeps):
    base, slowed = sweeps
    out = tmp_path / "out"
    store = tmp_path / "absent" / "kpi.sqlite"
    refused(capsys, out, "no such sweep directory", slowed, "--compare", tmp_path / "no" / "dir")
    (tmp_path / "empty").mkdir()
    refused(capsys, out, "no run records", slowed, "--compare", tmp_path / "empty")
    refused(capsys, out, "no KPI store at", slowed, "--compare", "base", "--store",
            f"sqlite:///{store}")
    assert not store.exists() and not store.parent.exists()
    url = pushed(tmp_path, base)
    refused(capsys, out, "no sweep of that id", slowed, "--compare", "nope", "--store", url)
    other = sweep(tmp_path / "res", "other", provenance={"host": "elsewhere",
                                                          "cpu_model": "Test CPU"})
    refused(capsys, out, "different machines", slowed, "--compare", other)
    csv = tmp_path / "t.csv"
    csv.write_text("workload,mode,cores,seconds\nw,strong,1,1.0\nw,strong,2,0.6\n")
    refused(capsys, out, "is a timing CSV", csv, "--compare", base)
    refused(capsys, out, "--threshold", slowed, "--compare", base, "--threshold", "five")
    refused(capsys, out, "--threshold is given without --compare", slowed, "--threshold", "5%")


def test_history_draws_each_target_scale_over_the_stored_sweeps(capsys, tmp_path, sweeps,
                                                                store_url):
    base, slowed = sweeps
    url = pushed(tmp_path, base, slowed, url=store_url)
    out = tmp_path / "out"
    code, _, stderr = report(capsys, slowed, "--store", url, "-o", out)
    assert code == 0, stderr
    history = pd.read_csv(out / "history.csv")
    table = targets.defaults()
    assert set(history["scale"]) <= set(table.scales) and len(set(history["scale"])) >= 1
    assert history.groupby("scale")["sweep_id"].apply(list).map(
        lambda ids: ids == ["base", "slowed"]).all()  # one value per sweep, oldest first
    # the latest stored sweep is this report's input: the same efficiency at every scale
    points = pd.read_csv(out / "points.csv")
    latest = history.loc[history["sweep_id"] == "slowed"]
    for row in latest.itertuples():
        mine = points.loc[(points["scale"] == row.scale) & (points["kind"] == row.kind)]
        assert mine["efficiency"].iloc[0] == pytest.approx(row.efficiency)
    plot = out / "plots" / "history-cfd-strong-blocking-tiny-box"
    drawn = pd.read_csv(plot.with_suffix(".csv"))
    assert drawn[["scale", "sweep_id", "efficiency"]].equals(
        history[["scale", "sweep_id", "efficiency"]])
    svg = plot.with_suffix(".svg").read_text(encoding="utf-8")
    assert "<title>Efficiency against sweep date" in svg
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "History in the KPI store" in page and plot.name + ".csv" in page
    summary = (out / "summary.md").read_text(encoding="utf-8")
    first = history.loc[(history["scale"] == 100) & (history["sweep_id"] == "base")]
    assert f"| {first['efficiency'].iloc[0]:.3f} predicted (base) |" in summary


def test_history_says_so_when_the_store_has_none_for_these_workloads(capsys, tmp_path,
                                                                     monkeypatch, sweeps):
    _, slowed = sweeps
    other = sweep(tmp_path / "res", "other", provenance={"host": "elsewhere",
                                                          "cpu_model": "Test CPU"})
    url = pushed(tmp_path, other)  # same problem, another machine
    monkeypatch.setenv("HARNESS_STORE", url)  # the default, as for harness kpi
    out = tmp_path / "out"
    code, _, stderr = report(capsys, slowed, "-o", out)
    assert code == 0, stderr
    for name in ("index.html", "summary.md"):
        text = (out / name).read_text(encoding="utf-8")
        assert "No history: the KPI store at" in text and "holds no efficiency" in text
    assert pd.read_csv(out / "history.csv").empty
    assert not list((out / "plots").glob("history-*"))


def test_history_of_a_store_not_made_yet_creates_nothing(capsys, tmp_path, sweeps):
    _, slowed = sweeps
    store = tmp_path / "later" / "kpi.sqlite"
    code, _, stderr = report(capsys, slowed, "--store", f"sqlite:///{store}", "-o",
                             tmp_path / "out")
    assert code == 0, stderr
    assert "there is no KPI store at" in (tmp_path / "out" / "summary.md").read_text()
    assert not store.parent.exists()


def test_a_store_that_cannot_be_read_is_refused(capsys, tmp_path, sweeps):
    _, slowed = sweeps
    out = tmp_path / "out"
    refused(capsys, out, "not a database URL", slowed, "--store", "nonsense::")
    junk = tmp_path / "junk.sqlite"
    junk.write_text(json.dumps({"not": "a database"}))
    refused(capsys, out, "KPI store", slowed, "--store", f"sqlite:///{junk}")


def test_compare_of_inputs_with_only_failed_runs_says_nothing_was_compared(capsys, tmp_path,
                                                                         sweeps):
    base, _ = sweeps
    rec = records.failed(run_id=records.new_run_id(), sweep_id="f", workload="cfd",
                         variant="blocking", mode="strong", size="tiny", params={}, ranks=2,
                         error="rank 1: fault injected", provenance={})
    records.write(tmp_path / "failed", rec)
    code, _, stderr = report(capsys, tmp_path / "failed", "--compare", base, "-o",
                             tmp_path / "out")
    assert code == 0, stderr
    for name in ("index.html", "summary.md"):
        text = (tmp_path / "out" / name).read_text(encoding="utf-8")
        assert f"Nothing was measured in the inputs, so nothing could be compared with {base}" \
            in text
