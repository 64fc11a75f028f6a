"""Upper limits for every number a user gives: what a real cluster could run.

Specs (:mod:`harness.specs`, :mod:`harness.profiles`) and the command line
(:mod:`harness.cli.run`) check each number against these before anything is written, so a
typo such as ``runs = 1000000000`` is one line and exit 2, not a ``MemoryError`` or an
``--array=0-999999999`` in a job script.

Sources: the largest machines of the TOP500 list run about 10 million cores (Sunway
TaihuLight 10.6 M, Fugaku 7.6 M); Slurm's default ``MaxArraySize`` is 1001 (array indices 0 to
1000); a year is longer than any site's wall-time limit.
"""

from __future__ import annotations

#: cores (MPI ranks) of one run: above the largest machines built
MAX_CORES = 10_000_000
#: cores of one node (the largest nodes have a few hundred; 16384 leaves room for any)
MAX_CORES_PER_NODE = 16_384
#: runs per point (a Slurm job array's tasks: Slurm's default MaxArraySize is 1001)
MAX_RUNS = 1000
#: timed repetitions inside one run (each is one number in the record)
MAX_REPS = 100_000
#: untimed warm-up repetitions inside one run
MAX_WARMUP = 1000
#: seconds of any time limit (per run, per job): one year
MAX_TIME_LIMIT = 365 * 86400
#: an integer workload parameter (kernels index with 32-bit-safe loops)
MAX_INT_PARAM = 2**31 - 1
