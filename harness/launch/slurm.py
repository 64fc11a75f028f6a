"""The Slurm backend: render ``harness/launch/templates/*.j2`` into sbatch scripts and submit
them (their job states: :mod:`harness.launch.jobstate`).

One job per core count runs every point of the spec at that count; the spec's runs per point are
the job's array tasks. An analysis job follows with ``--dependency=afterany:<ids>``. Scripts
are rendered with autoescape off and ``StrictUndefined``: every value that reaches a script was
validated by :mod:`harness.specs` and goes through the ``q`` filter (:func:`shlex.quote`) or,
in ``#SBATCH`` lines, the ``sbatch`` filter that refuses anything but plain tokens. The site
preamble is the one exception, documented as the site's own shell. Each run's command line —
the profile's launcher (:mod:`harness.launch.launchers`) before ``harness run``
(:func:`harness.launch.command.run_command`) — reaches the template already quoted
(:func:`harness.launch.command.shell_command`). Job ids are written to ``sweep.json`` after each
successful ``sbatch``, so a failed submission leaves a record of what went out and a retry
(``--resume``) submits nothing twice.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from harness import records, sweeplock, sweepstate
from harness.errors import BadInputError, LaunchError, SchedulerError, SpecError
from harness.launch import command, launchers
from harness.launch.local import OPTION_PREFIXES
from harness.limits import MAX_TIME_LIMIT
from harness.profiles import PATH_RE, format_time_limit
from harness.specs import Spec, check_slurm

#: the job templates ship inside the package (package data), so an installed wheel has them
TEMPLATES = Path(__file__).resolve().parent / "templates"
# applied with fullmatch: "$" would also match before a final newline
_TOKEN = re.compile(r"\A[A-Za-z0-9_.:,=/%&|@+-]+\Z")
_JOB_ID = re.compile(r"\A\d+\Z")
#: per point, seconds beyond its time limit for the kill grace and the failure record
POINT_MARGIN = 60
#: per job, seconds for the job's own start (interpreter, Numba cache)
JOB_MARGIN = 120
#: seconds before the time limit at which Slurm warns the job script (SIGUSR1)
SIGNAL_WARNING = 120


def _sbatch_token(value: Any) -> str:
    """Jinja filter for ``#SBATCH`` lines: a plain token, never whitespace, quotes or ``$``."""
    text = str(value)
    if not _TOKEN.fullmatch(text):
        raise LaunchError(f"refusing to write {text!r} into an #SBATCH line")
    return text


def _comment(value: Any) -> str:
    """Jinja filter for text inside a ``#`` comment: one line of harmless characters."""
    return re.sub(r"[^A-Za-z0-9_ .=/:,+-]", "?", str(value))


def environment() -> jinja2.Environment:
    """The Jinja environment for :data:`TEMPLATES`: no autoescape, strict undefined, quoting
    filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=False,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["q"] = lambda value: shlex.quote(str(value))
    env.filters["sbatch"] = _sbatch_token
    env.filters["comment"] = _comment
    return env


@dataclass
class JobScript:
    """One rendered sbatch script and what it stands for."""

    key: str
    name: str
    path: Path
    text: str
    sbatch_lines: list[str]
    cores: int | None = None
    array: int = 1
    points: list[str] = field(default_factory=list)


def _checked_path(value: str, what: str) -> str:
    if not PATH_RE.fullmatch(value):
        raise BadInputError(f"{what} {value!r} cannot go into a job script; use an absolute "
                            "path of letters, digits and '_./+-' (set it in the profile)")
    return value


def _common_lines(spec: Spec, job_name: str, seconds: int) -> list[str]:
    prof = spec.profile
    lines = [f"--job-name={job_name}", f"--time={format_time_limit(seconds)}",
             f"--partition={prof.partition}"]
    lines += [f"--{key}={getattr(prof, key)}" for key in ("account", "qos")
              if getattr(prof, key)]
    return lines


def scale_sbatch_lines(spec: Spec, cores: int, sweep_dir: Path) -> list[str]:
    """The ``#SBATCH`` options of the job that runs every point at ``cores`` cores."""
    prof = spec.profile
    points = spec.points_at(cores)
    seconds = spec.job_time_limit or (
        sum(p.time_limit + POINT_MARGIN for p in points) + JOB_MARGIN)
    if seconds > MAX_TIME_LIMIT:
        raise SpecError(f"{spec.path}: the job at {cores} cores would need {seconds} s, longer "
                        f"than a year ({MAX_TIME_LIMIT} s); lower time_limit or split the spec")
    nodes = prof.nodes_for(cores)
    lines = _common_lines(spec, f"{spec.name}-p{cores}", seconds)
    lines += [f"--nodes={nodes}", f"--ntasks={cores}", "--cpus-per-task=1"]
    if cores % nodes == 0:
        lines.append(f"--ntasks-per-node={cores // nodes}")
    if prof.constraint:
        lines.append(f"--constraint={prof.constraint}")
    if prof.exclusive:
        lines.append("--exclusive")
    if prof.memory_per_node:
        # what a job may use per node: Slurm then places and limits it as the feasibility check
        # assumed (whole MiB, Slurm's default unit)
        lines.append(f"--mem={prof.memory_per_node // (1 << 20)}M")
    # the batch shell gets SIGUSR1 this long before the time limit, to record what is cut
    lines.append(f"--signal=B:USR1@{min(SIGNAL_WARNING, max(seconds // 4, 10))}")
    if spec.runs > 1:
        throttle = f"%{prof.array_throttle}" if prof.array_throttle else ""
        lines.append(f"--array=0-{spec.runs - 1}{throttle}")
        pattern = "%x-%A_%a"
    else:
        pattern = "%x-%j"
    lines += [f"--output={sweep_dir}/logs/{pattern}.out", f"--error={sweep_dir}/logs/{pattern}.err"]
    return lines + list(prof.sbatch_options)


