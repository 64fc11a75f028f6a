"""Launchers (``mpiexec`` locally, ``srun`` in an allocation) and scheduler backends (Slurm)."""
