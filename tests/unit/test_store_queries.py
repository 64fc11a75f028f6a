"""KPI store reads: latest efficiency and trend, the dashboard document (checked against its JSON
Schema), OpenMetrics (parsed back with prometheus_client), CSV escaping, textfile, Pushgateway.

On SQLite and PostgreSQL (skipped with the reason when no server is configured).
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from importlib import resources
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
import sqlalchemy as sa
import storetools
from alembic import command
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from prometheus_client.parser import text_string_to_metric_families as text_format_families
from storetools import make_record, write_sweep

from harness import records, targets
from harness.store import engine, export, migrate, openmetrics, push, queries, rows
from harness.store.schema import kpi, runs, sweeps

TABLE = targets.defaults()
store_url = storetools.store_url  # the fixture
JAN, FEB = "2026-01-05T10:00:00+00:00", "2026-02-05T10:00:00+00:00"


def pushed(url, *paths):
    store = engine.create(url)
    push.push(store, paths, TABLE)
    return store


@pytest.fixture
def two_sweeps(tmp_path, store_url):
    """s1 in January, s2 in February on the same machine: at 2 ranks the same time, at 4 ranks
    faster, at 8 ranks much slower (outside the repetitions' range)."""
    out = tmp_path / "res"
    write_sweep(out, "s1", {1: 1.0, 2: 0.55, 4: 0.30, 8: 0.18}, created_at=JAN)
    write_sweep(out, "s2", {1: 1.0, 2: 0.55, 4: 0.27, 8: 0.25}, created_at=FEB)
    store = pushed(store_url, out)
    yield store
    store.dispose()


def measured(frame, scale):
    row = frame.loc[(frame["scale"] == scale) & (frame["kind"] == "measured")]
    assert len(row) == 1
    return row.iloc[0]


def test_latest_and_trend_against_the_previous_sweep(two_sweeps):
    latest = queries.show(two_sweeps)
    assert set(latest["sweep_id"]) == {"s2"}
    assert measured(latest, 1)["trend"] == "stable"
    assert measured(latest, 2)["trend"] == "stable"
    up, down = measured(latest, 4), measured(latest, 8)
    assert up["trend"] == "up" and up["change"] == pytest.approx(1 / (4 * 0.27) - 1 / (4 * 0.30))
    assert down["trend"] == "down"
    assert down["efficiency"] == pytest.approx(1 / (8 * 0.25))
    assert down["previous"] == pytest.approx(1 / (8 * 0.18))


def test_since_keeps_recent_series_and_their_trend(two_sweeps):
    assert queries.show(two_sweeps, since="2026-03-01").empty
    recent = queries.show(two_sweeps, since="2026-02-01")
    assert measured(recent, 8)["trend"] == "down"  # still compared with January
    assert queries.show(two_sweeps, workload="fea").empty


def test_other_machine_is_its_own_series(tmp_path, store_url):
    out = tmp_path / "res"
    write_sweep(out, "s1", created_at=JAN)
    write_sweep(out, "s9", {1: 1.0, 2: 0.9, 4: 0.8, 8: 0.7}, created_at=FEB,
                provenance={"host": "other", "git_sha": "feed", "cpu_model": "Other CPU"})
    store = pushed(store_url, out)
    latest = queries.show(store)
    store.dispose()
    eight = latest.loc[(latest["scale"] == 8) & (latest["kind"] == "measured")]
    assert sorted(eight["machine"]) == ["box", "other"]
    assert set(eight["trend"]) == {"new"}


def test_trend_rules():
    def row(e, lo=None, hi=None):
        return pd.Series({"efficiency": e, "interval_low": lo, "interval_high": hi})

    assert queries.trend(row(0.8), None) == "new"
    assert queries.trend(row(0.8, 0.7, 0.9), row(0.85, 0.84, 0.86)) == "stable"  # in new's
    assert queries.trend(row(0.8, 0.79, 0.81), row(0.85, 0.70, 0.86)) == "stable"  # in old's
    assert queries.trend(row(0.8, 0.79, 0.81), row(0.85, 0.84, 0.86)) == "down"
    assert queries.trend(row(0.9), row(0.85)) == "up"
    assert queries.trend(row(0.85), row(0.85)) == "stable"


def test_dashboard_matches_its_schema_and_shows_the_worst_workload(tmp_path, store_url):
    out = tmp_path / "res"
    write_sweep(out, "s1")
    write_sweep(out, "s2", {1: 1.0, 2: 0.51, 4: 0.26, 8: 0.13}, workload="opt",
                variant="sync")
    store = pushed(store_url, out)
    doc = export.dashboard(queries.show(store), TABLE, engine.masked(store.url))
    store.dispose()
    schema = json.loads(resources.files("harness.store").joinpath(
        "dashboard.schema.json").read_text())
    jsonschema.validate(json.loads(json.dumps(doc)), schema)
    scales = {s["scale"]: s for s in doc["parallel_efficiency"]["scales"]}
    assert list(scales) == ["1x", "2x", "4x", "8x", "10x", "50x", "100x", "500x"]
    eight = scales["8x"]
    assert {w["workload"] for w in eight["workloads"]} == {"cfd", "opt"}
    assert eight["efficiency"] == pytest.approx(1 / (8 * 0.18))  # cfd is the worse one
    assert eight["status"] == "fail" and not eight["predicted"]
    assert scales["10x"]["predicted"] is True
    assert doc["parallel_efficiency"]["target"] == max(TABLE.efficiencies)
    broken = json.loads(json.dumps(doc))
    broken["parallel_efficiency"]["scales"][0]["trend"] = "sideways"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_openmetrics_parses_back(two_sweeps):
    reg = openmetrics.registry(queries.show(two_sweeps), queries.alerted(two_sweeps))
    text = openmetrics.exposition(reg)
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert set(families) == {"harness_parallel_efficiency_ratio",
                             "harness_parallel_efficiency_target_ratio",
                             "harness_parallel_efficiency_target_met",
                             "harness_parallel_efficiency_alert"}
    assert families["harness_parallel_efficiency_ratio"].unit == "ratio"
    assert all(f.type == "gauge" and f.documentation for f in families.values())
    samples = [s for f in families.values() for s in f.samples]
    assert all(s.timestamp is None for s in samples)
    ratio = families["harness_parallel_efficiency_ratio"]
    eff = {s.labels["scale"]: s.value for s in ratio.samples}
    assert eff["8x"] == pytest.approx(1 / (8 * 0.25))
    assert families["harness_parallel_efficiency_ratio"].samples[0].labels["workload"] == "cfd"
    alert = {(s.labels["scale"], s.labels["predicted"]): s.value
             for s in families["harness_parallel_efficiency_alert"].samples}
    assert alert[("8x", "false")] == 1.0  # E = 0.5 < 0.70: the measured P2 alert of s2
    assert alert[("2x", "false")] == 0.0


def test_textfile_is_prometheus_text_format(two_sweeps, tmp_path):
    reg = openmetrics.registry(queries.show(two_sweeps), queries.alerted(two_sweeps))
    path = openmetrics.write_textfile(reg, tmp_path)
    assert path.name == "harness_kpi.prom"
    names = {f.name for f in text_format_families(path.read_text())}
    assert "harness_parallel_efficiency_ratio" in names
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".prom")] == [path.name]


