"""Bad input, as a new user or a hostile tester gives it: one line on stderr, exit 2, no
traceback, nothing written (not even an empty output directory), and no record lost."""

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import BadInputError
from harness.specs import Point
from harness.sweep import run_point

ROOT = Path(__file__).resolve().parents[2]
SMOKE = (ROOT / "jobs" / "smoke.toml").read_text(encoding="utf-8")


def _spec(text: str) -> bytes:
    return text.encode("utf-8")


def _replace(old: str, new: str) -> bytes:
    assert old in SMOKE
    return SMOKE.replace(old, new, 1).encode("utf-8")


# (id, spec file bytes or None, argv after `harness`, extra environment, text the line names)
CASES = [
    ("out-proc", SMOKE.encode(), ["sweep", "spec.toml", "--out", "/proc/x"], {}, "/proc"),
    ("out-sys", SMOKE.encode(), ["sweep", "spec.toml", "--out", "/sys/x"], {}, "/sys"),
    ("out-dev-null", SMOKE.encode(), ["sweep", "spec.toml", "--out", "/dev/null/x"], {},
     "Not a directory"),
    ("slurm-out-proc", SMOKE.encode(),
     ["sweep", "spec.toml", "--slurm", "--dry-run", "--out", "/proc/x"], {}, "/proc"),
    ("run-out-dev-null", None, ["run", "cfd", "--out", "/dev/null/x"], {}, "Not a directory"),
    ("not-utf8", b'name = "caf\xe9"\n', ["sweep", "spec.toml"], {}, "not UTF-8"),
    ("bom", b"\xef\xbb\xbf" + SMOKE.encode(), ["sweep", "spec.toml"], {}, "byte-order mark"),
    ("scale-inf", _replace("cores = [1, 2]", "baseline_cores = 1\nscales = [1, inf]"),
     ["sweep", "spec.toml", "--slurm", "--dry-run"], {}, "scale inf"),
    ("scale-nan", _replace("cores = [1, 2]", "baseline_cores = 1\nscales = [nan]"),
     ["sweep", "spec.toml"], {}, "scale nan"),
    ("scale-huge", _replace("cores = [1, 2]", "baseline_cores = 5\nscales = [1, 1e12]"),
     ["sweep", "spec.toml", "--slurm", "--dry-run"], {}, "limit"),
    ("cores-huge", _replace("cores = [1, 2]", "cores = [1, 100000000000]"),
     ["sweep", "spec.toml", "--slurm", "--dry-run"], {}, "limit"),
    ("runs-1e9", _replace("runs = 1", "runs = 1000000000"),
     ["sweep", "spec.toml"], {}, "runs"),
    ("runs-1e9-slurm", _replace("runs = 1", "runs = 1000000000"),
     ["sweep", "spec.toml", "--slurm", "--dry-run"], {}, "runs"),
    ("reps-huge", _replace("reps = 2", "reps = 10000000000"), ["sweep", "spec.toml"], {},
     "reps"),
    ("warmup-huge", _replace("warmup = 1", "warmup = 99999999"), ["sweep", "spec.toml"], {},
     "warmup"),
    ("time-limit-huge", _replace('time_limit = "05:00"\n', 'time_limit = "99999999999999999999"\n'),
     ["sweep", "spec.toml", "--slurm", "--dry-run"], {}, "time_limit"),
    ("cores-per-node-huge", _replace("cores_per_node = 4", "cores_per_node = 4000000000"),
     ["sweep", "spec.toml", "--slurm", "--dry-run"], {}, "cores_per_node"),
    ("param-int-huge", _replace('name = "cfd"\nsize = "tiny"', 'name = "cfd"\nsize = "tiny"\n'
                                'params = {residual_every = 99999999999999}'),
     ["sweep", "spec.toml", "--slurm", "--dry-run"], {}, "residual_every"),
    ("nu-1e308", None, ["run", "cfd", "--set", "nu=1e308", "--json"], {}, "nu="),
    ("nu-1e308-2-ranks", None, ["run", "cfd", "--ranks", "2", "--set", "nu=1e308", "--json"], {},
     "nu="),
    ("time-limit-nan", None, ["run", "cfd", "--time-limit", "nan"], {}, "--time-limit"),
    ("time-limit-inf", None, ["run", "cfd", "--time-limit", "inf"], {}, "--time-limit"),
    ("time-limit-huge-cli", None, ["run", "cfd", "--time-limit", "1e300"], {}, "--time-limit"),
    ("ranks-huge", None, ["run", "cfd", "--ranks", "100000000000"], {}, "--ranks"),
    ("reps-huge-cli", None, ["run", "cfd", "--reps", "1000000000"], {}, "--reps"),
    ("warmup-huge-cli", None, ["run", "cfd", "--warmup", "1000000000"], {}, "--warmup"),
    ("backend-bogus", SMOKE.encode(), ["sweep", "spec.toml"],
     {"HARNESS_SWEEP_BACKEND": "bogus"}, "HARNESS_SWEEP_BACKEND"),
    ("resume-nosuch", SMOKE.encode(), ["sweep", "spec.toml", "--resume", "--sweep-id", "nosuch"],
     {}, "nosuch"),
    ("resume-nosuch-slurm", SMOKE.encode(),
     ["sweep", "spec.toml", "--slurm", "--dry-run", "--resume", "--sweep-id", "nosuch"], {},
     "nosuch"),
    ("run-1-rank-bad-param", None, ["run", "cfd", "--set", "bogus=1", "--out", "fresh"], {},
     "bogus"),
    ("run-1-rank-bad-size", None, ["run", "cfd", "--size", "huge", "--out", "fresh"], {}, "huge"),
    ("run-2-ranks-bad-param", None,
     ["run", "cfd", "--ranks", "2", "--set", "bogus=1", "--out", "fresh"], {}, "bogus"),
    ("baseline-cores-huge", b"workload,mode,cores,seconds\ncfd,strong,1,1.0\n",
     ["analyze", "spec.csv", "--baseline-cores", "100000000000"], {}, "--baseline-cores"),
    ("semicolon-csv", b"workload;mode;cores;seconds\ncfd;strong;1;1.0\n",
     ["analyze", "spec.csv"], {}, "';'"),
]


