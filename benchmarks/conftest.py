"""Fixtures for the CFD benchmark: problem size and the C reference, compiled once per session.

The size comes from ``--cfd-n`` / ``--cfd-steps`` / ``--cfd-rounds`` or, when those are not
given, from ``HARNESS_BENCH_CFD_N`` (default 8192, the workload's ``large`` size: two 512 MiB
arrays), ``HARNESS_BENCH_CFD_STEPS`` (default 20, as ``large``) and ``HARNESS_BENCH_CFD_ROUNDS``
(default 5). A quick run: ``HARNESS_BENCH_CFD_N=1024 pytest benchmarks``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.workloads.base import Param
from harness.workloads.cfd import CFD

# the helper modules beside this file (stream, checks, ...) import by name under importlib mode
sys.path.insert(0, str(Path(__file__).parent))

C_SOURCE = Path(__file__).with_name("cfd_reference.c")
C_FLAGS = ("-O3", "-march=native")

_LARGE = CFD.sizes["large"]
_SETTINGS = (
    # option, environment variable, default, parameter that checks the value
    ("cfd_n", "HARNESS_BENCH_CFD_N", _LARGE["n"],
     Param("n", int, "cells per side of the benchmark grid, > 0", positive=True)),
    ("cfd_steps", "HARNESS_BENCH_CFD_STEPS", _LARGE["steps"],
     Param("steps", int, "time steps per timed round, > 0", positive=True)),
    ("cfd_rounds", "HARNESS_BENCH_CFD_ROUNDS", 5,
     Param("rounds", int, "timed rounds per benchmark, > 0", positive=True)),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cfd benchmark")
    for option, env, default, param in _SETTINGS:
        group.addoption(f"--{option.replace('_', '-')}", dest=option, default=None,
                        help=f"{param.help} (env {env}, default {default})")


@dataclass(frozen=True)
class BenchSize:
    """Grid size, steps per timed round and rounds of one benchmark session."""

    n: int
    steps: int
    rounds: int

    @property
    def updates_per_round(self) -> int:
        """Cell updates in one timed round: n² cells times ``steps``."""
        return self.n * self.n * self.steps


@pytest.fixture(scope="session")
def bench_size(request: pytest.FixtureRequest) -> BenchSize:
    """The benchmark size from the command line, else the environment, else the defaults.

    Raises
    ------
    harness.errors.ParameterError
        When a value is not a positive integer.
    """
    values = {}
    for option, env, default, param in _SETTINGS:
        raw = request.config.getoption(option)
        if raw is None:
            raw = os.environ.get(env, default)
        values[option] = param.parse(raw)
    return BenchSize(values["cfd_n"], values["cfd_steps"], values["cfd_rounds"])


@dataclass(frozen=True)
class CReference:
    """The compiled C reference: executable and how it was built."""

    executable: Path
    compile_command: tuple[str, ...]
    compiler: str


@pytest.fixture(scope="session")
def c_reference(tmp_path_factory: pytest.TempPathFactory) -> CReference:
    """``benchmarks/cfd_reference.c`` compiled with ``gcc -O3 -march=native``; skip without gcc."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found on PATH: the C reference cannot be built")
    executable = tmp_path_factory.mktemp("cfd_reference") / "cfd_reference"
    command = (gcc, *C_FLAGS, "-o", str(executable), str(C_SOURCE), "-lm")
    built = subprocess.run(command, capture_output=True, text=True, check=False)
    if built.returncode != 0:
        pytest.fail(f"compiling the C reference failed: {' '.join(command)}\n{built.stderr}")
    version = subprocess.run((gcc, "--version"), capture_output=True, text=True, check=False)
    return CReference(executable, command, version.stdout.splitlines()[0].strip())