class Gateway(BaseHTTPRequestHandler):
    seen: list = []

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        Gateway.seen.append((self.command, self.path, self.rfile.read(length).decode()))
        self.send_response(202 if self.command == "DELETE" else 200)
        self.end_headers()

    do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, *args):
        return None


def test_pushgateway_push_and_delete(two_sweeps):
    Gateway.seen = []
    server = HTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        openmetrics.push(openmetrics.registry(queries.show(two_sweeps), {}), url)
        openmetrics.delete(url)
    finally:
        server.shutdown()
        server.server_close()
    (method, path, body), (method2, path2, _) = Gateway.seen
    group = f"/metrics/job/harness_kpi/instance/{openmetrics.grouping_key()['instance']}"
    assert (method, path) == ("PUT", group) and (method2, path2) == ("DELETE", group)
    assert "harness_parallel_efficiency_ratio{" in body


def test_csv_escapes_formula_cells(tmp_path, store_url):
    store = pushed(store_url, write_sweep(tmp_path / "res", variant="=HYPERLINK(\"x\")"))
    text = export.to_csv(queries.show(store))
    store.dispose()
    header, first = text.splitlines()[:2]
    assert header.startswith("workload,mode,variant,problem,scale,cores,kind,efficiency")
    assert ",\"'=HYPERLINK(\"\"x\"\")\"," in first
    assert export.safe_cell("-1+2") == "'-1+2" and export.safe_cell(-1.5) == -1.5
    assert export.safe_cell("@SUM(A1)") == "'@SUM(A1)" and export.safe_cell("cfd") == "cfd"


