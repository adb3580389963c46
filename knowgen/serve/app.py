"""The HTTP API and web page over `knowgen.load(...).sample(...)`: no generation code of its own.

    GET  /               the page (one HTML file, nothing fetched from elsewhere)
    GET  /healthz        {"status": "ok"}
    GET  /v1/models      each model's kinds, class names, image shape, codes and card
    POST /v1/generate    knowledge -> a PNG grid, base64 PNGs, or a .npy
    POST /v1/interpolate two seeds -> a PNG strip between their latents
    POST /v1/traverse    an InfoGAN code -> a PNG grid, one row per value
    GET  /docs           the OpenAPI page (its schema at /openapi.json)

Models come only from the list given at start, by name; a request never names a path. Every
error is JSON `{"error": "..."}` with a 4xx status. Generation runs in one worker thread, so
concurrent clients queue instead of oversubscribing the CPU cores; the queue is bounded: past
`MAX_QUEUE` waiting requests the answer is 503 with `Retry-After` (the seconds the queue ahead
would take), so that overload costs clients a retry, never the server its memory. A body is
capped while it arrives (`MAX_BODY_BYTES`, a declared length or not), and a slow client only
holds its own connection: nothing waits for a body but its own request.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from knowgen.knowledge.kinds import KnowledgeError, public_name, styles_of
from knowgen.sampling import Generator, Samples
from knowgen.serve.limits import (  # noqa: F401 - MAX_BODY_BYTES, UVICORN_SETTINGS: the serve API
    MAX_BODY_BYTES,
    MAX_QUEUE,
    UVICORN_SETTINGS,
    BodyLimit,
    GenerationQueue,
    Overloaded,
    error,
)

log = logging.getLogger(__name__)

MAX_N = 256
MAX_UPLOAD_BYTES = 1024 * 1024
MAX_UPLOAD_PIXELS = 4096 * 4096
PAGE = Path(__file__).with_name("page.html")

Seed = Annotated[int, Field(ge=0, lt=2**63)]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class Knowledge(BaseModel):
    """The knowledge fields a request may carry; each only for a model trained with it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    class_: str | int | None = Field(None, alias="class", description="Class name or index")
    text: str | None = Field(None, max_length=500, description="A description")
    color: str | None = Field(None, max_length=32, description='"#c0392b" or a colour name')
    style: str | int | None = Field(None, description='Who drew it (emoji): "google", "twitter"')
    concept: str | None = Field(None, max_length=100, description='A WordNet word: "parka"')
    structure: list[list[Literal[0, 1]]] | None = Field(
        None, min_length=7, max_length=7, description="A 7x7 grid of 0/1 (the silhouette)"
    )
    structure_image: str | None = Field(
        None, max_length=2 * MAX_UPLOAD_BYTES, description="A silhouette image, base64 (<= 1 MB)"
    )
    size: Unit | None = None
    rotation: Unit | None = None
    position: tuple[Unit, Unit] | None = None
    codes: dict[str, float] | None = Field(None, max_length=16, description="InfoGAN codes")
    guidance: Annotated[float, Field(ge=0.0, le=10.0)] | None = None

    def arguments(self) -> dict[str, Any]:
        """Keyword arguments for `Generator.sample` (only the fields given)."""
        given = {
            "class_": self.class_,
            "text": self.text,
            "color": self.color,
            "style": self.style,
            "concept": self.concept,
            "size": self.size,
            "rotation": self.rotation,
            "position": self.position,
            "codes": self.codes,
            "guidance": self.guidance,
        }
        if self.structure is not None:
            if any(len(row) != 7 for row in self.structure):
                raise KnowledgeError("structure must be 7 rows of 7 values (0 or 1)")
            given["structure"] = self.structure
        if self.structure_image is not None:
            if self.structure is not None:
                raise KnowledgeError("give structure or structure_image, not both")
            given["structure"] = decode_upload(self.structure_image)
        return {k: v for k, v in given.items() if v is not None}


