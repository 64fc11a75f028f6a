"""The launcher registry: each launcher's command line, and telling from an environment which
launcher started a process."""

import pytest

from harness.errors import LaunchError
from harness.launch import launchers
from harness.launch.launchers import Mpiexec, Srun
from harness.profiles import LAUNCHERS

PROGRAM = ["/venv/bin/python", "-m", "harness", "run", "cfd"]


@pytest.mark.parametrize(("launcher", "ranks", "expected"), [
    (Srun(), 4, ["srun", "--mpi=pmi2", "--cpu-bind=cores", "-n", "4"]),
    (Srun("pmix", ["--overcommit"]), 2,
     ["srun", "--mpi=pmix", "--cpu-bind=cores", "--overcommit", "-n", "2"]),
    (Mpiexec(), 1, ["mpiexec", "-n", "1"]),
    (Mpiexec("/opt/mpi/bin/mpiexec", ["--bind-to", "core"]), 8,
     ["/opt/mpi/bin/mpiexec", "-n", "8", "--bind-to", "core"]),
    (Srun.for_job("/venv/bin/python", "pmi2"), 3,
     ["srun", "--mpi=pmi2", "--cpu-bind=cores", "-n", "3"]),
    (Mpiexec.for_job("/venv/bin/python", "pmi2"), 3, ["/venv/bin/mpiexec", "-n", "3"]),
])
def test_command_lines(launcher, ranks, expected):
    assert launcher.command(ranks) == expected
    assert launcher.wrap(ranks, PROGRAM) == [*expected, *PROGRAM]


HYDRA = {"PMI_RANK": "0", "PMI_SIZE": "2", "PMI_FD": "5", "MPI_LOCALNRANKS": "2",
         "HYDI_CONTROL_FD": "7"}
OPEN_MPI = {"OMPI_COMM_WORLD_SIZE": "2", "PMIX_RANK": "0"}
STEP = {"SLURM_JOB_ID": "5", "SLURM_STEP_ID": "0", "SLURM_PROCID": "1",
        "SLURM_STEP_NUM_TASKS": "2", "SLURM_NTASKS": "2"}
BATCH = {"SLURM_JOB_ID": "5", "SLURM_NTASKS": "2"}  # the batch shell: no step, no task


@pytest.mark.parametrize(("env", "name", "misuse"), [
    ({}, "singleton", False),
    ({"HOME": "/root"}, "singleton", False),
    (HYDRA, "mpiexec", False),
    ({"HYDI_CONTROL_FD": "7"}, "mpiexec", False),
    (OPEN_MPI, "mpiexec", False),
    ({"OMPI_COMM_WORLD_SIZE": "4"}, "mpiexec", False),
    ({**STEP, "PMI_RANK": "1", "PMI_SIZE": "2", "PMI_FD": "6"}, "srun", False),  # --mpi=pmi2
    ({**STEP, "PMIX_RANK": "1"}, "srun", False),  # --mpi=pmix
    ({**STEP}, "singleton", True),  # --mpi=none: each task an MPI world of its own
    ({**STEP, "SLURM_STEP_NUM_TASKS": "1", "SLURM_NTASKS": "1"}, "singleton", False),
    ({**STEP, "SLURM_STEP_NUM_TASKS": "x", "SLURM_NTASKS": "x"}, "singleton", False),
    (BATCH, "singleton", False),
    ({**BATCH, **HYDRA}, "mpiexec", False),  # mpiexec inside the allocation
])
def test_detection_from_an_environment(env, name, misuse):
    assert launchers.launcher_name(env) == name
    assert launchers.under_launcher(env) == (name != "singleton")
    found = launchers.detect(env)
    assert (found.name if found else "singleton") == name
    why = launchers.misuse(env)
    assert (why is not None) == misuse
    if misuse:
        assert "--mpi=pmi2" in why and "2 tasks" in why


def test_the_registry_is_what_profiles_accept():
    assert set(LAUNCHERS) == set(launchers.REGISTRY) == {"srun", "mpiexec"}
    assert all(launchers.get(name).name == name for name in launchers.REGISTRY)
    with pytest.raises(LaunchError, match="unknown launcher 'aprun'; use one of: srun, mpiexec"):
        launchers.get("aprun")


def test_mpiexec_here_takes_the_override_and_its_flags(monkeypatch, tmp_path):
    fake = tmp_path / "mpiexec"
    fake.write_text("#!/bin/sh\necho 'HYDRA build details:'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("HARNESS_MPIEXEC", str(fake))
    monkeypatch.setenv("HARNESS_MPIEXEC_ARGS", "--bind-to core")
    assert launchers.mpiexec_command(2, ["prog"]) == [str(fake), "-n", "2", "--bind-to", "core",
                                                      "prog"]
    fake.write_text("#!/bin/sh\necho 'mpiexec (OpenRTE) 4.1.5'\necho 'Open MPI'\n")
    monkeypatch.delenv("HARNESS_MPIEXEC_ARGS")
    cmd = Mpiexec.here().command(2)
    assert cmd[:4] == [str(fake), "-n", "2", "--oversubscribe"]
