"""Many rows into one table at once: the driver's ``executemany`` on SQLite, SQLAlchemy's
insert elsewhere.

SQLAlchemy's ``executemany`` processes every parameter of every row in Python (about 15 us a
run row here), more than SQLite takes to store it; for a push of 100,000 records that is seconds.
On SQLite :func:`insert` hands the rows to ``sqlite3``'s ``executemany`` with one statement
compiled per table and column list, serializing the JSON columns with the store's serializer
(:func:`harness.store.engine.json_dumps`, as SQLAlchemy's JSON type would) and passing the
other values as they are (text, numbers, None, booleans as SQLite's 0 and 1). Rows whose keys
differ from the first row's, a column of another type and other databases go through
``sa.insert`` (tested: both store the same values, of the same SQLite types).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from harness.store.engine import json_dumps

#: column types whose values sqlite3 stores as SQLAlchemy would (JSON: serialized here); any
#: other type (a TypeDecorator, an Enum, a DateTime) goes through sa.insert and its processor
_PLAIN = (sa.String, sa.Text, sa.Integer, sa.BigInteger, sa.Float, sa.Boolean, sa.JSON)


def _statement(conn: sa.Connection, table: sa.Table, names: tuple[str, ...]) -> str:
    quote = conn.dialect.identifier_preparer.quote
    columns = ", ".join(quote(n) for n in names)
    return (f"INSERT INTO {quote(table.name)} ({columns}) "
            f"VALUES ({', '.join('?' for _ in names)})")


def insert(conn: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (dicts of column name -> value) into ``table`` on ``conn``.

    Raises
    ------
    sqlalchemy.exc.DBAPIError
        As ``conn.execute(sa.insert(table), rows)`` would (a constraint, a lost connection).
    KeyError
        A key that is not a column of ``table``.
    """
    if not rows:
        return
    first = rows[0].keys()
    columns = [table.c[n] for n in first]
    if (conn.dialect.name != "sqlite" or any(row.keys() != first for row in rows)
            or not all(type(c.type) in _PLAIN for c in columns)):
        conn.execute(sa.insert(table), list(rows))
        return
    names = tuple(first)
    json = [isinstance(c.type, sa.JSON) for c in columns]
    if any(json):
        params = [tuple(json_dumps(row[n]) if j else row[n]
                        for n, j in zip(names, json, strict=True)) for row in rows]
    else:
        params = [tuple(row[n] for n in names) for row in rows]
    conn.exec_driver_sql(_statement(conn, table, names), params)