def analysis_sbatch_lines(spec: Spec, sweep_dir: Path) -> list[str]:
    """The ``#SBATCH`` options of the analysis job."""
    lines = _common_lines(spec, f"{spec.name}-analysis", spec.analysis.time_limit)
    lines += ["--nodes=1", "--ntasks=1", "--cpus-per-task=1"]
    return [*lines, f"--output={sweep_dir}/logs/%x-%j.out", f"--error={sweep_dir}/logs/%x-%j.err"]


#: directories that are local to each node on a typical cluster
NODE_LOCAL = ("/tmp", "/var/tmp", "/dev/shm")


def node_local_warnings(spec: Spec, sweep_dir: Path) -> list[str]:
    """Warnings for a multi-node job whose results or Numba cache would live on node-local
    storage: rank 0 writes the records on its own node, and the other nodes' ranks would compile
    into caches nobody shares."""
    if max((spec.profile.nodes_for(c) for c in spec.cores), default=1) <= 1:
        return []
    cache = spec.profile.numba_cache_dir or str(sweep_dir.parent / "numba-cache")
    out = []
    for what, path in (("--out", str(sweep_dir.parent)), ("numba_cache_dir", cache)):
        if any(path == d or path.startswith(d + "/") for d in NODE_LOCAL):
            out.append(f"harness: warning: {what} {path} is node-local on most clusters, and this "
                       "sweep spans several nodes: use a shared file system")
    return out


def render(spec: Spec, sweep_dir: Path, python: str | None = None) -> list[JobScript]:
    """Render one script per core count and the analysis script (nothing is written).

    Raises
    ------
    SpecError
        When the profile lacks what Slurm needs (partition, cores_per_node).
    BadInputError
        When the sweep directory or the interpreter path cannot be written into a script.
    """
    check_slurm(spec)
    sweep_dir = Path(sweep_dir).resolve()
    _checked_path(str(sweep_dir), "sweep directory")
    python = _checked_path(python or spec.profile.python or sys.executable, "python")
    cache = spec.profile.numba_cache_dir or str(sweep_dir.parent / "numba-cache")
    launcher = launchers.get(spec.profile.launcher).for_job(python, spec.profile.mpi)
    env = environment()
    common = dict(option_prefixes=OPTION_PREFIXES, sweep_id=sweep_dir.name, spec_name=spec.name,
                  out=str(sweep_dir.parent), sweep_dir=str(sweep_dir), python=python,
                  numba_cache_dir=cache,
                  preamble=list(spec.profile.preamble), stage_env=spec.profile.stage_env,
                  stage_dir=spec.profile.stage_dir,
                  stage_copy=f"{spec.profile.stage_dir.rstrip('/')}/harness-stage.tar")
    jobs: list[JobScript] = []
    for cores in spec.cores:
        points = spec.points_at(cores)
        lines = scale_sbatch_lines(spec, cores, sweep_dir)
        runs = [(p, command.shell_command(launcher.wrap(cores, command.run_command(
            p, sweep_dir.parent, sweep_dir.name, command.RUN_ID_IN_SCRIPT,
            time_limit=p.time_limit, python=python)))) for p in points]
        text = env.get_template("scale.sbatch.j2").render(
            **common, sbatch_lines=lines, cores=cores, runs=runs)
        name = f"{spec.name}-p{cores}"
        jobs.append(JobScript(key=f"p{cores}", name=name, path=sweep_dir / "jobs" /
                              f"{name}.sbatch", text=text, sbatch_lines=lines, cores=cores,
                              array=spec.runs, points=[p.key for p in points]))
    lines = analysis_sbatch_lines(spec, sweep_dir)
    text = env.get_template("analysis.sbatch.j2").render(
        **common, sbatch_lines=lines, report=spec.analysis.report,
        kpi_push=spec.analysis.kpi_push, store=spec.analysis.store)
    name = f"{spec.name}-analysis"
    jobs.append(JobScript(key="analysis", name=name, path=sweep_dir / "jobs" / f"{name}.sbatch",
                          text=text, sbatch_lines=lines))
    return jobs


def sbatch_command(job: JobScript, dependency: list[str] | None = None) -> list[str]:
    """``sbatch --parsable [--dependency=afterany:<ids>] SCRIPT``."""
    cmd = ["sbatch", "--parsable"]
    if dependency:
        cmd.append("--dependency=afterany:" + ":".join(dependency))
    return [*cmd, str(job.path)]


