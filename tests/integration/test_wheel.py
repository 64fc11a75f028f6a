"""What `pip install .` gives must work: build the wheel, install it into a fresh virtualenv
outside the checkout, and run `harness smoke` and a Slurm dry run from there.

The wheel is installed with its dependencies exactly as a user would get them (pip, from its
cache or the package index); a machine that cannot reach the index skips with the reason, and
fails instead under HARNESS_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _run(argv: list[str], cwd: Path, timeout: float = 900,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          check=False, env=env)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv (outside the checkout) holding the project's wheel and its dependencies."""
    base = tmp_path_factory.mktemp("wheel")
    dist = base / "dist"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist),
                  str(ROOT)], cwd=base)
    if built.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{built.stderr[-3000:]}")
    wheels = list(dist.glob("parallel_efficiency_harness-*.whl"))
    assert len(wheels) == 1, wheels
    names = zipfile.ZipFile(wheels[0]).namelist()
    # every template the Slurm backend renders is inside the wheel
    templates = sorted(p.name for p in (ROOT / "harness/launch/templates").glob("*.j2"))
    assert templates, "no templates found in the checkout"
    for name in templates:
        assert f"harness/launch/templates/{name}" in names, f"{name} is not in the wheel"
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    done = _run([str(python), "-m", "pip", "install", "-q", str(wheels[0])], cwd=base)
    if done.returncode != 0:
        reason = f"pip could not install the wheel's dependencies: {done.stderr.strip()[-500:]}"
        if os.environ.get("HARNESS_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return env_dir


def _clean_env(env_dir: Path) -> dict[str, str]:
    """The user's environment, without anything that points back into the checkout."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HARNESS_", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{env_dir / 'bin'}:/usr/bin:/bin"
    return env


def test_installed_package_is_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    python = installed / "bin" / "python"
    done = _run([str(python), "-c", "import harness; print(harness.__file__)"], cwd=tmp_path,
                env=_clean_env(installed))
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_relative_to(installed)


def test_slurm_dry_run_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    spec = tmp_path / "platform.toml"
    spec.write_text((ROOT / "jobs" / "platform.toml").read_text(encoding="utf-8"),
                    encoding="utf-8")
    done = _run([str(installed / "bin" / "harness"), "sweep", str(spec), "--slurm", "--dry-run",
                 "--out", str(tmp_path / "out"), "--sweep-id", "wheel"], cwd=tmp_path,
                env=_clean_env(installed))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    scripts = sorted((tmp_path / "out" / "wheel" / "jobs").glob("*.sbatch"))
    assert [s.name for s in scripts if "analysis" in s.name] == ["platform-analysis.sbatch"]
    assert len(scripts) == 6  # five scales and the analysis
    assert "#SBATCH --ntasks=2500" in (tmp_path / "out/wheel/jobs/platform-p2500.sbatch"
                                       ).read_text(encoding="utf-8")


def test_smoke_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    done = _run([str(installed / "bin" / "harness"), "smoke", "--out", str(tmp_path / "out")],
                cwd=tmp_path, env=_clean_env(installed))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    recs = list((tmp_path / "out").glob("smoke-*/*.json"))
    assert recs, "smoke wrote no records"
    assert all('"status": "ok"' in r.read_text(encoding="utf-8") for r in recs)
