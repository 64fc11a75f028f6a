"""Judge a saved ``make bench`` run: every recorded ratio against its target.

Usage: ``python benchmarks/bench_check.py [RUN.json] [--report]``. Without a path it reads the
newest file under ``.benchmarks/`` (where ``pytest --benchmark-save`` writes). It prints a
summary, one row per workload (its FOM, fraction of the roof, ratio to the alternative, ratio to
the C peer), then one table of every check — its kind (roof, alternative, C peer, the harness's
overhead), value, target and status — then the misses, and exits 1 when any check
misses its target or an expected check is absent (its benchmark skipped or failed); ``--report``
prints the same and exits 0. Bad input (no such file, not a pytest-benchmark JSON): one line on
stderr, exit 2.

The checks are those the benchmarks put in ``extra_info["checks"]`` (``benchmarks/checks.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from checks import met

#: checks every full ``make bench`` records (the name, as the benchmarks record it)
EXPECTED = (
    "cfd Numba / C (gcc -O3), cell updates/s",
    "cfd effective bandwidth (16 B/update) / STREAM copy",
    "cfd Numba / NumPy slicing, cell updates/s",
    "cfd strong efficiency 1->2 ranks, ours / C MPI peer",
    "fea CG time per iteration, ours / scipy",
    "param Numba / NumPy vectorized RK4, cases/s",
    "opt Numba DE / scipy differential_evolution, evaluations/s",
    "harness timing per repetition / cfd small repetition",
    "harness record machinery per run / cfd small timed region",
)
HEADINGS = {"roof": "fraction of roof", "alternative": "vs alternative", "peer": "vs C peer",
            "overhead": "harness overhead", "other": "other"}


def newest(root: Path) -> Path:
    """The most recently written ``*.json`` under ``root``.

    Raises
    ------
    FileNotFoundError
        When there is none.
    """
    runs = sorted(root.glob("**/*.json"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise FileNotFoundError(f"no saved benchmark run under {root}/ (run `make bench`)")
    return runs[-1]


def load_checks(path: Path) -> list[dict]:
    """Every check recorded in the pytest-benchmark JSON at ``path``.

    Raises
    ------
    ValueError
        When the file is not a pytest-benchmark JSON.
    """
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise ValueError(f"{path}: not a pytest-benchmark JSON (no 'benchmarks' list)")
    found = []
    for bench in data["benchmarks"]:
        for check in (bench.get("extra_info") or {}).get("checks", []):
            found.append({**check, "benchmark": bench.get("name", "?")})
    return found


def load_foms(path: Path) -> dict[str, dict]:
    """The figure of merit each workload's benchmark recorded, by workload."""
    data = json.loads(path.read_text())
    return {b["extra_info"]["fom"]["workload"]: b["extra_info"]["fom"]
            for b in data.get("benchmarks", []) if "fom" in (b.get("extra_info") or {})}


def summary(found: list[dict], foms: dict[str, dict]) -> list[str]:
    """One row per workload: FOM, fraction of the roof, ratio to the alternative, to the peer."""
    def cell(workload: str, kind: str) -> str:
        own = [c for c in found if c["kind"] == kind and c["name"].split()[0] == workload]
        return ", ".join(f"{c['value']:.3g}{'' if met(c) else ' MISS'}" for c in own) or "-"

    lines = [f"{'workload':<9} {'FOM':<48} {'roof':<12} {'alternative':<14} {'C peer':<14}"]
    for workload in ("cfd", "fea", "param", "opt"):
        f = foms.get(workload)
        text = f"{f['value']:.4g} {f['unit']}" if f else "-"
        lines.append(f"{workload:<9} {text:<48} {cell(workload, 'roof'):<12} "
                     f"{cell(workload, 'alternative'):<14} {cell(workload, 'peer'):<14}")
    return lines


def table(found: list[dict]) -> list[str]:
    width = max([len(c["name"]) for c in found] + [5])
    lines = [f"{'check':<{width}}  {'kind':<17} {'value':>9}  target     status  detail"]
    for kind in HEADINGS:
        for c in (c for c in found if c["kind"] == kind):
            lines.append(f"{c['name']:<{width}}  {HEADINGS[kind]:<17} {c['value']:>9.4g}  "
                         f"{c['op']} {c['target']:<6g}  {'met' if met(c) else 'MISS':<6}  "
                         f"{c.get('detail', '')}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", type=Path, help="saved pytest-benchmark JSON")
    parser.add_argument("--report", action="store_true", help="print, always exit 0")
    args = parser.parse_args(argv)
    try:
        path = args.run or newest(Path(".benchmarks"))
        found = load_checks(path)
    except (OSError, ValueError) as e:
        sys.stderr.write(f"bench-check: error: {e}\n")
        return 2
    print(f"{path}")
    print("\n".join(summary(found, load_foms(path))))
    print()
    print("\n".join(table(found)))
    names = {c["name"] for c in found}
    misses = [f"{c['name']} = {c['value']:.4g}, target {c['op']} {c['target']:g}"
              for c in found if not met(c)]
    misses += [f"{name}: not measured (its benchmark was skipped or failed)"
               for name in EXPECTED if name not in names]
    if misses:
        print(f"\n{len(misses)} target(s) missed:")
        print("\n".join(f"  {m}" for m in misses))
    else:
        print("\nevery target met")
    return 0 if args.report or not misses else 1


if __name__ == "__main__":
    sys.exit(main())
