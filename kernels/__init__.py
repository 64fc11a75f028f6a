"""Pure compute kernels: Numba functions over arrays and ints. Nothing here imports MPI."""
