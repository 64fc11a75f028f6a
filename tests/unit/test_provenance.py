"""The record's library versions: read from the loaded modules, equal to the installed
distributions' metadata."""

from importlib import metadata

import mpi4py
import numba
import numpy

from harness import provenance


def test_library_versions_from_loaded_modules_equal_the_installed_distributions():
    for module in (numba, numpy, mpi4py):
        name = module.__name__
        assert provenance._version(name, name) == metadata.version(name) == module.__version__
    assert provenance._version("no-such-distribution-here", "no_such_module") is None


def test_harness_version_from_the_package_equals_its_distribution():
    import harness

    assert provenance._version("parallel-efficiency-harness", "harness") \
        == metadata.version("parallel-efficiency-harness") == harness.__version__
