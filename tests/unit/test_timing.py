"""Phase timers and the compile detector behind ``compiled_while_timed``."""

import time

import numpy as np
import pytest

from harness.timing import PhaseTimer, compiled_signatures
from kernels import calibrate


def test_phase_timer_accumulates_and_resets():
    timer = PhaseTimer(("compute", "halo"))
    with timer("compute"):
        time.sleep(0.01)
    timer.add("halo", 0.5)
    timer.add("halo", 0.25)
    assert timer.totals["compute"] >= 0.009
    assert timer.totals["halo"] == 0.75
    timer.reset()
    assert timer.totals == {"compute": 0.0, "halo": 0.0}


def test_unknown_phase_is_an_error():
    with pytest.raises(KeyError, match="typo"):
        PhaseTimer(("compute",)).add("typo", 1.0)


def test_compiled_signatures_counts_a_new_compilation():
    calibrate.precompile()
    before = compiled_signatures()
    calibrate.spin(np.int32(3), np.float32(1.0))  # a signature precompile did not make
    assert compiled_signatures() == before + 1
