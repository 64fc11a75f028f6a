"""The KPI store's tables (SQLAlchemy Core), as the latest migration leaves them.

The migrations in :mod:`harness.store.migrations` create and change the tables; this module
describes the result, for the queries. Every table has a natural key with a unique constraint,
so a push that repeats rows adds nothing:

- ``sweeps``: one row per sweep id (spec name, when created, machine, code version);
- ``runs``: one row per run id (labels, ranks, median seconds, status, verification, FOM, and
  the whole run record as JSON);
- ``kpi``: one row per (sweep, metric, group, cores, measured or predicted) — metrics
  ``parallel_efficiency``, ``speedup``, ``karp_flatt`` and ``serial_fraction``;
- ``alerts``: one row per (sweep, level, group, scale, measured or predicted);
- ``kpi_latest``: per series (metric, group, scale, kind, machine) the latest efficiency and the
  one before it, kept up to date by every push (revision 0002), so that ``kpi show`` and the
  exports read one row per series instead of ranking the whole history.

A *group* is one scaling study: workload, mode, variant and problem (the size plus the
parameter overrides, :func:`harness.inputs.problem_key`), as the analyzer names it.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

#: metric names of the ``kpi`` table
METRICS = ("parallel_efficiency", "speedup", "karp_flatt", "serial_fraction")
#: what a kpi or alert row is: measured, or a model's prediction at a scale not measured
KINDS = ("measured", "predicted")

sweeps = sa.Table(
    "sweeps", metadata,
    sa.Column("sweep_id", sa.String(128), primary_key=True),
    sa.Column("spec_name", sa.String(255), nullable=True),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("machine", sa.String(255), nullable=False),
    sa.Column("cpu_model", sa.String(255), nullable=True),
    sa.Column("code_version", sa.String(80), nullable=True),
    sa.Column("pushed_at", sa.String(40), nullable=False),
)

runs = sa.Table(
    "runs", metadata,
    sa.Column("run_id", sa.String(128), primary_key=True),
    sa.Column("sweep_id", sa.String(128), sa.ForeignKey("sweeps.sweep_id"), nullable=False),
    sa.Column("workload", sa.String(64), nullable=False),
    sa.Column("variant", sa.String(64), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("problem", sa.String(512), nullable=False),
    sa.Column("ranks", sa.Integer, nullable=False),
    sa.Column("nodes", sa.Integer, nullable=False),
    sa.Column("cores", sa.Integer, nullable=False),
    sa.Column("median_seconds", sa.Float, nullable=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("verified", sa.Boolean, nullable=False),
    sa.Column("fom_value", sa.Float, nullable=True),
    sa.Column("fom_unit", sa.String(64), nullable=True),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("record", sa.JSON, nullable=False),
    sa.Index("ix_runs_sweep", "sweep_id"),
)

kpi = sa.Table(
    "kpi", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sweep_id", sa.String(128), sa.ForeignKey("sweeps.sweep_id"), nullable=False),
    sa.Column("metric", sa.String(32), nullable=False),
    sa.Column("workload", sa.String(64), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("variant", sa.String(64), nullable=False),
    sa.Column("problem", sa.String(512), nullable=False),
    sa.Column("cores", sa.Integer, nullable=False),
    sa.Column("scale", sa.Float, nullable=False),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("interval_low", sa.Float, nullable=True),
    sa.Column("interval_high", sa.Float, nullable=True),
    sa.Column("target", sa.Float, nullable=True),
    sa.Column("status", sa.String(32), nullable=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("model", sa.String(32), nullable=True),
    sa.Column("extrapolation", sa.Float, nullable=True),
    sa.Column("bottleneck", sa.String(64), nullable=True),
    sa.Column("measured_at", sa.String(40), nullable=False),
    sa.UniqueConstraint("sweep_id", "metric", "workload", "mode", "variant", "problem", "cores",
                        "kind", name="uq_kpi_natural"),
    sa.Index("ix_kpi_series", "metric", "workload", "scale", "measured_at"),
    sa.Index("ix_kpi_measured_at", "measured_at"),
)

alerts = sa.Table(
    "alerts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sweep_id", sa.String(128), sa.ForeignKey("sweeps.sweep_id"), nullable=False),
    sa.Column("level", sa.String(8), nullable=False),
    sa.Column("metric", sa.String(32), nullable=False),
    sa.Column("workload", sa.String(64), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("variant", sa.String(64), nullable=False),
    sa.Column("problem", sa.String(512), nullable=False),
    sa.Column("cores", sa.Integer, nullable=False),
    sa.Column("scale", sa.Float, nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("threshold", sa.Float, nullable=False),
    sa.Column("predicted", sa.Boolean, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("raised_at", sa.String(40), nullable=False),
    sa.UniqueConstraint("sweep_id", "level", "metric", "workload", "mode", "variant", "problem",
                        "cores", "predicted", name="uq_alerts_natural"),
    sa.Index("ix_alerts_raised_at", "raised_at"),
)

#: the series a ``kpi_latest`` row stands for (one efficiency over time on one machine)
SERIES = ("metric", "workload", "mode", "variant", "problem", "scale", "kind", "machine")

kpi_latest = sa.Table(
    "kpi_latest", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("metric", sa.String(32), nullable=False),
    sa.Column("workload", sa.String(64), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("variant", sa.String(64), nullable=False),
    sa.Column("problem", sa.String(512), nullable=False),
    sa.Column("scale", sa.Float, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("machine", sa.String(255), nullable=False),
    sa.Column("cores", sa.Integer, nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("interval_low", sa.Float, nullable=True),
    sa.Column("interval_high", sa.Float, nullable=True),
    sa.Column("target", sa.Float, nullable=True),
    sa.Column("status", sa.String(32), nullable=True),
    sa.Column("model", sa.String(32), nullable=True),
    sa.Column("extrapolation", sa.Float, nullable=True),
    sa.Column("bottleneck", sa.String(64), nullable=True),
    sa.Column("sweep_id", sa.String(128), sa.ForeignKey("sweeps.sweep_id"), nullable=False),
    sa.Column("measured_at", sa.String(40), nullable=False),
    sa.Column("previous_value", sa.Float, nullable=True),
    sa.Column("previous_low", sa.Float, nullable=True),
    sa.Column("previous_high", sa.Float, nullable=True),
    sa.Column("previous_sweep_id", sa.String(128), nullable=True),
    sa.Column("previous_measured_at", sa.String(40), nullable=True),
    sa.UniqueConstraint(*SERIES, name="uq_kpi_latest_series"),
    sa.Index("ix_kpi_latest_workload", "workload"),
)
