"""``harness kpi``: push records and their analysis into the KPI store, migrate it, query it.

The store URL comes from ``--store`` or ``HARNESS_STORE`` (default
``sqlite:///results/kpi.sqlite``); messages show it with any password masked. The work is done
in :mod:`harness.store`.
"""

from __future__ import annotations

from pathlib import Path

import click

STORE_HELP = ("Store URL (default sqlite:///results/kpi.sqlite; PostgreSQL: "
              "postgresql+psycopg://user@host:5432/db).")


def store_option(f):
    return click.option("--store", "store_url", default=None, envvar="HARNESS_STORE",
                        help=STORE_HELP)(f)


@click.group("kpi")
def kpi() -> None:
    """The KPI store: push sweeps into it, migrate its schema, show and export its KPIs."""


@kpi.command("push")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@store_option
@click.option("--targets", "targets_file", type=click.Path(path_type=Path), default=None,
              help="TOML file replacing the platform's default efficiency targets.")
def push(paths: tuple[Path, ...], store_url: str | None, targets_file: Path | None) -> None:
    """Push run records (directories are searched) and their analysis into the store.

    One transaction per sweep; runs already stored are skipped, so pushing the same sweep
    again adds nothing ("0 new"), and a sweep that gained runs adds only those (its KPIs are
    recomputed from all its runs).
    """
    from harness import targets
    from harness.store import engine
    from harness.store import push as store_push

    table = targets.load(targets_file) if targets_file is not None else targets.defaults()
    store = engine.create(store_url)
    results = store_push.push(store, paths, table)
    click.echo(store_push.summary(results, engine.masked(store.url)))


@kpi.command("migrate")
@store_option
def migrate(store_url: str | None) -> None:
    """Create the store, or upgrade its schema to the version this harness uses."""
    from harness.store import engine
    from harness.store import migrate as store_migrate

    store = engine.create(store_url)
    before, after = store_migrate.upgrade(store)
    url = engine.masked(store.url)
    if before == after:
        click.echo(f"{url}: schema version {after}, already current")
    elif before is None:
        click.echo(f"{url}: created at schema version {after}")
    else:
        click.echo(f"{url}: upgraded from schema version {before} to {after}")