class GenerateRequest(Knowledge):
    model: str
    n: Annotated[int, Field(ge=1, le=MAX_N)] = 16
    seed: Seed = 0
    format: Literal["png", "base64", "npy"] = "png"
    nrow: Annotated[int, Field(ge=1, le=MAX_N)] | None = None


class ReadRequest(BaseModel):
    """A prompt to read, not to draw: which class it reaches in a text model, and how sure."""

    model_config = ConfigDict(extra="forbid")
    model: str
    text: str = Field(..., min_length=1, max_length=500, description="A description")


class InterpolateRequest(Knowledge):
    model: str
    seed_a: Seed = 0
    seed_b: Seed = 1
    steps: Annotated[int, Field(ge=2, le=32)] = 8


class TraverseRequest(Knowledge):
    model: str
    code: str = "c1"
    samples: Annotated[int, Field(ge=1, le=16)] = 8
    steps: Annotated[int, Field(ge=2, le=16)] = 7
    span: Annotated[float, Field(gt=0.0, le=10.0)] = 2.0
    seed: Seed = 0


def decode_upload(data: str):
    """A base64 image (a data: URL or plain) -> a PIL image, within the size and pixel limits."""
    from PIL import Image

    payload = data.split(",", 1)[1] if data.startswith("data:") else data
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise KnowledgeError("structure_image is not base64 data") from None
    if len(raw) > MAX_UPLOAD_BYTES:
        raise KnowledgeError(f"structure_image is {len(raw)} bytes; at most 1 MB is accepted")
    try:
        picture = Image.open(io.BytesIO(raw))
        if picture.width * picture.height > MAX_UPLOAD_PIXELS:
            raise KnowledgeError("structure_image has too many pixels (at most 4096 x 4096)")
        picture.load()
    except KnowledgeError:
        raise
    except Exception:  # PIL raises many types for bad images
        raise KnowledgeError("structure_image is not a readable image") from None
    return picture


def encoded(samples: Samples, body: GenerateRequest) -> Response:
    """The samples in the format the request asked for (PNG grid, base64 PNGs or .npy)."""
    if body.format == "base64":
        pictures = []
        for picture in samples.pil():
            buffer = io.BytesIO()
            picture.save(buffer, format="PNG")
            pictures.append(base64.b64encode(buffer.getvalue()).decode("ascii"))
        return JSONResponse({"images": pictures, "shape": list(samples.images.shape)})
    if body.format == "npy":
        buffer = io.BytesIO()
        np.save(buffer, samples.numpy())
        return Response(buffer.getvalue(), media_type="application/octet-stream")
    return Response(png_bytes(samples, body.nrow), media_type="image/png")


def png_bytes(samples: Samples, nrow: int | None = None) -> bytes:
    """The samples as one PNG grid (row labels included when the samples have them), made in
    memory: a request writes no file. zlib level 1: 0.5 ms instead of 2.1 ms for 16 images of
    28 px (a third of a request's work on 2 cores), for a file about 14% larger."""
    buffer = io.BytesIO()
    samples.grid_picture(nrow).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def model_card(name: str, generator: Generator, source: Path) -> dict[str, Any]:
    """What a person wants to know about a model before asking it for images."""
    meta = generator.meta
    card: dict[str, Any] = {
        "name": name,
        "kinds": [public_name(k) for k in generator.kinds],
        "class_names": generator.class_names,
        "styles": list(styles_of(generator)),
        "class_label": (meta.get("data") or {}).get("label") or "class",  # emoji: group
        "image_shape": list(generator.image_shape),
        "codes": generator.codes,
        "guidance": generator.takes_guidance,
        "architecture": generator.config.name,
        "step": meta.get("step"),
        "data": (meta.get("data") or {}).get("name"),
    }
    folder = source if source.is_dir() else source.parent
    for candidate in (folder / "eval.json", folder.parent / "eval.json"):
        if candidate.is_file():
            try:
                scores = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                break
            keep = ("fid", "kid", "precision", "recall", "conditional_accuracy", "joint_accuracy")
            card["metrics"] = {k: scores[k] for k in keep if isinstance(scores.get(k), int | float)}
            break
    return card


