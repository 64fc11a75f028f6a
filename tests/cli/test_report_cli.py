"""``harness report`` end to end: the files it writes, a page that loads nothing from outside,
plot CSVs, the Markdown against points.csv, and bad input (exit 2, nothing written).

Calls :func:`harness.cli.main` in-process (the real error-to-exit-code mapping), except the
local sweep with ``--report``, which runs ``python -m harness`` as a user would.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from clitools import harness
from reportcases import write_cases

from harness import records
from harness.cli import main


def report(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(["report", *map(str, args)])
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


class Page(HTMLParser):
    """Tags, their attributes, and the group sections of a report page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.sections: list[str] = []
        self.svgs_in_section: dict[str, int] = {}
        self._section: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "section" and "group" in (attrs.get("class") or ""):
            self._section = attrs.get("id")
            self.sections.append(self._section)
            self.svgs_in_section[self._section] = 0
        elif tag == "svg" and self._section:
            self.svgs_in_section[self._section] += 1


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A report of the hand-made cases: (output directory, the parsed page)."""
    base = tmp_path_factory.mktemp("report")
    out = base / "out"
    with pytest.raises(SystemExit) as info:
        main(["report", str(write_cases(base)), "-o", str(out)])
    assert info.value.code == 0
    page = Page()
    page.feed((out / "index.html").read_text(encoding="utf-8"))
    return out, page


def test_writes_the_page_summary_points_and_a_csv_beside_every_plot(written):
    out, page = written
    assert {p.name for p in out.iterdir()} == {"index.html", "summary.md", "points.csv", "plots"}
    assert page.sections == ["slow-strong-case", "fast-strong-case"]
    assert all(n == 3 for n in page.svgs_in_section.values())  # speedup, efficiency, phases
    links = [a["href"] for tag, a in page.tags if tag == "a" and a.get("href", "").endswith(".csv")]
    assert len(links) == 6
    for link in links:
        table = pd.read_csv(out / link)
        assert len(table) and (out / link).with_suffix(".svg").is_file()


def test_the_page_references_nothing_outside_itself(written):
    out, page = written
    text = (out / "index.html").read_text(encoding="utf-8")
    for tag, attrs in page.tags:
        assert tag not in ("script", "link", "iframe", "img", "object", "embed"), tag
        for name in ("src", "href", "xlink:href", "action", "srcset"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith("#") or (":" not in value and not
                                                  value.startswith("//")), (tag, name, value)
    assert "@import" not in text and not re.search(r"url\(\s*['\"]?(https?:|//)", text)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text)


def test_first_screen_has_the_kpi_and_workload_tables(written):
    out, _ = written
    text = (out / "index.html").read_text(encoding="utf-8")
    first = text[:text.index('<section class="group"')]
    for header in ("Scale", "Target", "Current", "Status", "Workload", "100× efficiency",
                   "Bottleneck", "Mitigation"):
        assert f">{header}</th>" in first
    assert "✗ FAIL" in first and "✓ pass" in first and "predicted" in first
    assert "Amdahl analysis" in text and "0.285 %" in text and "351×" in text


def test_markdown_agrees_with_points_csv(written):
    out, _ = written
    points = pd.read_csv(out / "points.csv")
    summary = (out / "summary.md").read_text(encoding="utf-8")
    kpi = re.findall(r"^\| ([\d.]+)× \| > ([\d.]+) \| (.+?) \| (.+?) \|$", summary, re.M)
    assert len(kpi) == 4
    for scale, _target, current, _status in kpi:
        at = points.loc[points["scale"] == float(scale)]
        measured = re.match(r"\*\*([\d.]+)\*\* measured", current)
        if measured:
            rows = at.loc[at["kind"] == "measured"]
            assert f"{rows['efficiency'].min():.3f}" == measured.group(1)
        else:
            m = re.match(r"([\d.]+) predicted \(95 % PI ([\d.]+)–([\d.]+)", current)
            rows = at.loc[at["kind"] == "predicted"]
            worst = rows.loc[rows["efficiency"].idxmin()]
            assert (f"{worst['efficiency']:.3f}", f"{worst['efficiency_low']:.2f}",
                    f"{worst['efficiency_high']:.2f}") == m.groups()
    assert "| slow/strong [case] | **0.780** measured ❌ **FAIL** | Network I/O |" in summary


def test_rewriting_replaces_an_earlier_report(written, capsys, tmp_path):
    out, _ = written
    code, stdout, _ = report(capsys, out.parent / "cases.csv", "-o", out)
    assert code == 0 and stdout.strip() == f"report: {out / 'index.html'}"
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".out")]


def _refused(code, stdout, stderr, needle):
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1 and needle in stderr
    assert "Traceback" not in stderr and stdout == ""


def test_no_records_is_refused(capsys, tmp_path):
    (tmp_path / "in").mkdir()
    _refused(*report(capsys, tmp_path / "in", "-o", tmp_path / "out"),
             f"nothing to report in {tmp_path / 'in'}")
    _refused(*report(capsys, tmp_path / "nowhere", "-o", tmp_path / "out"), "nothing to report")
    assert not (tmp_path / "out").exists()


def test_unwritable_output_is_refused_and_nothing_half_written(capsys, tmp_path):
    cases = write_cases(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    _refused(*report(capsys, cases, "-o", blocker / "out"), "cannot write the report")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cases.csv", "file"]


def test_a_directory_that_is_not_a_report_is_never_replaced(capsys, tmp_path):
    cases = write_cases(tmp_path)
    keep = tmp_path / "results"
    keep.mkdir()
    (keep / "precious.json").write_text("{}")
    _refused(*report(capsys, cases, "-o", keep), "is not a report directory")
    assert [p.name for p in keep.iterdir()] == ["precious.json"]


def test_only_failed_runs_give_a_report_that_says_why(capsys, tmp_path):
    rec = records.failed(run_id=records.new_run_id(), sweep_id="s", workload="cfd",
                         variant="blocking", mode="strong", size="tiny", params={}, ranks=2,
                         error="rank 1: fault injected", provenance={})
    records.write(tmp_path / "runs", rec)
    code, _, _ = report(capsys, tmp_path / "runs", "-o", tmp_path / "out")
    assert code == 0
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    summary = (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    for text in (page, summary):
        assert "Nothing could be measured" in text and "fault injected" in text


def test_default_output_is_beside_the_records_and_a_rerun_ignores_it(capsys, tmp_path):
    runs = tmp_path / "runs"
    rec = records.failed(run_id=records.new_run_id(), sweep_id="s", workload="cfd",
                         variant="blocking", mode="strong", size="tiny", params={}, ranks=2,
                         error="boom", provenance={})
    records.write(runs, rec)
    for _ in range(2):
        code, stdout, _ = report(capsys, runs)
        assert code == 0
        assert Path(stdout.split(": ", 1)[1].strip()) == runs / "report" / "index.html"
    assert "1 run" in (runs / "report" / "summary.md").read_text(encoding="utf-8")


SOURCE = "a published study (repository, path, commit)"


def test_reference_series_are_shown_apart_and_counted_nowhere(written, capsys, tmp_path):
    out, _ = written
    reference = tmp_path / "reference.csv"
    reference.write_text("workload,mode,cores,seconds\n" + "".join(
        f"published,strong,{c},{100 * (0.02 + 0.98 / c):.6f}\n" for c in (1, 2, 4, 8, 16, 32)))
    code, _, _ = report(capsys, out.parent / "cases.csv", "-o", tmp_path / "with",
                        "--reference", reference, "--reference-source", SOURCE)
    assert code == 0
    page = Page()
    page.feed((tmp_path / "with" / "index.html").read_text(encoding="utf-8"))
    assert page.sections == ["slow-strong-case", "fast-strong-case", "reference-published-strong"]
    text = (tmp_path / "with" / "index.html").read_text(encoding="utf-8")
    assert f"Reference data, not measured here. Source: {SOURCE}" in text
    first = text[:text.index('<section class="group"')]
    assert "published" not in first  # not in the KPI or workload tables
    summary = (tmp_path / "with" / "summary.md").read_text(encoding="utf-8")
    assert "published" not in summary.split("Reference data")[0]
    assert SOURCE in summary
    assert set(pd.read_csv(tmp_path / "with" / "reference.csv")["workload"]) == {"published"}
    assert "published" not in set(pd.read_csv(tmp_path / "with" / "points.csv")["workload"])
    assert (tmp_path / "with" / "plots" / "reference-published-strong-speedup.csv").is_file()


def test_reference_without_its_source_is_refused(capsys, tmp_path):
    cases = write_cases(tmp_path)
    _refused(*report(capsys, cases, "-o", tmp_path / "out", "--reference", cases),
             "--reference needs --reference-source")
    _refused(*report(capsys, cases, "-o", tmp_path / "out", "--reference-source", SOURCE),
             "--reference-source is given without --reference")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_a_local_sweep_with_report_writes_it(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('name = "rep"\ncores = [1, 2]\nruns = 1\nreps = 2\nwarmup = 1\n'
                    '[[workload]]\nname = "cfd"\nsize = "tiny"\n')
    done = harness("sweep", spec, "--local", "--report", "--out", tmp_path, "--sweep-id", "s")
    assert done.returncode == 0, done.stderr
    index = tmp_path / "s" / "report" / "index.html"
    assert f"report: {index}" in done.stdout
    page = index.read_text(encoding="utf-8")
    assert "cfd/strong/blocking [tiny]" in page and "<svg" in page
    refused = harness("sweep", spec, "--slurm", "--dry-run", "--report", "--out", tmp_path)
    assert refused.returncode == 2 and "[analysis] report = true" in refused.stderr
