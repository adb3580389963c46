"""The `knowgen` command line: one typer app, one module per subcommand."""

from __future__ import annotations

import logging
import os
import signal
import sys

import typer

from knowgen.cli import (
    data,
    evaluate,
    evaluator,
    export,
    ground,
    info,
    invert,
    presets,
    probe,
    represent,
    sample,
    serve,
    train,
    traverse,
)

app = typer.Typer(
    help="knowgen: train, sample, export and inspect knowledge-aware image generators.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
for module in (
    train, sample, traverse, evaluate, represent, probe, invert, export, serve, ground, info,
    presets,
):  # fmt: skip
    app.command(name=module.NAME)(module.command)
app.add_typer(evaluator.app, name=evaluator.NAME)
app.add_typer(data.app, name=data.NAME)


class _StderrHandler(logging.Handler):
    """Writes to whatever `sys.stderr` is at the time (test runners swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # pragma: no cover - logging must never crash the run
            self.handleError(record)


@app.callback()
def _configure(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")):
    logger = logging.getLogger("knowgen")
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    rank_text = os.environ.get("RANK", "0")  # torchrun: only rank 0 reports progress
    rank = int(rank_text) if rank_text.isdigit() else 0  # a bad RANK is reported by train
    if rank:
        logger.setLevel(logging.WARNING)
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        prefix = f"knowgen[rank {rank}]" if rank else "knowgen"
        handler.setFormatter(logging.Formatter(prefix + ": %(message)s"))
        logger.addHandler(handler)


def main() -> None:
    """Console-script entry point."""
    # a file-size limit (`ulimit -f`) kills the writer with SIGXFSZ by default, mid-write;
    # ignored, the write fails with EFBIG, which the command names (and cleans up after)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    app()
