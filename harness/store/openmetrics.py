"""OpenMetrics exposition of the latest KPIs, written by ``prometheus_client``.

Gauges, one sample per group and scale (measured where measured, else predicted; see
:func:`harness.store.export.preferred`), labelled ``workload, mode, variant, problem, scale``
(``"10x"``) and ``predicted`` (``"true"``/``"false"``); no timestamps (the scrape time is the
sample time):

- ``harness_parallel_efficiency_ratio``: the efficiency;
- ``harness_parallel_efficiency_target_ratio``: its target (absent above the table);
- ``harness_parallel_efficiency_target_met``: 1 when the status is ``pass``, else 0;
- ``harness_parallel_efficiency_alert``: 1 when the analysis raised an alert there (label
  ``level``, e.g. ``P2``), else 0 with ``level="P2"``.

``docs/prometheus-alerts.yml`` holds alerting rules written against these names.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from prometheus_client import CollectorRegistry, write_to_textfile
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import delete_from_gateway, push_to_gateway
from prometheus_client.openmetrics.exposition import generate_latest

from harness.errors import StoreError
from harness.store.export import preferred, scale_label

LABELS = ["workload", "mode", "variant", "problem", "scale", "predicted"]
JOB = "harness_kpi"
TEXTFILE = "harness_kpi.prom"


class KpiCollector:
    """A ``prometheus_client`` collector over a latest-KPI frame and the alerts raised."""

    def __init__(self, latest: pd.DataFrame, alerted: dict[tuple, str]) -> None:
        self.rows = preferred(latest)
        self.alerted = alerted

    def collect(self) -> Iterator[Metric]:
        efficiency = GaugeMetricFamily(
            "harness_parallel_efficiency", "Parallel efficiency at a scale (speedup / scale); "
            "predicted=true where a scaling model predicts it", labels=LABELS, unit="ratio")
        target = GaugeMetricFamily(
            "harness_parallel_efficiency_target", "Efficiency the platform's target table "
            "requires at this scale (efficiency must be above it)", labels=LABELS, unit="ratio")
        met = GaugeMetricFamily(
            "harness_parallel_efficiency_target_met", "1 when the efficiency is above its "
            "target, else 0", labels=LABELS)
        alert = GaugeMetricFamily(
            "harness_parallel_efficiency_alert", "1 when the analysis raised an alert of this "
            "level here (P2: efficiency below 0.70), else 0", labels=[*LABELS, "level"])
        for _, row in self.rows.iterrows():
            predicted = row["kind"] == "predicted"
            values = [str(row["workload"]), str(row["mode"]), str(row["variant"]),
                      str(row["problem"]), scale_label(float(row["scale"])),
                      "true" if predicted else "false"]
            efficiency.add_metric(values, float(row["efficiency"]))
            if pd.notna(row["target"]):
                target.add_metric(values, float(row["target"]))
                met.add_metric(values, 1.0 if row["status"] == "pass" else 0.0)
            key = (row["sweep_id"], row["workload"], row["mode"], row["variant"],
                   row["problem"], int(row["cores"]), predicted)
            level = self.alerted.get(key)
            alert.add_metric([*values, level or "P2"], 1.0 if level else 0.0)
        yield from (efficiency, target, met, alert)


def registry(latest: pd.DataFrame, alerted: dict[tuple, str]) -> CollectorRegistry:
    """A registry holding only the KPI collector."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(KpiCollector(latest, alerted))
    return reg


def exposition(reg: CollectorRegistry) -> str:
    """The OpenMetrics text (``# EOF`` last)."""
    return generate_latest(reg).decode("utf-8")


def write_textfile(reg: CollectorRegistry, directory: str | os.PathLike[str]) -> Path:
    """Write ``harness_kpi.prom`` into ``directory`` for node_exporter's textfile collector
    (Prometheus text format, written to a temporary file and renamed).

    Raises
    ------
    StoreError
        When the directory does not exist or is not writable.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise StoreError(f"{directory}: no such directory for --textfile")
    path = directory / TEXTFILE
    try:
        write_to_textfile(str(path), reg)
    except OSError as e:
        raise StoreError(f"{path}: cannot write ({e.strerror})") from None
    return path


def grouping_key() -> dict[str, str]:
    """The Pushgateway group this host pushes under: ``job=harness_kpi, instance=<host>``."""
    return {"instance": socket.gethostname()}


def push(reg: CollectorRegistry, gateway: str) -> None:
    """Replace this host's group on the Pushgateway at ``gateway`` with the KPIs.

    Raises
    ------
    StoreError
        When the Pushgateway cannot be reached or refuses.
    """
    try:
        push_to_gateway(gateway, job=JOB, registry=reg, grouping_key=grouping_key(), timeout=30)
    except OSError as e:
        raise StoreError(f"Pushgateway {gateway}: {e}") from None


def delete(gateway: str) -> None:
    """Delete this host's group from the Pushgateway (a Pushgateway never expires groups).

    Raises
    ------
    StoreError
        When the Pushgateway cannot be reached or refuses.
    """
    try:
        delete_from_gateway(gateway, job=JOB, grouping_key=grouping_key(), timeout=30)
    except OSError as e:
        raise StoreError(f"Pushgateway {gateway}: {e}") from None
