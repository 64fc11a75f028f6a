"""``harness compare`` as a user runs it: exit 3 on a regression, 0 when unchanged, sweep ids
looked up in the KPI store, exit 2 for one that is not there."""

from __future__ import annotations

from clitools import harness
from storetools import replicated_sweep as sweep


def test_cli_exit_3_on_regression_0_when_unchanged_and_from_the_store(tmp_path):
    base = sweep(tmp_path, "base")
    slowed = sweep(tmp_path, "slowed", slow_at=4, factor=1.3)
    same = sweep(tmp_path, "same", runs=(1.0, 1.005, 0.995))
    done = harness("compare", base, slowed)
    assert done.returncode == 3, done.stderr
    assert "regression" in done.stdout and "Welch" in done.stdout
    assert harness("compare", base, same).returncode == 0
    url = f"sqlite:///{tmp_path / 'kpi.sqlite'}"
    assert harness("kpi", "push", base, slowed, "--store", url).returncode == 0
    by_id = harness("compare", "base", "slowed", "--store", url, "--json")
    assert by_id.returncode == 3, by_id.stderr
    missing = harness("compare", "base", "nope", "--store", url)
    assert missing.returncode == 2 and "no sweep of that id" in missing.stderr
