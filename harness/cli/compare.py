"""``harness compare BASE NEW``: flag points of NEW that are significantly slower than BASE.

The comparison itself is :mod:`harness.store.compare`; exit 3 on a regression, so CI can gate.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("compare")
@click.argument("base")
@click.argument("new")
@click.option("--threshold", default="5%", show_default=True,
              help="Slowdown that counts (time ratio above 1 + threshold), e.g. 5% or 0.05.")
@click.option("--store", "store_url", default=None, envvar="HARNESS_STORE",
              help="KPI store to look sweep ids up in (default sqlite:///results/kpi.sqlite).")
@click.option("--targets", "targets_file", type=click.Path(path_type=Path), default=None,
              help="TOML file replacing the platform's default efficiency targets.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def compare(base: str, new: str, threshold: str, store_url: str | None,
            targets_file: Path | None, as_json: bool) -> None:
    """Compare two sweeps (directories, or sweep ids in the KPI store) point by point.

    A point is a regression when NEW is slower by more than the threshold and the slowdown is
    significant over the runs (Welch's one-sided t-test on log run-median times, p < 0.05; at
    least two runs a side, else significance is reported as not reachable). Exit 3 on a
    regression. Sweeps from different machines, or with no point in common, are refused.
    """
    import json

    from harness import targets
    from harness.errors import RegressionError
    from harness.store import compare as store_compare
    from harness.store.rows import json_safe

    fraction = store_compare.parse_threshold(threshold)
    table = targets.load(targets_file) if targets_file is not None else targets.defaults()
    left = store_compare.load_side(base, store_url)
    right = store_compare.load_side(new, store_url)
    frame = store_compare.compare(left, right, fraction, table)
    if as_json:
        click.echo(json.dumps({"schema": "harness.compare/1", "base": base, "new": new,
                               "threshold": fraction, "test": store_compare.TEST,
                               "points": json_safe(frame.astype(object).where(frame.notna(), None)
                                                   .to_dict(orient="records"))}, indent=2))
    else:
        click.echo(store_compare.render(frame, base, new, fraction), nl=False)
    flagged = frame.loc[frame["verdict"] == "regression"]
    if len(flagged):
        raise RegressionError(f"{len(flagged)} point(s) of {new} are significantly slower than "
                              f"{base} by more than {fraction:.1%}")
