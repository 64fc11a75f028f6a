"""``harness predict``: each phase's time, the total and the efficiency at scales not measured.

Parses the command line, then hands off: :mod:`harness.inputs` reads the sweep,
:mod:`harness.predict` fits and chooses per phase, :mod:`harness.whatif` re-predicts on a changed
machine or algorithm, :mod:`harness.predict_render` formats. Every input is checked before
anything is computed or written; ``-o`` replaces its file atomically once the output is ready.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import click

from harness import atomic, inputs, machine, machinefile, predict, predict_render, targets, whatif
from harness.errors import BadInputError
from harness.limits import MAX_CORES

_SCALE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*[xX]?\s*$")


def parse_scales(text: str) -> list[float]:
    """``"10x,50x,100x"`` (the ``x`` optional) into scales > 0.

    Raises
    ------
    BadInputError
        An item that is not a number > 0 with an optional ``x``, or above the core limit.
    """
    out = []
    for item in text.split(","):
        match = _SCALE.match(item)
        value = float(match.group(1)) if match else math.nan
        if not match or not 0 < value <= MAX_CORES:
            raise BadInputError(f"--to {text!r}: {item.strip()!r} is not a scale; write numbers "
                                "> 0 with an optional x, e.g. 10x,50x,100x,500x")
        out.append(value)
    return out


def parse_cores(text: str) -> list[int]:
    """``"2500"`` or ``"50,2500"`` into core counts (whole numbers ≥ 1).

    Raises
    ------
    BadInputError
        An item that is not a whole number in 1..MAX_CORES.
    """
    out = []
    for item in text.split(","):
        item = item.strip()
        if not item.isdigit() or not 1 <= int(item) <= MAX_CORES:
            raise BadInputError(f"--cores {text!r}: {item!r} is not a core count; write whole "
                                f"numbers from 1 to {MAX_CORES}, e.g. 50,2500")
        out.append(int(item))
    return out


def _check_output(path: Path) -> None:
    """Refuse an ``-o`` that cannot become a file before anything is computed."""
    directory = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise BadInputError(f"-o {path}: is a directory; give a file name")
    if not directory.is_dir():
        raise BadInputError(f"-o {path}: no such directory {directory}")
    if not os.access(directory, os.W_OK):
        raise BadInputError(f"-o {path}: cannot write in {directory}")


@click.command("predict")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--machine", "machine_file", type=click.Path(path_type=Path), default=None,
              help="Machine model TOML (written by `harness probe`): enables the mechanistic "
                   "model and the what-ifs.")
@click.option("--to", "to", default=None, metavar="SCALES",
              help="Scales over each group's baseline, e.g. 10x,50x,100x,500x (default: the "
                   "targets' scales).")
@click.option("--cores", "cores", default=None, metavar="N[,N...]",
              help="Absolute core counts to predict at, instead of --to.")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="A what-if on the machine model, e.g. network.latency=1us (repeatable; keys: "
                   + ", ".join(machine.OVERRIDES) + ").")
@click.option("--variant", "variant", type=click.Choice(["async"]), default=None,
              help="async: predict the asynchronous algorithm (reductions overlap the compute).")
@click.option("--targets", "targets_file", type=click.Path(path_type=Path), default=None,
              help="TOML file replacing the platform's default efficiency targets.")
@click.option("--format", "fmt", type=click.Choice(predict_render.FORMATS), default="table",
              show_default=True, help="table for people, json (one document), csv.")
@click.option("--pool-provenance", is_flag=True,
              help="Pool runs made with different code versions (a note names the fields) "
                   "instead of refusing them.")
@click.option("-o", "--output", "output", type=click.Path(path_type=Path), default=None,
              help="Write to this file (replaced atomically) instead of stdout.")
def predict_command(paths: tuple[Path, ...], machine_file: Path | None, to: str | None,
                    cores: str | None, assignments: tuple[str, ...], variant: str | None,
                    targets_file: Path | None, fmt: str, pool_provenance: bool,
                    output: Path | None) -> None:
    """Predict each phase's time, the total and the efficiency at larger scales.

    Per workload/mode/variant, problem and machine (grouped as `harness analyze` groups), each
    timed phase is fitted empirically (one term of the performance-model normal form) and,
    with --machine and a workload that states its costs, mechanistically (its work and
    messages on the probed machine, calibrated on the measured points); the model with the
    lower hold-out error predicts the phase. Totals, efficiency with a 95 % interval, target
    status, extrapolation distance, the dominant phase at the largest scale, and what-ifs
    (faster interconnect, parallel file system, asynchronous algorithm, --set). Every figure
    is a prediction, never a measurement.
    """
    if to is not None and cores is not None:
        raise click.UsageError("give --to or --cores, not both")
    scales = parse_scales(to) if to is not None else None
    counts = parse_cores(cores) if cores is not None else None
    if assignments and machine_file is None:
        raise BadInputError("--set changes a machine model: give one with --machine")
    if output is not None:
        _check_output(output)
    table = targets.load(targets_file) if targets_file is not None else targets.defaults()
    model = machinefile.load(machine_file) if machine_file is not None else None
    if model is not None and assignments:
        machine.with_overrides(model, assignments)  # refuses a bad key or value now
    data = inputs.load(paths)
    forecasts = predict.forecast(data.repetitions, table, scales=scales, cores=counts,
                                 machine=model, asynchronous=variant == "async",
                                 pool_provenance=pool_provenance)
    for f in forecasts:
        f.what_ifs = whatif.what_ifs(f, table, model, list(assignments), variant == "async")
    text = predict_render.render(forecasts, table, model, data.excluded, fmt)
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            atomic.write_text(output, text, replace=True)
        except OSError as e:
            raise BadInputError(f"-o {output}: cannot write ({e.strerror or e})") from None
