"""Hold-out validation of the analyzer's predictions on public scaling series (``make validate``).

For every series (one group of a CSV in ``benchmarks/validation/`` and, when present, the
shared corpus ``../shared/validation-data/``), the largest core count is held out: the analyzer
sees the other points only and predicts the held-out time with its 95 % prediction interval.
Printed per series: the chosen model, predicted and measured time, relative error and whether
the measurement lies in the interval; then the median |error| and the coverage. With Extra-P
installed (``make validate`` installs it; see ``benchmarks/extrap_peer.py``), its default modeler
makes the same hold-out prediction from the same points, side by side, as it comes and with its
negative-exponent option (the terms strong scaling needs).

A second table (``benchmarks/phase_validate.py``) makes the same hold-out phase by phase on the
series with phase times: one PMNF term per phase (``harness.phasefit``), their sum against the
measured total, beside the whole-curve model and Extra-P on the same points.

A third table, with ``--records DIR`` (``make validate RECORDS=DIR [MACHINE=FILE]``), makes the
same hold-out on the harness's own run records through ``harness predict``'s code path
(``benchmarks/records_validate.py``), with ``--machine FILE`` the probed machine model.

Usage: ``python benchmarks/validate.py [DIR ...] [--records DIR] [--machine FILE]``; bad
input: one line on stderr, exit 2.
"""

from __future__ import annotations

import math
import statistics
import sys
import warnings
from pathlib import Path

import numpy as np

from harness import analysis, inputs, machinefile, metrics, targets
from harness.errors import HarnessError

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "validation-data"


def _peer():
    sys.path.insert(0, str(HERE))
    try:
        from extrap_peer import extrap_holdout
    except Exception:  # not installed, or it does not import with these libraries
        return None
    return extrap_holdout


def _series(paths: list[Path]):
    for path in paths:
        reps = inputs.load([path]).repetitions
        for keys, group in reps.groupby(metrics.KEYS, observed=True, sort=True):
            yield path.name, keys, group.reset_index(drop=True)


def holdout(group) -> dict[str, object]:
    """Predict the largest core count of ``group`` (repetitions) from the others."""
    cores = sorted(group["cores"].unique())
    held = cores[-1]
    train = group.loc[group["cores"] != held]
    base = cores[0]
    result = analysis.analyze(train, targets.defaults(), predict_scales=[held / base])
    measured = float(group.loc[group["cores"] == held, "seconds"].median())
    t0 = float(train.loc[train["cores"] == base, "seconds"].median())
    row = result.groups.iloc[0]
    out: dict[str, object] = {"cores": cores, "held": held, "measured": measured,
                              "model": row["model"], "anchoring": row["anchoring"]}
    pred = result.predictions
    pred = pred.loc[np.isclose(pred["scale"], held / base)] if not pred.empty else pred
    if pred.empty:
        out["why"] = next((n for n in row["notes"] if n.startswith("no prediction")), "refused")
        return out
    p = pred.iloc[0]
    eff_measured = t0 / (measured * (held / base)) if p.name is not None else math.nan
    if row["mode"] == "weak":
        eff_measured = t0 / measured
    out.update(predicted=float(p["seconds"]), error=float(p["seconds"]) / measured - 1.0,
               covered=bool(p["pi95_low"] <= eff_measured <= p["pi95_high"]),
               extrapolation=float(p["extrapolation"]))
    return out


def _arguments(argv: list[str]) -> tuple[list[str], Path | None, Path | None]:
    """Positional CSV directories, ``--records DIR`` and ``--machine FILE``."""
    dirs, options, it = [], {"--records": None, "--machine": None}, iter(argv)
    for arg in it:
        key, sep, value = arg.partition("=")
        if key in options:
            value = value if sep else next(it, None)
            if not value:
                raise HarnessError(f"{key} needs a value")
            options[key] = Path(value)
        else:
            dirs.append(arg)
    return dirs, options["--records"], options["--machine"]


def main(argv: list[str]) -> int:
    try:
        argv, records_dir, machine_file = _arguments(argv)
        machine_model = machinefile.load(machine_file) if machine_file else None
        if records_dir is not None and not records_dir.is_dir():
            raise HarnessError(f"--records {records_dir}: not a directory")
    except HarnessError as e:
        print(f"validate: {e}", file=sys.stderr)
        return 2
    code = _public(argv)
    if records_dir is not None:
        code = _records(records_dir, machine_model) or code
    return code


