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


@kpi.command("prepare")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--targets", "targets_file", type=click.Path(path_type=Path), default=None,
              help="TOML file replacing the platform's default efficiency targets (a push "
                   "uses the prepared rows only with the same targets).")
def prepare(paths: tuple[Path, ...], targets_file: Path | None) -> None:
    """Analyze each sweep and write its KPI rows to kpi.json beside its records.

    A later `harness kpi push` of exactly those records, by this harness with the same
    targets, stores these rows instead of analyzing again (a store operation only); records
    changed, added or removed since, other targets or other code and the push analyzes them
    itself. The Slurm analysis job and `harness sweep --push` prepare their sweep.
    """
    from harness import targets
    from harness.errors import DataError
    from harness.store import push as store_push

    table = targets.load(targets_file) if targets_file is not None else targets.defaults()
    try:
        written = store_push.prepare(paths, table)
    except OSError as e:
        raise DataError(f"{e.filename or ', '.join(map(str, paths))}: cannot write kpi.json "
                        f"({e.strerror})") from None
    for path in written:
        click.echo(f"prepared {path}")


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


def _since(value: str | None) -> str | None:
    if value is None:
        return None
    from datetime import datetime

    from harness.errors import UsageError
    from harness.store.rows import timestamp

    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since {value!r}: expected a date or time such as 2026-11-01 or "
                         "2026-11-01T12:00:00Z") from None
    return timestamp(value)


def _latest(store_url: str | None, workload: str | None, since: str | None):
    from harness.store import engine, migrate, queries

    since = _since(since)  # checked before the store is touched
    store = engine.create(store_url)
    migrate.ensure(store)
    return store, queries.show(store, workload, since)


def _fmt(value: object, spec: str) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "-"
    return "-" if number != number else format(number, spec)


def show_table(latest) -> str:
    """The latest KPIs as an aligned text table, predicted rows marked."""
    if latest.empty:
        return "no efficiency KPIs in the store (push a sweep: harness kpi push SWEEP_DIR)\n"
    header = ["workload", "mode", "variant", "problem", "scale", "cores", "efficiency", "target",
              "status", "trend", "sweep", "machine"]
    rows = []
    for _, r in latest.iterrows():
        kind = " (predicted)" if r["kind"] == "predicted" else ""
        change = f" {r['change']:+.3f}" if r["trend"] in ("up", "down") else ""
        rows.append([r["workload"], r["mode"], r["variant"] or "-", r["problem"] or "-",
                     f"{r['scale']:g}x", str(int(r["cores"])),
                     _fmt(r["efficiency"], ".3f") + kind, _fmt(r["target"], ".2f"),
                     r["status"] or "no-target", r["trend"] + change, r["sweep_id"],
                     r["machine"]])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
              for row in rows]
    return "\n".join(lines) + "\n"


@kpi.command("show")
@store_option
@click.option("--workload", default=None, help="Only this workload.")
@click.option("--since", default=None,
              help="Only KPIs measured at or after this date/time (UTC), e.g. 2026-11-01.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def show(store_url: str | None, workload: str | None, since: str | None, as_json: bool) -> None:
    """Latest efficiency per workload and scale: target, status and the trend against the
    previous sweep of the same problem on the same machine (stable when the change is inside
    the intervals)."""
    import json

    from harness.store import engine
    from harness.store.rows import json_safe

    store, latest = _latest(store_url, workload, since)
    if as_json:
        document = {"schema": "harness.kpi-show/1", "store": engine.masked(store.url),
                    "rows": json_safe(latest.astype(object).where(latest.notna(), None)
                                      .to_dict(orient="records"))}
        click.echo(json.dumps(document, indent=2))
    else:
        click.echo(show_table(latest), nl=False)


@kpi.command("export")
@store_option
@click.option("--format", "fmt", type=click.Choice(["dashboard", "openmetrics", "csv"]),
              default="dashboard", show_default=True,
              help="dashboard JSON, OpenMetrics text, or CSV of the latest KPIs.")
@click.option("--workload", default=None, help="Only this workload.")
@click.option("--targets", "targets_file", type=click.Path(path_type=Path), default=None,
              help="TOML target table for the dashboard's headline target.")
@click.option("--textfile", type=click.Path(path_type=Path), default=None,
              help="With openmetrics: write harness_kpi.prom into this directory (atomically) "
                   "for node_exporter's textfile collector instead of printing.")
@click.option("--pushgateway", default=None,
              help="With openmetrics: push to this Pushgateway (group job=harness_kpi, "
                   "instance=<host>) instead of printing.")
@click.option("--delete", is_flag=True,
              help="With --pushgateway: delete this host's group instead of pushing.")
def export(store_url: str | None, fmt: str, workload: str | None, targets_file: Path | None,
           textfile: Path | None, pushgateway: str | None, delete: bool) -> None:
    """Export the latest KPIs for the dashboard (JSON), Prometheus (OpenMetrics) or a
    spreadsheet (CSV; cells that start with = + - @ are escaped)."""
    import json

    from harness import targets
    from harness.errors import UsageError
    from harness.store import engine, openmetrics, queries
    from harness.store import export as store_export

    if (textfile or pushgateway) and fmt != "openmetrics":
        raise UsageError("--textfile and --pushgateway go with --format openmetrics")
    if delete and not pushgateway:
        raise UsageError("--delete goes with --pushgateway URL")
    if delete:
        openmetrics.delete(pushgateway)
        click.echo(f"deleted group job={openmetrics.JOB} "
                   f"instance={openmetrics.grouping_key()['instance']} from {pushgateway}")
        return
    table = targets.load(targets_file) if targets_file is not None else targets.defaults()
    store, latest = _latest(store_url, workload, None)
    if fmt == "dashboard":
        click.echo(json.dumps(store_export.dashboard(latest, table, engine.masked(store.url)),
                              indent=2))
    elif fmt == "csv":
        click.echo(store_export.to_csv(latest), nl=False)
    else:
        reg = openmetrics.registry(latest, queries.alerted(store))
        if textfile:
            click.echo(f"wrote {openmetrics.write_textfile(reg, textfile)}")
        elif pushgateway:
            openmetrics.push(reg, pushgateway)
            click.echo(f"pushed {len(store_export.preferred(latest))} series to {pushgateway}")
        else:
            click.echo(openmetrics.exposition(reg), nl=False)
