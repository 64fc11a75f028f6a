"""Alembic migrations of the KPI store (``versions/``), run by :mod:`harness.store.migrate`.

To write a new revision from a checkout: ``alembic -c harness/store/migrations/alembic.ini
revision -m "what changes"`` then fill in ``upgrade()``; ``harness kpi migrate`` applies it.
"""
