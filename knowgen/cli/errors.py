"""Errors reach users as one message (a line, or a few) and a non-zero exit, never a traceback.

- A mistake the user can fix (a bad value, a missing or unreadable file, a full or read-only disk,
  a locked run directory, knowledge a model does not take) prints `error: ...` and exits 2.
- Ctrl-C outside training prints `interrupted` and exits 130.
- Anything else is a bug of ours: one line naming it and exit 1; `KNOWGEN_DEBUG=1` shows the
  traceback to report.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import click
import typer
from safetensors import SafetensorError

from knowgen.knowledge.text import MissingExtraError
from knowgen.train.checkpoint import NonFiniteWeightsError
from knowgen.train.metrics_log import NonFiniteLossError
from knowgen.write_failures import CAUSES, WriteFailed

USER_ERRORS = (
    ValueError,  # includes KnowledgeError
    FileNotFoundError,
    FileExistsError,  # includes RunDirectoryLocked
    NotADirectoryError,
    IsADirectoryError,
    NonFiniteLossError,
    NonFiniteWeightsError,
    MissingExtraError,
    SafetensorError,
    RecursionError,  # a config nested beyond reason
    OverflowError,
)
MAX_MESSAGE = 2000  # characters; a message listing bad rows keeps its first lines
MAX_LINES = 20


def one_line(err: BaseException) -> str:
    """An error's message, bounded: a line, or a few (a file's bad rows, one per line)."""
    lines = str(err).strip().splitlines() or [type(err).__name__]
    text = "\n".join(lines[:MAX_LINES]) + ("\n..." if len(lines) > MAX_LINES else "")
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def describe_os_error(err: OSError) -> str:
    """An OS error in one line: a write's named cause (`WriteFailed`), else the OS's words, the
    file, and what to do where the cause is one a user can act on."""
    if isinstance(err, WriteFailed):
        return one_line(err)
    where = f" ({err.filename})" if err.filename else ""
    cause = CAUSES.get(err.errno)
    reason = err.strerror or one_line(err)
    return f"{reason}{where}" + (f": {cause[0]}; {cause[1]}" if cause else "")


def reports_user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command so that every exception becomes one line on stderr and a non-zero exit."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except USER_ERRORS as err:
            typer.echo(f"error: {one_line(err)}", err=True)
            raise typer.Exit(2) from None
        except OSError as err:
            typer.echo(f"error: {describe_os_error(err)}", err=True)
            raise typer.Exit(2) from None
        except Exception as err:
            if os.environ.get("KNOWGEN_DEBUG"):
                raise
            typer.echo(
                f"error: internal error ({type(err).__name__}: {one_line(err)}); please report "
                "it with the traceback that KNOWGEN_DEBUG=1 shows",
                err=True,
            )
            raise typer.Exit(1) from None

    return wrapper