class UnknownModel(Exception):
    """A request named a model the server was not started with."""


def create_app(models: dict[str, tuple[Generator, Path]], max_queue: int = MAX_QUEUE) -> FastAPI:
    """The app serving `models` ({name: (generator, where it was loaded from)}), with at most
    `max_queue` requests waiting for generation."""
    if not models:
        raise ValueError("knowgen serve needs at least one model")
    app = FastAPI(title="knowgen", version="1", description=__doc__.split("\n\n")[0])
    app.add_middleware(BodyLimit)
    queue = GenerationQueue(max_queue)
    run = queue.run
    cards = {name: model_card(name, g, source) for name, (g, source) in models.items()}

    def pick(name: str) -> Generator:
        if name not in models:
            raise UnknownModel(f"unknown model {name!r}; choose from {', '.join(sorted(models))}")
        return models[name][0]

    @app.exception_handler(Overloaded)
    async def busy(request: Request, exc: Overloaded) -> JSONResponse:
        return error(503, str(exc), {"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = first.get("msg", "invalid request")
        return error(422, f"{where}: {message}" if where else message)

    @app.exception_handler(KnowledgeError)
    async def refused(request: Request, exc: KnowledgeError) -> JSONResponse:
        return error(400, str(exc))

    @app.exception_handler(UnknownModel)
    async def missing(request: Request, exc: UnknownModel) -> JSONResponse:
        return error(404, str(exc))

    @app.exception_handler(ValueError)
    async def bad_value(request: Request, exc: ValueError) -> JSONResponse:
        return error(400, str(exc).splitlines()[0] if str(exc) else "bad request")

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error serving %s", request.url.path)
        return error(500, "internal error; see the server's log")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    async def list_models() -> list[dict[str, Any]]:
        return list(cards.values())

    @app.post(
        "/v1/generate",
        responses={200: {"content": {"image/png": {}, "application/json": {}}}},
    )
    async def generate(body: GenerateRequest) -> Response:
        generator = pick(body.model)
        arguments = body.arguments()
        samples = generator.sample  # sampling and encoding: one job for the worker
        return await run(lambda: encoded(samples(body.n, body.seed, **arguments), body))

    @app.post("/v1/read")
    async def read(body: ReadRequest) -> dict[str, Any]:
        """What a text model reads a prompt as (`Generator.read_text`), before any image."""
        generator = pick(body.model)
        (reading,) = await run(lambda: generator.read_text(body.text))
        return reading.as_dict()

    @app.post("/v1/interpolate", responses={200: {"content": {"image/png": {}}}})
    async def interpolate(body: InterpolateRequest) -> Response:
        generator = pick(body.model)
        arguments = body.arguments()
        strip = generator.interpolate
        grid = await run(
            lambda: png_bytes(strip(body.seed_a, body.seed_b, body.steps, **arguments), body.steps)
        )
        return Response(grid, media_type="image/png")

    @app.post("/v1/traverse", responses={200: {"content": {"image/png": {}}}})
    async def traverse(body: TraverseRequest) -> Response:
        generator = pick(body.model)
        arguments = body.arguments()
        grid = await run(
            lambda: png_bytes(
                generator.traverse(
                    body.code, body.samples, body.steps, body.span, body.seed, **arguments
                ),
                body.samples,
            )
        )
        return Response(grid, media_type="image/png")

    return app


def load_models(sources: list[Path]) -> dict[str, tuple[Generator, Path]]:
    """{name: (generator, source)} for each run or export; names from the folder (made unique)."""
    from knowgen.sampling import load

    models: dict[str, tuple[Generator, Path]] = {}
    for source in sources:
        source = Path(source)
        folder = source if source.is_dir() else source.parent
        name = folder.parent.name if folder.name == "export" else folder.name
        name = name or "model"
        unique, number = name, 2
        while unique in models:
            unique, number = f"{name}-{number}", number + 1
        models[unique] = (load(source), source)
    return models
