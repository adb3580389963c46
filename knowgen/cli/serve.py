"""`knowgen serve`."""

from __future__ import annotations

from pathlib import Path

import typer

from knowgen.cli.errors import reports_user_errors

NAME = "serve"
SERVE_EXTRA_HINT = "install the serve extra: pip install 'knowgen[serve]'"


@reports_user_errors
def command(
    sources: list[Path] = typer.Argument(..., help="Run directories or export folders to serve."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind (loopback by default)."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
) -> None:
    """Serve a web page and an HTTP API that turn knowledge into images.

    Open http://HOST:PORT/ for the page, /docs for the API. Only the models given here are
    served; a request names one of them, never a path.
    """
    try:
        import uvicorn

        from knowgen.serve.app import UVICORN_SETTINGS, create_app, load_models
    except ImportError:
        from knowgen.knowledge.text import MissingExtraError

        hint = f"knowgen serve needs FastAPI and uvicorn: {SERVE_EXTRA_HINT}"
        raise MissingExtraError(hint) from None
    models = load_models(sources)
    names = ", ".join(models)
    typer.echo(f"serving {names} on http://{host}:{port}/ (API docs at /docs); Ctrl-C stops")
    uvicorn.run(create_app(models), host=host, port=port, **UVICORN_SETTINGS)
