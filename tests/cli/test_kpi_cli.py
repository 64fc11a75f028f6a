"""``harness kpi`` as a user runs it: push twice ("0 new"), migrate, show, export, refusals."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
import storetools
from clitools import harness
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from spectools import tiny_sweep
from storetools import counts, write_sweep

from harness.store import migrate

store_url = storetools.store_url  # the fixture


def one_line_refusal(done, needle):
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    return lines[0]


def test_push_twice_then_show_and_export(tmp_path, store_url):
    sweep = write_sweep(tmp_path / "res")
    first = harness("kpi", "push", sweep, "--store", store_url)
    assert first.returncode == 0, first.stderr
    assert "s1: 4 new run(s) of 4" in first.stdout
    before = counts(store_url)
    second = harness("kpi", "push", sweep, env={"HARNESS_STORE": store_url})
    assert second.returncode == 0, second.stderr
    assert "0 new" in second.stdout and counts(store_url) == before

    shown = harness("kpi", "show", "--store", store_url, "--json")
    assert shown.returncode == 0, shown.stderr
    rows = json.loads(shown.stdout)["rows"]
    eff = {r["scale"]: r["efficiency"] for r in rows if r["kind"] == "measured"}
    assert eff[8.0] == pytest.approx(1 / (8 * 0.18))
    table = harness("kpi", "show", "--store", store_url)
    assert "0.694" in table.stdout and "(predicted)" in table.stdout

    dash = harness("kpi", "export", "--store", store_url, "--format", "dashboard")
    assert dash.returncode == 0, dash.stderr
    assert json.loads(dash.stdout)["schema"] == "harness.dashboard/1"
    metrics = harness("kpi", "export", "--store", store_url, "--format", "openmetrics")
    assert metrics.returncode == 0, metrics.stderr
    assert len(list(text_string_to_metric_families(metrics.stdout))) == 4
    csv = harness("kpi", "export", "--store", store_url, "--format", "csv")
    assert csv.stdout.startswith("workload,mode,variant,problem,scale")
    textfile = harness("kpi", "export", "--store", store_url, "--format", "openmetrics",
                       "--textfile", tmp_path)
    assert textfile.returncode == 0 and (tmp_path / "harness_kpi.prom").is_file()


def test_migrate_creates_then_reports_current(tmp_path):
    url = f"sqlite:///{tmp_path / 'new' / 'kpi.sqlite'}"
    done = harness("kpi", "migrate", "--store", url)
    assert done.returncode == 0, done.stderr
    assert f"created at schema version {migrate.head()}" in done.stdout
    again = harness("kpi", "migrate", "--store", url)
    assert "already current" in again.stdout
    assert counts(url)["alembic_version"] == 1


def test_newer_schema_refused_with_exit_2(tmp_path):
    url = f"sqlite:///{tmp_path / 'kpi.sqlite'}"
    assert harness("kpi", "migrate", "--store", url).returncode == 0
    store = sa.create_engine(url)
    with store.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0042'"))
    store.dispose()
    before = counts(url)
    done = harness("kpi", "push", write_sweep(tmp_path / "res"), "--store", url)
    one_line_refusal(done, "schema version 0042 is newer")
    assert counts(url) == before
    one_line_refusal(harness("kpi", "show", "--store", url), "newer")


def test_unreachable_store_names_the_url_without_the_password(tmp_path):
    sweep = write_sweep(tmp_path / "res")
    done = harness("kpi", "push", sweep, "--store",
                   "postgresql+psycopg://kpi:hunter2secret@127.0.0.1:9/kpi")
    line = one_line_refusal(done, "postgresql+psycopg://kpi:***@127.0.0.1:9/kpi")
    assert "hunter2secret" not in line
    assert sorted(p.name for p in sweep.iterdir()) == sorted(
        p.name for p in (tmp_path / "res" / "s1").iterdir())  # records untouched


@pytest.mark.parametrize(("args", "needle"), [
    (["push", "{tmp}/missing", "--store", "sqlite:///{tmp}/k.sqlite"], "no such file"),
    (["show", "--since", "last week", "--store", "sqlite:///{tmp}/k.sqlite"], "--since"),
    (["export", "--format", "csv", "--textfile", "{tmp}", "--store", "sqlite:///{tmp}/k.sqlite"],
     "--format openmetrics"),
    (["export", "--delete", "--store", "sqlite:///{tmp}/k.sqlite"], "--pushgateway"),
    (["push", "{tmp}", "--store", "mysql://u@h/kpi"], "SQLite or PostgreSQL"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, needle):
    done = harness("kpi", *(a.format(tmp=tmp_path) for a in args))
    one_line_refusal(done, needle)
    assert not (tmp_path / "k.sqlite").exists()


TINY_SWEEP = tiny_sweep(1)


def test_local_sweep_pushes_with_push_and_with_the_spec_switch(tmp_path):
    """--push after a local sweep; then --resume of the finished sweep with
    [analysis] kpi_push = true in the spec runs nothing and pushes "0 new"."""
    url = f"sqlite:///{tmp_path / 'kpi.sqlite'}"
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY_SWEEP)
    done = harness("sweep", spec, "--out", tmp_path / "res", "--sweep-id", "tiny-1", "--push",
                   "--store", url)
    assert done.returncode == 0, done.stderr
    assert "tiny-1: 2 new run(s) of 2" in done.stdout
    # the sweep's rows were prepared beside its records and the push stored those
    assert (tmp_path / "res" / "tiny-1" / "kpi.json").is_file()
    assert "(prepared in kpi.json)" in done.stdout
    assert counts(url)["runs"] == 2 and counts(url)["kpi"] > 0
    spec.write_text(TINY_SWEEP + f'\n[analysis]\nkpi_push = true\nstore = "{url}"\n')
    again = harness("sweep", spec, "--out", tmp_path / "res", "--sweep-id", "tiny-1",
                    "--resume")
    assert again.returncode == 0, again.stderr
    assert "0 new" in again.stdout and counts(url)["runs"] == 2


def test_push_is_refused_for_slurm(tmp_path):
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY_SWEEP)
    done = harness("sweep", spec, "--slurm", "--dry-run", "--push", "--out", tmp_path / "res")
    one_line_refusal(done, "--push is for local sweeps")
    assert not (tmp_path / "res").exists()


def test_prepare_then_push_stores_the_prepared_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'kpi.sqlite'}"
    sweep = write_sweep(tmp_path / "res")
    done = harness("kpi", "prepare", tmp_path / "res")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"prepared {sweep / 'kpi.json'}"
    assert json.loads((sweep / "kpi.json").read_text())["schema"] == "harness.kpi/1"
    pushed = harness("kpi", "push", tmp_path / "res", "--store", url)
    assert pushed.returncode == 0, pushed.stderr
    assert "s1: 4 new run(s) of 4" in pushed.stdout and "(prepared in kpi.json)" in pushed.stdout
    # other targets than the prepared ones: the push analyzes the sweep itself
    targets = tmp_path / "targets.toml"
    targets.write_text("[[target]]\nscale = 10\nefficiency = 0.5\n")
    other = harness("kpi", "push", tmp_path / "res", "--store",
                    f"sqlite:///{tmp_path / 'other.sqlite'}", "--targets", targets)
    assert other.returncode == 0, other.stderr
    assert "s1: 4 new run(s)" in other.stdout and "prepared" not in other.stdout


@pytest.mark.parametrize(("args", "needle"), [
    (["{tmp}/nowhere"], "no such file or directory"),
    (["{tmp}/empty"], "no run records found"),
])
def test_prepare_refuses_bad_input_in_one_line(tmp_path, args, needle):
    (tmp_path / "empty").mkdir()
    done = harness("kpi", "prepare", *[a.format(tmp=tmp_path) for a in args])
    one_line_refusal(done, needle)
    assert not list(tmp_path.rglob("kpi.json"))
