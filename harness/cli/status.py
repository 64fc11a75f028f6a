"""``harness status``: a sweep directory's jobs and records, as text or one JSON document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


@click.command()
@click.argument("sweep_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, envvar="HARNESS_STATUS_JSON",
              help="Print the report as one JSON document.")
def status(sweep_dir: Path, as_json: bool) -> None:
    """Show the job states and the records present versus expected for SWEEP_DIR."""
    from harness.status import status as sweep_status

    report = sweep_status(sweep_dir)
    click.echo(json.dumps(report, indent=2) if as_json else format_status(report))


def format_status(report: dict[str, Any]) -> str:
    """A :func:`harness.status.status` report as plain text: one line per job, then the record
    counts."""
    lines = [f"sweep {report['sweep_id']} ({report['backend']}, {report['state']}): "
             f"{report['sweep_dir']}"]
    width = max([len(j["name"]) for j in report["jobs"]] + [4])
    for j in report["jobs"]:
        lines.append(f"  {j['name']:<{width}}  {j['job_id'] or '-':>9}  {j['state']:<13} "
                     f"records {j['records']}/{j['expected']}  ({j['source']})")
    r = report["records"]
    lines.append(f"records: {r['present']} of {r['expected']} expected present "
                 f"(ok {r['ok']}, verification_failed {r['verification_failed']}, "
                 f"failed {r['failed']}" + (f", unreadable {r['unreadable']}" if r["unreadable"]
                                            else "") + ")")
    lines.append("analysis: " + ("analysis.json present" if report["analysis"] else "not yet"))
    return "\n".join(lines)
