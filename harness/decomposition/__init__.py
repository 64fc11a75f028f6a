"""Partitioning of work over ranks and the communication patterns that go with it.

``blocks`` is pure integer arithmetic (no MPI). The other modules are the only place, together
with ``harness/timing.py`` and ``harness/runner.py``, where workloads' data crosses ranks:
``cartesian`` (2D process grid and halo exchange, CFD), ``box`` and ``boxio`` (FEA 3D boxes,
halo exchange, exact reductions; file writes), ``population`` (population gather and island
migration, optimization) and ``scheduling`` (static blocks and manager-worker distribution,
parameter study).
"""