def _records(directory: Path, machine_model) -> int:
    """The third table: ``harness predict`` held out on the records under ``directory``."""
    sys.path.insert(0, str(HERE))
    import records_validate
    from phase_validate import print_table
    try:
        series = records_validate.series(directory)
    except HarnessError as e:
        print(f"validate: {e}", file=sys.stderr)
        return 2
    print(f"\nThe harness's own records ({directory}), the largest core count held out and "
          "predicted by harness predict's code path"
          + (f" with the machine model {machine_model.name}" if machine_model else
             " (no --machine: every phase empirical)") + ":")
    print_table(series, holdout, _peer(),
                lambda group: records_validate.holdout(group, machine_model))
    return 0


def _public(argv: list[str]) -> int:
    # Extra-P warns on every series of fewer than 5 core counts and on times below 1 s; the
    # table says what it needs instead
    warnings.filterwarnings("ignore", category=UserWarning, module="extrap")
    dirs = [Path(a) for a in argv] or [HERE / "validation"]
    if not argv and SHARED.is_dir():
        dirs.append(SHARED)
        print(f"series from {dirs[0]} and the shared corpus {SHARED}")
    elif not argv:
        print(f"series from {dirs[0]} only (no shared corpus at {SHARED})")
    files = sorted(p for d in dirs for p in d.glob("*.csv"))
    if not files:
        print("no CSV series in " + ", ".join(map(str, dirs)))
        return 0
    peer = _peer()
    if peer is None:
        print("Extra-P column: not installed (pip install '.[peer]')")
    header = (f"{'series':44} {'cores':>11} {'model':>10} {'predicted':>10} {'measured':>10} "
              f"{'error':>7} {'in PI':>5}"
              + (f" {'Extra-P':>9} {'error':>8} {'Extra-P-':>9} {'error':>7}" if peer else ""))
    print(header)
    print("-" * len(header))
    errors, covered = [], []
    peer_errors: dict[bool, list[float]] = {False: [], True: []}
    for name, keys, group in _series(files):
        label = f"{name}:{'/'.join(k for k in keys[:3] if k)}"[:44]
        try:
            r = holdout(group)
        except HarnessError as e:
            print(f"{label:44} error: {e}")
            continue
        span = f"{r['cores'][0]}-{r['cores'][-2]}>{r['held']}"
        if "predicted" not in r:
            print(f"{label:44} {span:>11} {'refused':>10}  {r['why'][:60]}")
            errors.append(math.inf)
            covered.append(False)
            continue
        model = f"{r['model']}{'*' if r['anchoring'] == 'trend' else ''}"
        line = (f"{label:44} {span:>11} {model:>10} {r['predicted']:10.4g} "
                f"{r['measured']:10.4g} {100 * r['error']:6.1f}% "
                f"{'yes' if r['covered'] else 'no':>5}")
        errors.append(abs(r["error"]))
        covered.append(r["covered"])
        if peer:
            by = group.loc[group["cores"] != r["held"]].groupby("cores")["seconds"]
            for negative in (False, True):
                try:
                    xp = peer(list(by.groups), [list(v) for _, v in by], int(r["held"]),
                              negative_exponents=negative)
                    xp_err = xp / r["measured"] - 1.0
                    peer_errors[negative].append(abs(xp_err))
                    line += f" {xp:9.4g} {100 * xp_err:7.1f}%"
                except Exception as e:  # the peer's failure is reported, not fatal
                    line += f" failed: {type(e).__name__}"
        print(line)
    print("-" * len(header))
    finite = [e for e in errors if math.isfinite(e)]
    print(f"series {len(errors)}, predicted {len(finite)}; median |error| "
          f"{100 * statistics.median(errors):.1f} % (refusals count as misses); coverage of the "
          f"95 % interval {100 * sum(covered) / max(len(covered), 1):.0f} %")
    for negative, label in ((False, "as it comes"), (True, "with negative exponents")):
        if peer_errors[negative]:
            print(f"Extra-P default modeler ({label}): median |error| "
                  f"{100 * statistics.median(peer_errors[negative]):.1f} % over "
                  f"{len(peer_errors[negative])} series")
    print("* trend anchoring: the baseline was off the trend of the other points; "
          "Extra-P-: with negative exponents (Extra-P wants 5 core counts or more: the series "
          "with 4 left after the hold-out get a warning from it)")
    print("\nPhase by phase (harness.phasefit, one Extra-P normal-form term per phase), the same "
          "hold-out, on the series with phase times:")
    from phase_validate import print_table
    print_table([(f"{Path(name).stem}:{keys[2] or keys[0]}", keys[1], group)
                 for name, keys, group in _series(files)], holdout, peer)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