def test_alert_rules_use_exported_metric_names(two_sweeps):
    """docs/prometheus-alerts.yml names only metrics the export produces."""
    rules = (Path(__file__).resolve().parents[2] / "docs" / "prometheus-alerts.yml").read_text()
    reg = openmetrics.registry(queries.show(two_sweeps), queries.alerted(two_sweeps))
    exported = {s.name for f in text_string_to_metric_families(openmetrics.exposition(reg))
                for s in f.samples}
    named = set(re.findall(r"\bharness_[a-z_]+", rules))
    assert {"harness_parallel_efficiency_ratio", "harness_parallel_efficiency_target_met"} <= named
    assert named <= exported


def comparable(frame):
    cols = ["workload", "mode", "variant", "problem", "scale", "kind", "machine", "sweep_id",
            "efficiency", "trend", "previous"]
    out = frame[cols].astype(object).where(frame[cols].notna(), None)
    return out.sort_values(cols[:7], ignore_index=True).to_dict(orient="records")


def test_latest_table_equals_ranking_the_history_in_any_push_order(tmp_path, store_url):
    """kpi_latest, kept by each push, gives what ranking the whole history gives, with sweeps
    pushed out of time order, a sweep re-pushed after it gained a run, and two machines."""
    out = tmp_path / "res"
    mar = write_sweep(out, "s3", {1: 1.0, 2: 0.6, 4: 0.35}, created_at="2026-03-05T10:00:00+00:00")
    feb = write_sweep(out, "s2", {1: 1.0, 2: 0.55, 4: 0.27, 8: 0.25}, created_at=FEB)
    jan = write_sweep(out, "s1", created_at=JAN)
    other = write_sweep(out, "s9", created_at=FEB, provenance={"host": "other"})
    store = engine.create(store_url)
    for sweep in (feb, jan, other):
        push.push(store, [sweep], TABLE)
        assert comparable(queries.show(store)) == comparable(
            queries.latest(queries.history(store)))
    push.push(store, [mar], TABLE)
    records.write(out, make_record(
        "s3", 8, 0.2, created_at="2026-03-05T10:00:00+00:00"))
    push.push(store, [mar], TABLE)  # s3 gained its 8-rank run: its KPIs are recomputed
    shown = queries.show(store)
    assert comparable(shown) == comparable(queries.latest(queries.history(store)))
    box = shown.loc[(shown["machine"] == "box") & (shown["kind"] == "measured")]
    assert set(box["sweep_id"]) == {"s3"}
    eight = box.loc[box["scale"] == 8].iloc[0]
    assert eight["previous"] == pytest.approx(1 / (8 * 0.25))  # February's, not January's
    store.dispose()


def test_upgrade_from_0001_fills_the_latest_table(tmp_path, store_url):
    """A store written at revision 0001 (no kpi_latest) and then migrated shows the same."""
    out = tmp_path / "res"
    found = push.collect([write_sweep(out, "s1", created_at=JAN),
                          write_sweep(out, "s2", {1: 1.0, 2: 0.5, 4: 0.3, 8: 0.2},
                                      created_at=FEB)])
    store = engine.create(store_url)
    with engine.connect(store, write=True) as conn:
        config = migrate._config(migrate.SCRIPTS)
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        for entry in found:
            at = max(rows.timestamp(r.created_at) for r in entry.records)
            conn.execute(sa.insert(sweeps), [rows.sweep_row(entry.sweep_id, entry.records,
                                                            None, at)])
            conn.execute(sa.insert(runs), [rows.run_row(r) for r in entry.records])
            conn.execute(sa.insert(kpi), rows.kpi_rows(push.analyze(push._given(entry), TABLE),
                                                       entry.sweep_id, at))
    assert migrate.upgrade(store) == ("0001", migrate.head())
    shown = queries.show(store)
    assert len(shown) and comparable(shown) == comparable(queries.latest(queries.history(store)))
    assert set(shown.loc[shown["kind"] == "measured", "trend"]) >= {"down"}
    store.dispose()