def _sbatch(cmd: list[str]) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    except FileNotFoundError:
        raise BadInputError("sbatch not found; use --local or --dry-run") from None
    except subprocess.TimeoutExpired:
        raise SchedulerError(f"{shlex.join(cmd)} did not answer in 120 s") from None
    job_id = done.stdout.strip().split(";")[0]
    if done.returncode != 0 or not _JOB_ID.fullmatch(job_id):
        why = (done.stderr.strip() or done.stdout.strip() or f"exit {done.returncode}")
        raise SchedulerError(f"{shlex.join(cmd)} failed: {why.splitlines()[-1]}")
    return job_id


def submit(spec: Spec, out: str | Path, sweep_id: str | None = None, resume: bool = False,
           dry_run: bool = False, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Write the job scripts into ``<out>/<sweep_id>/jobs`` and submit them (unless ``dry_run``).

    Each job id goes into ``sweep.json`` as soon as ``sbatch`` returns it. With ``resume``,
    jobs that already have an id are not submitted again.

    Raises
    ------
    BadInputError
        ``sbatch`` is not installed (and this is not a dry run), or the sweep directory is taken.
    SchedulerError
        ``sbatch`` refused a job; the jobs submitted before it are in ``sweep.json``.
    """
    check_slurm(spec)
    if not dry_run and shutil.which("sbatch") is None:
        raise BadInputError("sbatch not found; use --local or --dry-run")
    sweep_dir, _ = sweepstate.open_sweep(spec, out, sweep_id, resume, "slurm")
    scripts = render(spec, sweep_dir)  # may refuse the spec: before anything is written
    for warning in node_local_warnings(spec, Path(sweep_dir).resolve()):
        sys.stderr.write(warning + "\n")
    with sweeplock.hold(sweep_dir):  # one submitter; read the state again under the lock
        _, state = sweepstate.open_sweep(spec, out, sweep_dir.name, resume, "slurm")
        return _submit_locked(spec, scripts, sweep_dir, state, dry_run, echo)


def _submit_locked(spec: Spec, scripts: list[JobScript], sweep_dir: Path, state: dict[str, Any],
                   dry_run: bool, echo: Callable[[str], None]) -> dict[str, Any]:
    (sweep_dir / "jobs").mkdir(parents=True, exist_ok=True)
    (sweep_dir / "logs").mkdir(parents=True, exist_ok=True)
    for job in scripts:
        job.path.write_text(job.text, encoding="utf-8")
    known = {j["key"]: j for j in state["jobs"]}
    state["jobs"] = [{
        "key": job.key, "name": job.name, "script": str(job.path), "cores": job.cores,
        "array": job.array, "points": job.points,
        "job_id": known.get(job.key, {}).get("job_id"),
        "submitted_at": known.get(job.key, {}).get("submitted_at"),
        "command": known.get(job.key, {}).get("command"),
    } for job in scripts]
    state["dry_run"] = dry_run and not any(j["job_id"] for j in state["jobs"])
    state["state"] = "dry-run" if state["dry_run"] else "submitting"
    sweepstate.write_state(sweep_dir, state)
    if dry_run:
        for job in scripts:
            echo(f"# ==> {job.path} <==")
            echo(job.text)
    ids: list[str] = []
    for job, entry in zip(scripts, state["jobs"], strict=True):
        if job.key == "analysis":
            deps = ids if not dry_run else [f"JOBID_{j.key}" for j in scripts[:-1]]
            cmd = sbatch_command(job, deps)
        else:
            cmd = sbatch_command(job)
        if entry["job_id"]:
            echo(f"{job.name}: already submitted as job {entry['job_id']}")
            ids.append(entry["job_id"])
            continue
        if dry_run:
            if job.key == "analysis":
                echo("# JOBID_<key>: the id sbatch --parsable prints for that job")
            echo(shlex.join(cmd))
            continue
        try:
            job_id = _sbatch(cmd)
        except (SchedulerError, BadInputError) as e:
            state["state"] = "submission failed"
            sweepstate.write_state(sweep_dir, state)
            went = [j["name"] for j in state["jobs"] if j["job_id"]]
            raise SchedulerError(
                f"{e}; {len(went)} of {len(scripts)} jobs went out (in {sweep_dir}/sweep.json); "
                f"rerun with --resume --sweep-id {state['sweep_id']} to submit the rest") from None
        entry.update(job_id=job_id, command=cmd, submitted_at=records.now_iso())
        sweepstate.write_state(sweep_dir, state)
        ids.append(job_id)
        echo(f"{job.name}: submitted as job {job_id}")
    if not dry_run:
        state["state"] = "submitted"
        sweepstate.write_state(sweep_dir, state)
        echo(f"sweep {state['sweep_id']}: follow it with `harness status {sweep_dir}`")
    return state


from harness.launch.jobscript import ensure_record  # noqa: E402  (re-exported)

__all__ = ["JobScript", "ensure_record", "render", "submit"]
