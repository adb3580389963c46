"""User mistakes become one clear line on stderr and exit code 2, never a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer

from knowgen.knowledge.text import MissingExtraError
from knowgen.train.loop import NonFiniteLossError

USER_ERRORS = (
    ValueError,
    FileNotFoundError,
    FileExistsError,
    NotADirectoryError,
    NonFiniteLossError,
    MissingExtraError,
)


def reports_user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command so that a `USER_ERRORS` exception prints `error: ...` and exits 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except USER_ERRORS as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None

    return wrapper
