"""The KPI store: sweeps, runs, KPIs and alerts in SQLite (default) or PostgreSQL.

Modules, one job each: :mod:`~harness.store.engine` (URL, engine, locks, messages),
:mod:`~harness.store.schema` (tables), :mod:`~harness.store.migrate` (schema versions through
Alembic, revisions in ``migrations/versions``), :mod:`~harness.store.rows` (records and analyses
as rows), :mod:`~harness.store.push` (``harness kpi push``), :mod:`~harness.store.latest` (the
``kpi_latest`` table each push keeps), :mod:`~harness.store.queries` (``kpi show``, history and
trend), :mod:`~harness.store.export` (dashboard JSON, CSV), :mod:`~harness.store.openmetrics`
(Prometheus) and :mod:`~harness.store.compare` (``harness compare``).
"""
