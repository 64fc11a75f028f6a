"""kpi_latest: the latest and previous efficiency of every series, kept by each push.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

``harness kpi show`` and the exports read this small table instead of ranking every kpi row.
A series is (metric, workload, mode, variant, problem, scale, kind, machine). The upgrade fills
it from the kpi rows already stored.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SERIES = ("metric", "workload", "mode", "variant", "problem", "scale", "kind", "machine")
LATEST = ("cores", "value", "interval_low", "interval_high", "target", "status", "model",
          "extrapolation", "bottleneck", "sweep_id", "measured_at")
PREVIOUS = ("value", "interval_low", "interval_high", "sweep_id", "measured_at")


def upgrade() -> None:
    op.create_table(
        "kpi_latest",
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
    )
    op.create_index("ix_kpi_latest_workload", "kpi_latest", ["workload"])
    series = ", ".join(f"k.{c}" if c != "machine" else "s.machine" for c in SERIES)
    same = " AND ".join(f"b.{c} = a.{c}" for c in SERIES)
    op.execute(sa.text(f"""
        WITH ranked AS (
            SELECT k.*, s.machine, ROW_NUMBER() OVER (
                PARTITION BY {series} ORDER BY k.measured_at DESC, k.sweep_id DESC) AS rnk
            FROM kpi k JOIN sweeps s ON s.sweep_id = k.sweep_id
            WHERE k.metric = 'parallel_efficiency' AND k.value IS NOT NULL)
        INSERT INTO kpi_latest ({", ".join(SERIES + LATEST)},
                                previous_value, previous_low, previous_high, previous_sweep_id,
                                previous_measured_at)
        SELECT {", ".join(f"a.{c}" for c in SERIES + LATEST)},
               {", ".join(f"b.{c}" for c in PREVIOUS)}
        FROM ranked a LEFT JOIN ranked b ON {same} AND b.rnk = 2
        WHERE a.rnk = 1
    """))


def downgrade() -> None:
    op.drop_table("kpi_latest")
