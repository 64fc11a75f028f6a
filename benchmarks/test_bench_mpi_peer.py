"""CFD strong efficiency 1 → 2 ranks: the harness against a C MPI peer, same grid, same sitting.

The peer is ``benchmarks/cfd_mpi_peer.c`` (the scheme in C with a 2D Cartesian decomposition
and a non-blocking halo exchange, the residual reduction every 10 steps as the harness), built
here with the ``mpicc`` of the ``mpich`` wheel (``.venv/bin/mpicc``, ``-O3 -march=native``)
and started with the same ``mpiexec``. Ours is ``harness run cfd`` (variant ``blocking``).

Rounds are interleaved — ours at 1 rank, ours at 2, the peer at 1, the peer at 2, then again —
so that a burst of load on a shared machine falls on both. Each run makes 3 timed repetitions
(its median counts). Per round, E = T₁ / (2·T₂) for each; the check is the median over rounds
of E_ours / E_peer ≥ 1, with the spread (min–max) of both efficiencies recorded.

Before any time counts, the peer's final field must match the closed form of the scheme within
the harness's tolerance (1e-9 relative to |G|^steps) and its L2 norm must equal ours within
1e-10 relative, at both rank counts.

Sizes: ``HARNESS_BENCH_PEER_N`` (default 8192, ``large``: two 512 MiB arrays),
``HARNESS_BENCH_PEER_STEPS`` (default 20) and ``HARNESS_BENCH_PEER_ROUNDS`` (default 3).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import checks
import pytest

from harness.workloads.cfd import TOLERANCE

N = int(os.environ.get("HARNESS_BENCH_PEER_N", "8192"))
STEPS = int(os.environ.get("HARNESS_BENCH_PEER_STEPS", "20"))
ROUNDS = int(os.environ.get("HARNESS_BENCH_PEER_ROUNDS", "3"))
REPS = 3
BIN = Path(sys.executable).parent
SOURCE = Path(__file__).with_name("cfd_mpi_peer.c")


@pytest.fixture(scope="module")
def peer(tmp_path_factory) -> Path:
    mpicc = BIN / "mpicc"
    if not mpicc.exists():
        pytest.skip(f"{mpicc} not found: install the mpich wheel to build the C MPI peer")
    exe = tmp_path_factory.mktemp("peer") / "cfd_mpi_peer"
    built = subprocess.run([str(mpicc), "-O3", "-march=native", "-o", str(exe), str(SOURCE),
                            "-lm"], capture_output=True, text=True, check=False)
    if built.returncode != 0:
        pytest.fail(f"building the C MPI peer failed:\n{built.stderr}")
    return exe


def run_ours(ranks: int, out: Path) -> dict:
    done = subprocess.run(
        [str(BIN / "harness"), "run", "cfd", "--ranks", str(ranks), "--size", "large",
         "--set", f"n={N}", "--set", f"steps={STEPS}", "--reps", str(REPS), "--json",
         "--out", str(out)], capture_output=True, text=True, check=True)
    record = json.loads(done.stdout)
    assert record["status"] == "ok", record.get("error")
    return record


def run_peer(exe: Path, ranks: int) -> dict:
    done = subprocess.run([str(BIN / "mpiexec"), "-n", str(ranks), str(exe), str(N), str(STEPS),
                           str(REPS)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


@pytest.mark.benchmark(group="cfd strong efficiency vs C MPI peer")
def test_strong_efficiency_vs_peer(benchmark, peer, tmp_path, capsys):
    ours_l2 = {}
    for ranks in (1, 2):  # the check before any time counts
        record, theirs = run_ours(ranks, tmp_path), run_peer(peer, ranks)
        ours_l2[ranks] = record["verification"]["checksum"]["l2"]
        assert theirs["error"] <= TOLERANCE, f"peer at {ranks} ranks: error {theirs['error']}"
        assert abs(theirs["l2"] - ours_l2[ranks]) <= 1e-10 * ours_l2[ranks]
    rounds = []

    def interleaved():
        o1 = statistics.median(run_ours(1, tmp_path)["seconds"])
        o2 = statistics.median(run_ours(2, tmp_path)["seconds"])
        p1, p2 = run_peer(peer, 1)["seconds"], run_peer(peer, 2)["seconds"]
        rounds.append({"ours_1": o1, "ours_2": o2, "peer_1": p1, "peer_2": p2,
                       "ours_efficiency": o1 / (2 * o2), "peer_efficiency": p1 / (2 * p2)})

    benchmark.pedantic(interleaved, rounds=ROUNDS, iterations=1)
    ours = [r["ours_efficiency"] for r in rounds]
    theirs = [r["peer_efficiency"] for r in rounds]
    ratio = statistics.median(o / p for o, p in zip(ours, theirs, strict=True))
    check = checks.record(
        benchmark, "cfd strong efficiency 1->2 ranks, ours / C MPI peer", ratio, ">=", 1.0,
        "peer", f"n={N}: ours {statistics.median(ours):.3f} ({min(ours):.3f}-{max(ours):.3f}), "
        f"peer {statistics.median(theirs):.3f} ({min(theirs):.3f}-{max(theirs):.3f})")
    benchmark.extra_info.update({"n": N, "steps": STEPS, "reps_per_run": REPS,
                                 "rounds": rounds, "ours_efficiency_median":
                                 statistics.median(ours), "peer_efficiency_median":
                                 statistics.median(theirs)})
    with capsys.disabled():
        print(f"\ncfd strong 1->2 ranks, n={N}, {STEPS} steps, {len(rounds)} interleaved rounds")
        for r in rounds:
            print(f"  ours {r['ours_1']:.4f} / {r['ours_2']:.4f} s  E={r['ours_efficiency']:.3f}"
                  f"   peer {r['peer_1']:.4f} / {r['peer_2']:.4f} s  "
                  f"E={r['peer_efficiency']:.3f}")
        print("  " + checks.line(check))

