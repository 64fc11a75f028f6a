"""Connecting to the KPI store: the URL, the engine, write transactions and error messages.

The URL comes from ``--store`` / ``HARNESS_STORE``, default ``sqlite:///results/kpi.sqlite``;
``postgresql+psycopg://user:password@host:port/db`` needs the ``postgres`` extra (psycopg 3).
Every message that names the URL masks its password.

SQLite is opened in WAL mode with a 60 s busy timeout (a folder whose file system has no working
locks, such as NFS without a lock daemon, is refused up front) and ``synchronous = NORMAL`` (a
commit is atomic and survives a crash of the process; a power loss may undo the last pushes but
never corrupts the store, and the records, which stay on disk, push again), and a write
transaction starts with
``BEGIN IMMEDIATE``: it takes the write lock first, so two pushes at once queue for it instead of
one failing with "database is locked" when it upgrades a read lock. On PostgreSQL a write
transaction takes a transaction-scoped advisory lock, for the same reason: pushes serialize, and
readers never wait.

JSON columns (a run's whole record) are written as strict JSON by :func:`json_dumps`: a NaN or
infinite number, which JSON cannot hold and PostgreSQL refuses, is written as null.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from harness.errors import StoreError

DEFAULT_URL = "sqlite:///results/kpi.sqlite"
ENV_VAR = "HARNESS_STORE"
#: SQLite waits this long for a lock held by another process before it gives up (ms)
BUSY_TIMEOUT_MS = 60_000
#: pages of WAL (4 KiB each) between automatic checkpoints (SQLite's default: 1000)
WAL_CHECKPOINT_PAGES = 10_000
#: the advisory lock key that serializes writers on PostgreSQL ("kpi" in ASCII)
PG_LOCK_KEY = 0x6B7069
_WRITE = "harness_write"


def json_dumps(value: object) -> str:
    """``value`` as strict JSON text, NaN and infinities as null: the store's JSON serializer.

    orjson writes them as null itself (and ten times faster than ``json.dumps``); what it
    refuses (a key that is not a string, an integer beyond 64 bits) goes to ``json.dumps``.
    """
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:
        pass
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:
        from harness.store.rows import json_safe  # the rare case: a NaN in a record

        return json.dumps(json_safe(value), allow_nan=False)


def resolve(url: str | None) -> str:
    """The store URL: ``url`` if given, else ``$HARNESS_STORE``, else :data:`DEFAULT_URL`."""
    return url or os.environ.get(ENV_VAR) or DEFAULT_URL


def masked(url: str | sa.URL) -> str:
    """``url`` as text with any password replaced by ``***``; never raises."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        text = str(url)
        if "@" in text and "://" in text:  # scheme://user:secret@host -> scheme://user:***@host
            scheme, rest = text.split("://", 1)
            auth, host = rest.rsplit("@", 1)
            return f"{scheme}://{auth.split(':', 1)[0]}:***@{host}"
        return text


def describe(error: BaseException, url: sa.URL) -> str:
    """First line of a driver error, with the URL's password removed if it appears."""
    lines = str(getattr(error, "orig", None) or error).strip().splitlines()
    text = lines[0] if lines else type(error).__name__
    if url.password:
        text = text.replace(str(url.password), "***")
    return text


def check_locks(directory: Path, url: str) -> None:
    """Refuse a folder whose file system does not support POSIX record locks (SQLite's), such
    as NFS without a lock daemon: there SQLite would corrupt the store or wait forever.

    Raises
    ------
    StoreError
        When taking a non-blocking exclusive lock on a file in ``directory`` fails for any
        reason other than another holder.
    """
    try:
        fd, name = tempfile.mkstemp(prefix=".harness-lock-", dir=directory)
    except OSError as e:
        raise StoreError(f"{url}: cannot write in {directory} ({e.strerror})") from None
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.lockf(fd, fcntl.LOCK_UN)
    except OSError as e:
        if e.errno not in (errno.EACCES, errno.EAGAIN):
            raise StoreError(f"{url}: the file system of {directory} does not support file "
                             f"locks ({e.strerror}); SQLite needs them: put the store on a local "
                             "disk, or use PostgreSQL") from None
    finally:
        os.close(fd)
        os.unlink(name)


def _sqlite_setup(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        # let SQLAlchemy, not the sqlite3 module, decide when transactions begin
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        mode = cursor.execute("PRAGMA journal_mode = WAL").fetchone()
        # WAL with synchronous=NORMAL: a commit is atomic and survives the process crashing;
        # a power loss may undo the last pushes (never corrupt the store), and pushing the
        # records again, which stay on disk, restores them
        cursor.execute("PRAGMA synchronous = NORMAL")
        # a checkpoint (WAL pages copied into the database, then synced) every ~40 MB of WAL
        # rather than every 4 MB: pages written again and again, the indexes', are copied once
        cursor.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
        cursor.close()
        if mode and str(mode[0]).lower() not in ("wal", "memory"):
            raise StoreError(f"SQLite could not switch to WAL mode (it answered {mode[0]!r}); "
                             "the store's file system may not support shared-memory locks: "
                             "put the store on a local disk")

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create(url: str | None = None) -> sa.Engine:
    """An engine for the store at ``url`` (see :func:`resolve`); creates a SQLite file's folder.

    Raises
    ------
    StoreError
        When the URL is malformed, its driver is not installed (PostgreSQL needs the
        ``postgres`` extra), or a SQLite file's folder cannot be created.
    """
    text = resolve(url)
    try:
        parsed = make_url(text)
    except ArgumentError:
        raise StoreError(f"{masked(text)}: not a database URL; use one like {DEFAULT_URL} or "
                         "postgresql+psycopg://user@host:5432/kpi") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:" and not database.startswith("file:"):
                try:
                    Path(database).parent.mkdir(parents=True, exist_ok=True)
                except OSError as e:
                    raise StoreError(f"{masked(parsed)}: cannot create the folder for the "
                                     f"store ({e.strerror})") from None
                check_locks(Path(database).parent, masked(parsed))
            engine = sa.create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000},
                                      json_serializer=json_dumps)
            _sqlite_setup(engine)
            return engine
        if parsed.get_backend_name() != "postgresql":
            raise StoreError(f"{masked(parsed)}: the KPI store runs on SQLite or PostgreSQL "
                             "(sqlite:///PATH or postgresql+psycopg://...)")
        return sa.create_engine(parsed, pool_pre_ping=True, json_serializer=json_dumps)
    except (NoSuchModuleError, ModuleNotFoundError) as e:
        raise StoreError(f"{masked(parsed)}: the database driver is not installed ({e}); for "
                         "PostgreSQL: pip install 'parallel-efficiency-harness[postgres]'"
                         ) from None


@contextmanager
def connect(engine: sa.Engine, write: bool = False) -> Iterator[sa.Connection]:
    """A connection in one transaction that commits on success and rolls back on any error.

    With ``write`` the transaction holds the store's write lock from its first statement
    (SQLite ``BEGIN IMMEDIATE``; a PostgreSQL advisory transaction lock), so concurrent writers
    queue rather than fail.

    Raises
    ------
    StoreError
        When the store cannot be reached or a statement fails; the URL's password masked.
    """
    try:
        with engine.connect() as conn:
            if write:
                conn = conn.execution_options(**{_WRITE: True})
            with conn.begin():
                if write and engine.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                                 {"key": PG_LOCK_KEY})
                yield conn
    except DBAPIError as e:
        raise StoreError(f"KPI store {masked(engine.url)}: {describe(e, engine.url)}") from None
