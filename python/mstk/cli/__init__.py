"""The ``mstk`` command: a click group built around a plugin manager.

``build_cli(pm)`` lets tests (and ``mstk.testing``) build a CLI around a fresh plugin
manager; ``run`` is the single error boundary that turns exceptions into the exit codes
documented in the README (0 ok, 1 bad input or runtime failure, 2 usage error).
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Sequence

import click

from mstk.errors import MstkError, OutputClosed

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def build_cli(pm) -> click.Group:
    """Return the ``mstk`` click group with every command that ``pm``'s plugins register."""
    from mstk import __version__

    from mstk.cli.lazy import LazyGroup

    @click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="mstk")
    @click.pass_context
    def cli(ctx: click.Context) -> None:
        """mstk: research methods for recommendation, RAG and LLM training.

        Commands read JSONL (a file or stdin) and write JSONL to stdout, so they compose
        in shell pipelines. Summaries and progress go to stderr.
        """
        ctx.obj = pm

    from mstk.plugins import add_plugin_commands

    # Not pm.hook.register_commands(cli=cli): each plugin is called on its own so that a
    # command name taken twice can be reported with both plugin names.
    add_plugin_commands(pm, cli)
    return cli


def _quiet_broken_pipe() -> None:
    # The reader went away (`mstk … | head`): point stdout at devnull so the interpreter's
    # final flush does not print a second traceback, and end without a message.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def run(cli: click.Group, args: Sequence[str] | None = None, prog_name: str = "mstk") -> int:
    """Invoke ``cli`` and return its exit code; never raises except for KeyboardInterrupt."""
    try:
        # Without standalone mode click returns the exit code of ctx.exit() (e.g. after
        # --help) instead of calling sys.exit; a command's own return value is ignored.
        rv = cli.main(args=list(args) if args is not None else None, prog_name=prog_name, standalone_mode=False)
        return rv if isinstance(rv, int) else EXIT_OK
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        return EXIT_FAILURE
    except click.ClickException as exc:  # UsageError and friends
        exc.show()
        return exc.exit_code
    except (BrokenPipeError, OutputClosed):
        _quiet_broken_pipe()
        return EXIT_OK
    except Exception as exc:
        return _report_failure(exc)


def _report_failure(exc: Exception) -> int:
    """Print a failure as one ``Error:`` line (a traceback only with MSTK_DEBUG=1); exit 1."""
    debug = os.environ.get("MSTK_DEBUG") == "1"
    if isinstance(exc, MstkError):
        if debug:
            traceback.print_exception(exc)
        click.echo(f"Error: {exc}", err=True)
    elif debug:  # an unexpected failure: still one line unless debugging
        traceback.print_exception(exc)
    else:
        click.echo(f"Error: {type(exc).__name__}: {exc} (set MSTK_DEBUG=1 for a traceback)", err=True)
    return EXIT_FAILURE


def run_with_plugins(pm=None, args: Sequence[str] | None = None) -> int:
    """Build the CLI around ``pm`` (default: the installed plugins) and run it.

    A failure while the plugins are being set up (e.g. two plugins adding the same
    command) goes through the same error boundary as a failing command.
    """
    try:
        if pm is None:
            from mstk.plugins import get_plugin_manager

            pm = get_plugin_manager()
        cli = build_cli(pm)
    except Exception as exc:
        return _report_failure(exc)
    return run(cli, args)


def main() -> None:
    # mstk's parallel work runs in its own pools (rayon in the core, onnxruntime's), sized
    # by --threads. OpenBLAS, loaded with numpy, starts a pool of its own whose threads
    # spin for about 0.1 s each after start-up: on 2 cores that cost every command ~30 ms
    # and competed with the core's threads, while the one BLAS-heavy command (ALS in
    # `recsys score`) gained only 7% from it. Set before numpy loads; a value the user
    # set wins. (Only the command line: a library user's process is theirs to configure.)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    code = run_with_plugins()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_broken_pipe()
    sys.exit(code)
