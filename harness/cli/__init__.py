"""The ``harness`` command line: a click group whose commands live one module each.

Commands are imported on first use, so ``harness --help`` stays fast. Every option can also be
set from the environment as ``HARNESS_<COMMAND>_<OPTION>`` (e.g. ``HARNESS_RUN_RANKS=4``).
Errors the user can cause print one line and exit with their class's code (docs/design.md, "CLI
surface"): 1 a run failed, 2 bad input, 3 a missed target under ``--check``; a command stopped
by a signal exits 128 + its number, whichever command it is: 130 for SIGINT (Ctrl-C), 143 for
SIGTERM.
"""

from __future__ import annotations

import importlib
import sys
import traceback

import click

from harness import __version__
from harness.errors import HarnessError
from harness.launch.local import EXIT_SIGINT, EXIT_SIGTERM, Terminated

# command name -> "module:attribute"
COMMANDS: dict[str, str] = {
    "run": "harness.cli.run:run",
    "smoke": "harness.cli.smoke:smoke",
    "analyze": "harness.cli.analyze:analyze",
    "sweep": "harness.cli.sweep:sweep",
    "status": "harness.cli.status:status",
    "report": "harness.cli.report:report",
    "plan": "harness.cli.plan:plan",
    "kpi": "harness.cli.kpi:kpi",
    "compare": "harness.cli.compare:compare",
    "probe": "harness.cli.probe:probe",
    "predict": "harness.cli.predict:predict_command",
}


class LazyGroup(click.Group):
    """A group that imports each command's module only when that command is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="harness")
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Measure how HPC workloads scale.

    Run verified kernels under MPI (run, smoke), check and sweep them over core counts locally
    or on Slurm (plan, sweep, status), turn the timings into speedup, efficiency, serial fraction
    and scaling models (analyze), predict each phase at larger scales (predict), write reports
    (report), keep KPIs in a store (kpi), compare two sweeps (compare) and measure the machine
    into a machine model (probe).
    """
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose


def fail(message: str, code: int) -> None:
    click.echo(f"harness: error: {message}", err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the group and turn exceptions into one line and an exit code."""
    verbose = "-v" in (argv or sys.argv[1:]) or "--verbose" in (argv or sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="harness", standalone_mode=False,
                 auto_envvar_prefix="HARNESS")
    except HarnessError as e:
        if verbose:
            traceback.print_exc()
        fail(str(e), e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.UsageError as e:
        hint = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
        fail(e.format_message() + hint, e.exit_code)
    except click.ClickException as e:
        fail(e.format_message(), e.exit_code)
    except Terminated:
        click.echo("harness: terminated (SIGTERM)", err=True)
        sys.exit(EXIT_SIGTERM)
    except (click.Abort, KeyboardInterrupt):
        click.echo("harness: interrupted", err=True)
        sys.exit(EXIT_SIGINT)
    sys.exit(0)
