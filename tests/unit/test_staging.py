"""Staging the environment on node-local storage: profile checks and the rendered job scripts."""

import subprocess

import pytest

from harness.errors import SpecError
from harness.launch import slurm
from harness.profiles import load_profile
from harness.specs import load_spec

STAGED = """
partition = "compute"
cores_per_node = 50
stage_env = "/shared/envs/harness-venv.tar.gz"
python = "/local/scratch/harness-venv/bin/python"
stage_dir = "/local/scratch"
"""


def spec(tmp_path, profile):
    path = tmp_path / "st.toml"
    path.write_text(f'name = "st"\ncores = [2, 100]\n[profile]\n{profile}\n'
                    '[[workload]]\nname = "cfd"\n')
    return load_spec(path)


def test_every_script_stages_before_the_first_python(tmp_path):
    jobs = slurm.render(spec(tmp_path, STAGED), tmp_path / "s")
    assert len(jobs) == 3  # two core counts and the analysis
    for job in jobs:
        lines = job.text.splitlines()
        sbcast = next(i for i, x in enumerate(lines) if x.startswith("sbcast "))
        assert lines[sbcast] == ("sbcast --force /shared/envs/harness-venv.tar.gz "
                                 "/local/scratch/harness-stage.tar \\")
        assert ('srun --nodes="${SLURM_JOB_NUM_NODES:-1}" --ntasks-per-node=1 tar -C '
                "/local/scratch -xf /local/scratch/harness-stage.tar") in lines[sbcast + 1]
        assert "exit 1" in lines[sbcast + 2]
        first_python = next(i for i, x in enumerate(lines)
                            if "/local/scratch/harness-venv/bin/python" in x)
        assert sbcast < first_python
        done = subprocess.run(["bash", "-n"], input=job.text, text=True, capture_output=True,
                              check=False)
        assert done.returncode == 0, done.stderr


def test_without_stage_env_nothing_is_staged(tmp_path):
    jobs = slurm.render(spec(tmp_path, 'partition = "compute"\ncores_per_node = 50'),
                        tmp_path / "s")
    assert not any("sbcast" in job.text for job in jobs)


@pytest.mark.parametrize("table,needle", [
    ({"stage_env": "/e.tar.gz"}, "stage_env needs python"),
    ({"stage_env": "/e.tar.gz", "python": "/usr/bin/python3"}, "under stage_dir /tmp"),
    ({"stage_env": "/e.zip", "python": "/tmp/v/bin/python"}, "must be a .tar"),
    ({"stage_env": "e.tar", "python": "/tmp/v/bin/python"}, "stage_env 'e.tar' is not allowed"),
    ({"stage_env": "/e.tar; rm -rf /", "python": "/tmp/v/bin/python"}, "is not allowed"),
    ({"stage_dir": "/scratch"}, "stage_dir needs stage_env"),
])
def test_bad_staging_is_refused(table, needle):
    with pytest.raises(SpecError) as info:
        load_profile(table, "p.toml")
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_staging_defaults_to_tmp():
    profile = load_profile({"stage_env": "/e.tgz", "python": "/tmp/v/bin/python"})
    assert (profile.stage_env, profile.stage_dir) == ("/e.tgz", "/tmp")
