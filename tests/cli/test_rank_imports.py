"""What a rank loads: the third-party packages of a real ``harness run`` under mpiexec."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.launch.launchers import mpiexec_command
from harness.rankside import RANK_EXCLUDED

HERE = Path(__file__).resolve().parent
#: everything a rank may load besides the standard library (packaging helpers that Numba and
#: the interpreter pull in are listed by name)
ALLOWED = {"harness", "kernels", "numpy", "numba", "llvmlite", "mpi4py", "click", "yaml",
           "colorama", "cffi", "cython_runtime"}


def top_levels(modules):
    return {m.split(".")[0] for m in modules} - set(sys.stdlib_module_names) - {
        m for m in (x.split(".")[0] for x in modules) if m.startswith("_")}


@pytest.mark.parametrize("workload", ["cfd", "fea", "opt", "param", "calibrate"])
def test_a_rank_loads_no_analysis_package(workload, tmp_path):
    out = tmp_path / "modules.json"
    cmd = mpiexec_command(1, [sys.executable, str(HERE / "rank_modules.py"), str(out), "run",
                              workload, "--size", "tiny", "--reps", "1", "--warmup", "0",
                              "--out", str(tmp_path / "results")])
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    seen = json.loads(out.read_text())
    tops = top_levels(seen["modules"])
    assert not tops & set(RANK_EXCLUDED), tops & set(RANK_EXCLUDED)
    assert {"harness", "kernels", "numpy", "numba", "mpi4py"} <= tops <= ALLOWED, tops
    assert seen["files"] > 0 and seen["bytes"] > 0
