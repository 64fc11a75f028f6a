"""Spec texts shared by the tests of Slurm rendering and of `harness status`."""

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
