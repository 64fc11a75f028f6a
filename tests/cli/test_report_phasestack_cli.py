"""``harness report --predict`` / ``--machine``: the predicted phase breakdown written, its
chart referenced from the page, its numbers in CSV; a bad machine model refused (exit 2)."""

from __future__ import annotations

import pandas as pd
import pytest

# the machine model and sweep `harness predict`'s own tests use
from cli.test_predict_cli import MACHINE, SWEEP
from reportcases import write_cases

from harness.cli import main


def run(capsys, *args) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(["report", *map(str, args)])
    return info.value.code, capsys.readouterr().err


def test_predict_writes_the_section_its_plots_and_csvs(capsys, tmp_path):
    out = tmp_path / "out"
    code, _ = run(capsys, write_cases(tmp_path), "-o", out, "--predict")
    assert code == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    assert '<h2 id="h-predicted-phases">Predicted phase breakdown</h2>' in page
    for slug in ("slow-strong-case", "fast-strong-case"):
        stem = f"plots/{slug}-phase-prediction"
        assert (out / f"{stem}.svg").is_file()
        assert f'href="{stem}.csv"' in page
        drawn = pd.read_csv(out / f"{stem}.csv")
        assert set(drawn["series"]) == {"measured", "predicted"}
    assert "No machine model: every phase is fitted empirically" in page
    table = pd.read_csv(out / "phase-prediction.csv")
    assert set(table["model"]) == {"empirical"}
    assert set(table["label"]) == {"predicted"}
    assert (out / "phase-prediction.json").read_text().count('"harness.predict/1"') == 1
    assert "### Predicted phase breakdown" in (out / "summary.md").read_text(encoding="utf-8")


def test_without_the_option_no_section(capsys, tmp_path):
    out = tmp_path / "out"
    assert run(capsys, write_cases(tmp_path), "-o", out)[0] == 0
    assert "Predicted phase breakdown" not in (out / "index.html").read_text(encoding="utf-8")
    assert not list(out.glob("phase-*")) and not list(out.glob("plots/*phase-prediction*"))


def test_machine_model_brings_mechanistic_choices_and_what_ifs(capsys, tmp_path):
    sweep, model, out = tmp_path / "sweep.csv", tmp_path / "machine.toml", tmp_path / "out"
    sweep.write_text(SWEEP)
    model.write_text(MACHINE)
    assert run(capsys, sweep, "-o", out, "--machine", model)[0] == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "Machine model: test-node" in page
    assert "What-ifs: predicted efficiency gain" in page
    # compute's stated work on the probed machine predicts the held-out run best
    table = pd.read_csv(out / "phase-prediction.csv")
    assert set(table.loc[table["phase"] == "compute", "model"]) == {"mechanistic"}
    assert "mechanistic" in page
    gains = pd.read_csv(out / "phase-whatifs.csv")
    assert len(gains) and gains["gain"].notna().all()
    assert set(gains["label"]) == {"predicted"}
    assert "async" in set(gains["what_if"])


def test_bad_machine_model_is_exit_2_and_nothing_written(capsys, tmp_path):
    out = tmp_path / "out"
    code, err = run(capsys, write_cases(tmp_path), "-o", out, "--machine",
                    tmp_path / "missing.toml")
    assert code == 2
    assert "no such machine model" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
