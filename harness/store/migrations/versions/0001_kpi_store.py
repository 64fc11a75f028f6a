"""The KPI store: sweeps, runs, kpi and alerts, with their natural keys and indexes.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _group() -> list[sa.Column]:
    return [sa.Column("workload", sa.String(64), nullable=False),
            sa.Column("mode", sa.String(16), nullable=False),
            sa.Column("variant", sa.String(64), nullable=False),
            sa.Column("problem", sa.String(512), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("sweep_id", sa.String(128), primary_key=True),
        sa.Column("spec_name", sa.String(255), nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("machine", sa.String(255), nullable=False),
        sa.Column("cpu_model", sa.String(255), nullable=True),
        sa.Column("code_version", sa.String(80), nullable=True),
        sa.Column("pushed_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "runs",
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
    )
    op.create_index("ix_runs_sweep", "runs", ["sweep_id"])
    op.create_table(
        "kpi",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sweep_id", sa.String(128), sa.ForeignKey("sweeps.sweep_id"), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        *_group(),
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
        sa.UniqueConstraint("sweep_id", "metric", "workload", "mode", "variant", "problem",
                            "cores", "kind", name="uq_kpi_natural"),
    )
    op.create_index("ix_kpi_series", "kpi", ["metric", "workload", "scale", "measured_at"])
    op.create_index("ix_kpi_measured_at", "kpi", ["measured_at"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sweep_id", sa.String(128), sa.ForeignKey("sweeps.sweep_id"), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        *_group(),
        sa.Column("cores", sa.Integer, nullable=False),
        sa.Column("scale", sa.Float, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("predicted", sa.Boolean, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("raised_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("sweep_id", "level", "metric", "workload", "mode", "variant",
                            "problem", "cores", "predicted", name="uq_alerts_natural"),
    )
    op.create_index("ix_alerts_raised_at", "alerts", ["raised_at"])


def downgrade() -> None:
    for table in ("alerts", "kpi", "runs", "sweeps"):
        op.drop_table(table)
