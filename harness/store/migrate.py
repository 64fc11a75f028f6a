"""The store's schema version: create on first use, upgrade on request, refuse a mismatch.

The schema is versioned by Alembic (revisions in :mod:`harness.store.migrations`). An empty
database is created at the newest revision on first use. A store at an older revision is refused
until ``harness kpi migrate`` upgrades it; a store at a revision this harness does not know
(written by a newer harness) is refused outright. A refusal changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from harness.errors import StoreError
from harness.store import engine as store_engine

SCRIPTS = Path(__file__).with_name("migrations")
_TABLES = ("sweeps", "runs", "kpi", "alerts", "kpi_latest")


def _config(scripts: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(scripts))
    return config


def head(scripts: Path = SCRIPTS) -> str:
    """The newest schema revision this harness knows."""
    heads = ScriptDirectory.from_config(_config(scripts)).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the store's migrations have {len(heads)} heads; expected one")
    return heads[0]


def current(conn: sa.Connection) -> str | None:
    """The revision the store is at, or None for a database without the store's schema."""
    return MigrationContext.configure(conn).get_current_revision()


def _known(revision: str, scripts: Path) -> bool:
    try:
        return ScriptDirectory.from_config(_config(scripts)).get_revision(revision) is not None
    except CommandError:
        return False


def _upgrade(conn: sa.Connection, scripts: Path) -> None:
    config = _config(scripts)
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


def _foreign_tables(conn: sa.Connection) -> list[str]:
    names = set(sa.inspect(conn).get_table_names())
    return sorted(names & set(_TABLES))


def ensure(engine: sa.Engine, scripts: Path = SCRIPTS) -> str:
    """Make sure the store is usable at the newest revision: create it if empty.

    Returns the revision. Runs under the write lock, so two first pushes at once create the
    schema once.

    Raises
    ------
    StoreError
        When the store is at an older revision (run ``harness kpi migrate``), at a revision
        this harness does not know (a newer harness wrote it), holds tables of the same names
        without a version, or cannot be reached.
    """
    want = head(scripts)
    url = store_engine.masked(engine.url)
    with store_engine.connect(engine) as conn:  # plain read first: the common case
        have = current(conn)
    if have == want:
        return want
    with store_engine.connect(engine, write=True) as conn:
        have = current(conn)
        if have is None:
            clash = _foreign_tables(conn)
            if clash:
                raise StoreError(f"KPI store {url}: has table(s) {', '.join(clash)} but no "
                                 "schema version; it was not made by the harness: use another "
                                 "database")
            _upgrade(conn, scripts)
            return want
    return _refuse(have, want, url, scripts)


def _refuse(have: str, want: str, url: str, scripts: Path) -> str:
    if have == want:
        return want
    if _known(have, scripts):
        raise StoreError(f"KPI store {url}: schema version {have} is older than this harness's "
                         f"{want}; run `harness kpi migrate --store URL` to upgrade it")
    raise StoreError(f"KPI store {url}: schema version {have} is newer than this harness "
                     f"knows (newest {want}); use the harness that wrote it, or upgrade this one")


def upgrade(engine: sa.Engine, scripts: Path = SCRIPTS) -> tuple[str | None, str]:
    """Upgrade the store to the newest revision (``harness kpi migrate``).

    Returns
    -------
    tuple
        (revision before, revision after); equal when it was already current. ``None`` before
        means the store was created.

    Raises
    ------
    StoreError
        When the store is at a revision this harness does not know, or cannot be reached.
    """
    want = head(scripts)
    url = store_engine.masked(engine.url)
    with store_engine.connect(engine, write=True) as conn:
        have = current(conn)
        if have == want:
            return have, want
        if have is not None and not _known(have, scripts):
            _refuse(have, want, url, scripts)
        if have is None and _foreign_tables(conn):
            raise StoreError(f"KPI store {url}: has table(s) "
                             f"{', '.join(_foreign_tables(conn))} but no schema version; it "
                             "was not made by the harness: use another database")
        _upgrade(conn, scripts)
    return have, want
