"""`harness smoke` and jobs/smoke.toml (the same smoke as a sweep, e.g. on Slurm) run the same
points: a workload or variant added to one and not the other fails here."""

from pathlib import Path

from harness.cli.smoke import smoke_points
from harness.specs import load_spec

ROOT = Path(__file__).resolve().parents[2]


def test_the_smoke_spec_and_harness_smoke_run_the_same_points():
    spec = load_spec(ROOT / "jobs" / "smoke.toml")
    as_sweep = {(p.workload, p.variant, p.mode, p.size, p.ranks) for p in spec.points}
    as_command = {(p.workload, p.variant, p.mode, p.size, p.ranks) for p in smoke_points()}
    assert as_sweep == as_command
    assert {w for w, *_ in as_command} >= {"cfd", "fea", "opt", "param", "calibrate"}


def test_variants_all_expands_to_every_variant_of_the_workload(tmp_path):
    spec_file = tmp_path / "s.toml"
    spec_file.write_text('name = "s"\ncores = [1]\n[[workload]]\nname = "cfd"\n'
                         'variants = "all"\n', encoding="utf-8")
    from harness import workloads
    assert sorted(p.variant for p in load_spec(spec_file).points) == \
        sorted(workloads.get("cfd").variants)
