"""The calibration workload: its kernel, work split and verification."""

import pytest
from mpi4py import MPI

from harness.timing import PhaseTimer
from harness.workloads import calibrate as workload
from harness.workloads import get
from kernels import calibrate as kernel


def test_kernel_matches_the_plain_python_chain_bitwise():
    for iterations, start in ((0, 3.0), (1, 1.0), (50, 100.0), (1000, 1.0)):
        assert kernel.spin(iterations, start) == kernel.spin_reference(iterations, start)
    assert kernel.spin(10_000, 5.0) == pytest.approx(kernel.fixed_point(), abs=1e-15)


def make_instance(serial=20_000, parallel=80_000):
    wl = get("calibrate")
    params, variant = wl.resolve("tiny", {"serial_iterations": serial,
                                          "parallel_iterations": parallel})
    wl.precompile()
    return wl.setup(MPI.COMM_SELF, params, variant, None)


def test_one_repetition_does_the_planned_work_and_verifies():
    instance = make_instance()
    assert instance.serial_iterations > 0 and instance.parallel_iterations > 0
    assert instance.share == instance.parallel_iterations  # one rank owns all the parallel work
    instance.reset()
    timer = PhaseTimer(("serial", "compute"))
    instance.run(timer)
    assert instance.done == instance.iterations
    assert instance.work()["expected_serial_fraction"] == 0.2
    assert instance.verify().passed


@pytest.mark.parametrize("size", ["tiny", "small", "medium", "large"])
def test_the_work_is_fixed_by_the_problem_not_by_the_machine(size):
    """Every named size does the same iterations on any machine, with f = 0.2 exactly, and
    the iteration counts are the work the analyzer compares before pooling runs."""
    wl = get("calibrate")
    params, variant = wl.resolve(size, {})
    first = wl.setup(MPI.COMM_SELF, params, variant, None).work()
    again = wl.setup(MPI.COMM_SELF, params, variant, None).work()
    assert first == again
    assert first["serial_iterations"] == params["serial_iterations"]
    assert first["expected_serial_fraction"] == 0.2
    assert set(wl.fixed_work) == {"serial_iterations", "parallel_iterations"}
    weak = wl.weak_scale(params, 4)
    assert weak["parallel_iterations"] == 4 * params["parallel_iterations"]
    assert weak["serial_iterations"] == params["serial_iterations"]


def test_verification_fails_when_work_is_missing_or_the_kernel_is_wrong(monkeypatch):
    instance = make_instance()
    instance.reset()
    instance.run(PhaseTimer(("serial", "compute")))
    instance.done -= 1
    assert not instance.verify().passed
    instance.done += 1
    monkeypatch.setattr(workload.kernel, "spin_reference", lambda n, x: x + 1.0)
    assert not instance.verify().passed
