"""Spec texts shared by the tests of sweeps, Slurm rendering, `harness status` and the KPI
store."""

#: two points (cfd tiny at 1 and 2 cores) on a four-core mpiexec profile
SMALL = """
name = "small"
cores = [1, 2]
time_limit = "05:00"
job_time_limit = "1-00"

[profile]
partition = "local"
cores_per_node = 4
launcher = "mpiexec"

[[workload]]
name = "cfd"
size = "tiny"
params = { steps = 3 }
"""


_TINY = """
name = "tiny"
cores = [1, 2]
runs = {runs}
reps = 2
warmup = 1
time_limit = "02:00"

[profile]
partition = "local"
cores_per_node = 4

[[workload]]
name = "cfd"
size = "tiny"
"""


def tiny_sweep(runs: int = 1) -> str:
    """cfd tiny at 1 and 2 cores, ``runs`` runs per point, two timed repetitions each."""
    return _TINY.format(runs=runs)
