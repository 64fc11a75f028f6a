"""The C reference of the CFD benchmark computes what the Numba kernel computes.

``benchmarks/cfd_reference.c`` is built as the benchmark builds it (``gcc -O3 -march=native``)
and run on a small grid; its final field and checksum must match ``kernels.cfd`` stepped the same
number of times to 1e-12 relative, so that the benchmark compares equal work. gcc may contract
multiply-adds into FMAs where Numba does not, hence a tolerance rather than bit equality.
"""

from __future__ import annotations

import cmath
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from kernels import cfd as kernel

SOURCE = Path(__file__).resolve().parents[2] / "benchmarks" / "cfd_reference.c"
RTOL = 1e-12
DEFAULTS = {"nu": 0.01, "u": 1.0, "v": 0.5, "kx": 1, "ky": 2, "safety": 0.9}


@pytest.fixture(scope="module")
def executable(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found on PATH: the C reference cannot be built")
    exe = tmp_path_factory.mktemp("cfd_c") / "cfd_reference"
    subprocess.run([gcc, "-O3", "-march=native", "-o", str(exe), str(SOURCE), "-lm"],
                   check=True, capture_output=True, text=True)
    return exe


def run_c(exe: Path, n: int, steps: int, reps: int, params: dict, field: Path) -> dict:
    args = [str(exe), str(n), str(steps), str(reps), repr(params["nu"]), repr(params["u"]),
            repr(params["v"]), str(params["kx"]), str(params["ky"]), repr(params["safety"]),
            str(field)]
    done = subprocess.run(args, check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def numba_field(n: int, steps: int, params: dict) -> tuple[np.ndarray, float]:
    dt = kernel.stable_dt(n, params["nu"], params["u"], params["v"], params["safety"])
    coef = kernel.stencil_coefficients(n, params["nu"], params["u"], params["v"], dt)
    c = np.zeros((n + 2, n + 2))
    out = np.zeros_like(c)
    c[1:-1, 1:-1] = kernel.fourier_mode(n, params["kx"], params["ky"], 0, n, 0, n)
    for _ in range(steps):
        kernel.fill_periodic_halo(c)
        kernel.update(c, out, 1, n + 1, 1, n + 1, *coef)
        c, out = out, c
    return c[1:-1, 1:-1].copy(), dt


@pytest.mark.parametrize(("n", "steps", "reps", "params"), [
    (32, 5, 1, DEFAULTS),
    (31, 4, 2, {"nu": 0.02, "u": 0.7, "v": 1.3, "kx": 3, "ky": -1, "safety": 0.5}),
    (16, 1, 1, DEFAULTS),
])
def test_c_reference_matches_numba_kernel(executable, tmp_path, n, steps, reps, params):
    field_file = tmp_path / "field.bin"
    report = run_c(executable, n, steps, reps, params, field_file)
    c_field = np.fromfile(field_file, dtype=np.float64).reshape(n, n)
    # the warm-up step is discarded and repetitions continue the run: reps·steps steps in all
    expected, dt = numba_field(n, steps * reps, params)

    assert report["n"] == n and report["steps"] == steps and report["reps"] == reps
    assert report["dt"] == pytest.approx(dt, rel=1e-15)
    np.testing.assert_allclose(c_field, expected, rtol=0, atol=RTOL * np.abs(expected).max())
    assert report["checksum"] == pytest.approx(float(np.sum(expected * expected)), rel=RTOL)
    # the C side sums sequentially, NumPy pairwise: equal to rounding
    assert report["checksum"] == pytest.approx(float(np.sum(c_field * c_field)), rel=1e-13)
    assert len(report["rep_seconds"]) == reps
    # the reported time is the median repetition and the rate is the updates over it (both
    # printed to 9 significant digits, hence the tolerance)
    assert report["seconds"] == pytest.approx(float(np.median(report["rep_seconds"])), rel=2e-8)
    assert report["updates_per_s"] == pytest.approx(n * n * steps / report["seconds"], rel=2e-8)


def test_c_reference_follows_the_discrete_closed_form(executable, tmp_path):
    """Independent of the Numba kernel: the mode is multiplied by G each step."""
    n, steps, p = 24, 7, DEFAULTS
    field_file = tmp_path / "field.bin"
    report = run_c(executable, n, steps, 1, p, field_file)
    c_field = np.fromfile(field_file, dtype=np.float64).reshape(n, n)
    g = kernel.amplification_factor(n, p["nu"], p["u"], p["v"], report["dt"], p["kx"], p["ky"])
    amplitude = abs(g) ** steps
    closed = kernel.fourier_mode(n, p["kx"], p["ky"], 0, n, 0, n, amplitude=amplitude,
                                 phase=steps * cmath.phase(g))
    assert np.max(np.abs(c_field - closed)) / amplitude < 1e-12


@pytest.mark.parametrize("args", [["0", "5"], ["8", "x"], ["8"], ["8", "2", "1", "0.01"]])
def test_c_reference_rejects_bad_arguments(executable, args):
    done = subprocess.run([str(executable), *args], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip()
