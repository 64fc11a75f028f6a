"""The parallel-efficiency harness: how HPC workloads scale, measured and explained."""

__version__ = "0.1.0"
