"""Extra-P as a peer model for hold-out validation of scaling predictions.

``extrap_holdout`` fits one single-parameter Extra-P model (parameter ``p`` = cores) to measured
wall times and evaluates it at a core count. It calls Extra-P's own entities and its default
modeler, the one ``extrap`` uses when ``--modeler`` is not given: the PMNF search of
``extrap.modelers.single_parameter.basic`` over the mean of the repetitions, with leave-one-out
cross-validation (Calotoiu et al., "Using automated performance modeling to find scalability
bugs in complex codes", SC 2013). Install it with the ``peer`` extra (``pip install -e '.[peer]'``);
Extra-P 4.2 pins ``numpy~=1.18`` and pulls PySide6, so that downgrades numpy below 2. Modeling
needs only ``pip install --no-deps extrap`` plus ``marshmallow~=3.7``, ``tqdm`` and
``matplotlib``, which keeps the harness's numpy (checked with Extra-P 4.2.5 on numpy 2.4).

Run as a script on a folder of harness CSVs (``workload,mode,[variant,size,]cores,seconds``), it
holds out the largest core count of every workload/variant series, predicts it from the rest and
prints predicted against measured median time and the relative error::

    python benchmarks/extrap_peer.py /work/shared/validation-data
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from extrap.entities.callpath import Callpath
from extrap.entities.coordinate import Coordinate
from extrap.entities.experiment import Experiment
from extrap.entities.measurement import Measurement
from extrap.entities.metric import Metric
from extrap.entities.parameter import Parameter
from extrap.fileio.io_helper import create_call_tree, validate_experiment
from extrap.modelers.model_generator import ModelGenerator


def extrap_holdout(
    cores: Sequence[int],
    seconds: Sequence[Sequence[float]],
    predict_at: int,
    *,
    negative_exponents: bool = False,
) -> float:
    """Predicted wall time at ``predict_at`` cores from Extra-P's default single-parameter model.

    Parameters
    ----------
    cores : sequence of int, length n
        Distinct core counts measured, each > 0 (the model parameter ``p``).
    seconds : sequence of n sequences of float
        Wall times in seconds at each core count, one or more repetitions each, all finite and
        > 0. Extra-P models their mean.
    predict_at : int
        Core count (> 0) at which the model is evaluated.
    negative_exponents : bool, keyword only
        Turn on the default modeler's "Negative exponents" option (terms such as ``p^-1`` for
        strong scaling). Off by default, as in ``extrap``; without it the model cannot
        describe ``a + b/p`` and extrapolates strong-scaling times poorly.

    Returns
    -------
    float
        Model value at ``predict_at``, in seconds. Not clipped: it may be negative.

    Raises
    ------
    ValueError
        When lengths differ, a core count is repeated or not > 0, a repetition list is empty,
        or a time is not finite and > 0.

    Notes
    -----
    Extra-P asks for at least five core counts and emits a ``UserWarning`` with fewer; it then
    still returns a model, often the constant one (the mean of the inputs). That warning is
    passed on to the caller.
    """
    if len(cores) != len(seconds):
        raise ValueError(f"{len(cores)} core counts but {len(seconds)} lists of times")
    if not cores:
        raise ValueError("no measurements given")
    if any(int(c) != c or c <= 0 for c in (*cores, predict_at)):
        raise ValueError("core counts and predict_at must be integers > 0")
    if len(set(cores)) != len(cores):
        raise ValueError(f"core counts repeat: {sorted(cores)}")
    for count, times in zip(cores, seconds, strict=True):
        if len(times) == 0:
            raise ValueError(f"no times at {count} cores")
        if not all(math.isfinite(t) and t > 0 for t in times):
            raise ValueError(f"times at {count} cores must be finite and > 0: {list(times)}")

    return float(_fit(cores, seconds, negative_exponents).evaluate(float(predict_at)))


def _fit(cores: Sequence[int], seconds: Sequence[Sequence[float]], negative_exponents: bool):
    """The Extra-P function of the default modeler for checked inputs."""
    # the same objects Extra-P's text reader builds from PARAMETER/POINTS/DATA lines
    experiment = Experiment()
    experiment.add_parameter(Parameter("p"))
    callpath, metric = Callpath("main"), Metric("time")
    experiment.add_callpath(callpath)
    experiment.add_metric(metric)
    for count, times in zip(cores, seconds, strict=True):
        coordinate = Coordinate(float(count))
        experiment.add_coordinate(coordinate)
        experiment.add_measurement(
            Measurement(coordinate, callpath, metric, [float(t) for t in times]))
    experiment.call_tree = create_call_tree(experiment.callpaths)
    validate_experiment(experiment)

    generator = ModelGenerator(experiment)  # modeler "Default", as extrap's --modeler default
    if negative_exponents:
        generator.modeler.allow_negative_exponents = True
    generator.model_all()
    return generator.models[(callpath, metric)].hypothesis.function


def _validate_folder(folder: Path) -> int:
    """Print the hold-out table for every CSV in ``folder``; return the exit status.

    Each series is predicted twice: with the default modeler as ``extrap`` runs it, and with its
    negative exponents turned on. Errors are relative to the median of the held-out times.
    Nothing is printed to stdout unless every file reads and models cleanly.
    """
    import numpy as np
    import pandas as pd

    files = sorted(folder.glob("*.csv"))
    if not files:
        print(f"extrap_peer: no *.csv in {folder}", file=sys.stderr)
        return 2
    rows: list[str] = []
    errors: dict[bool, list[float]] = {False: [], True: []}
    for path in files:
        try:
            frame = pd.read_csv(path)
            if not {"workload", "cores", "seconds"} <= set(frame.columns):
                raise ValueError("lacks one of the columns workload, cores, seconds")
            rows += _hold_out_series(frame, errors)
        except (OSError, ValueError) as error:  # pandas' parser errors are ValueErrors
            print(f"extrap_peer: {path}: {error}", file=sys.stderr)
            return 2
    print(f"{'series':34s} {'n':>2s} {'held':>5s} {'measured':>9s} {'default':>9s} {'error':>9s} "
          f"{'neg.exp':>9s} {'error':>7s}  models (default | neg.exp)")
    print("\n".join(rows))
    print(f"median |error| over {len(errors[False])} series: default "
          f"{float(np.median(errors[False])):.1%}, negative exponents "
          f"{float(np.median(errors[True])):.1%}")
    return 0


def _hold_out_series(frame, errors: dict[bool, list[float]]) -> list[str]:
    """Table rows, one per workload/variant series of ``frame``; appends |error| to ``errors``."""
    import numpy as np

    rows = []
    keys = ["workload", "variant"] if "variant" in frame.columns else ["workload"]
    for key, series in frame.groupby(keys, sort=True):
        times = series.groupby("cores")["seconds"].apply(list).sort_index()
        if len(times) < 2:
            raise ValueError(f"series {key} has one core count: nothing to hold out")
        held, train = int(times.index[-1]), times.iloc[:-1]
        if not all(np.isfinite(t) and t > 0 for t in times.iloc[-1]):
            raise ValueError(f"series {key}: times at {held} cores must be finite and > 0")
        measured = float(np.median(times.iloc[-1]))
        cells, models = [], []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for negative in (False, True):
                predicted = extrap_holdout(list(train.index), list(train), held,
                                           negative_exponents=negative)
                error = (predicted - measured) / measured
                errors[negative].append(abs(error))
                cells.append(f"{predicted:9.4g} {error:+9.1%}")
                models.append(str(_fit(list(train.index), list(train), negative)))
        few = " (<5 points)" if any("at least 5" in str(w.message) for w in caught) else ""
        name = "/".join(str(k) for k in key)
        rows.append(f"{name:34s} {len(train):2d} {held:5d} {measured:9.4g} {cells[0]} {cells[1]}  "
                    f"{models[0]} | {models[1]}{few}")
    return rows


if __name__ == "__main__":
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_dir():
        print("usage: python benchmarks/extrap_peer.py FOLDER_OF_CSV", file=sys.stderr)
        sys.exit(2)
    sys.exit(_validate_folder(Path(sys.argv[1])))