def _files(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*")}


@pytest.mark.parametrize(("spec", "argv", "env", "needle"),
                         [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path: Path, spec: bytes | None,
                                                      argv: list[str], env: dict[str, str],
                                                      needle: str) -> None:
    if spec is not None:
        name = "spec.csv" if "spec.csv" in argv else "spec.toml"
        (tmp_path / name).write_bytes(spec)
    # an earlier result in the default output directory must survive untouched
    keep = tmp_path / "results" / "adhoc" / "earlier.json"
    keep.parent.mkdir(parents=True)
    keep.write_text('{"kept": true}\n', encoding="utf-8")
    before = _files(tmp_path)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    full_env.update(env)
    done = subprocess.run([sys.executable, "-m", "harness", *argv], cwd=tmp_path,
                          capture_output=True, text=True, env=full_env, timeout=300,
                          check=False)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("harness: error: ")
    assert lines[0].count("harness: error:") == 1
    assert needle in lines[0], lines[0]
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert _files(tmp_path) == before
    assert json.loads(keep.read_text(encoding="utf-8")) == {"kept": True}


def test_local_dry_run_prints_the_runs_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "spec.toml").write_text(SMOKE, encoding="utf-8")
    before = _files(tmp_path)
    done = subprocess.run([sys.executable, "-m", "harness", "sweep", "spec.toml", "--local",
                           "--dry-run", "--out", "o"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert _files(tmp_path) == before
    runs = [x for x in done.stdout.splitlines() if re.match(r"\d+ x ", x)]
    assert len(runs) == 20  # every workload and variant (ten) at 1 and 2 cores
    assert "nothing was run or written" in done.stdout


def test_a_refused_run_is_reported_with_one_prefix(tmp_path: Path) -> None:
    """A run that `harness run` refuses inside a sweep or `harness smoke` is one line with one
    `harness: error:` prefix (the child's own prefix is not repeated)."""
    point = Point(workload="cfd", variant="blocking", mode="strong", size="nosuch", params={},
                  resolved={}, ranks=1, runs=1, time_limit=60)
    with pytest.raises(BadInputError) as info:
        run_point(point, tmp_path, "s")
    assert "harness: error:" not in str(info.value)
    assert "nosuch" in str(info.value)


def test_csv_output_escapes_formula_cells(tmp_path: Path) -> None:
    """Spreadsheet formula injection: a label such as `=cmd|calc` comes out as `'=cmd|calc`."""
    data = tmp_path / "t.csv"
    data.write_text("workload,mode,cores,seconds\n=cmd|calc,strong,1,1.0\n"
                    "=cmd|calc,strong,2,0.6\n+x,strong,1,1.0\n+x,strong,2,0.5\n",
                    encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "harness", "analyze", str(data), "--format",
                           "csv"], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout)))
    cells = [cell for row in rows[1:] for cell in row]
    assert "'=cmd|calc" in cells and "'+x" in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)
