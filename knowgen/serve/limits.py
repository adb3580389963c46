"""What keeps `knowgen serve` standing under load: a bounded generation queue (503 with
Retry-After past it), a body cap enforced while the body arrives, and how uvicorn runs the app."""

from __future__ import annotations

import asyncio
import math
import time
from concurrent.futures import ThreadPoolExecutor

from fastapi.responses import JSONResponse

MAX_QUEUE = 32  # requests waiting for (or in) the generation worker; more get 503 + Retry-After
MAX_BODY_BYTES = 2 * 1024 * 1024  # JSON with an uploaded silhouette of <= 1 MB, base64-coded
# how uvicorn runs the app (CLI, benchmark): connections beyond the limit are refused by uvicorn
# itself (503), so that even clients that never send a whole request cannot exhaust memory
UVICORN_SETTINGS = {"log_level": "warning", "limit_concurrency": 256, "timeout_keep_alive": 5}


class Overloaded(Exception):
    """The generation queue is full: come back in `retry_after_s` seconds."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"the server is busy; retry in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class GenerationQueue:
    """One worker thread that generates, and at most `limit` requests waiting for it (or in it).

    The worker's mean time per job (a moving average) says how long the queue ahead would take:
    the Retry-After of a refused request.
    """

    def __init__(self, limit: int = MAX_QUEUE) -> None:
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="knowgen-generate")
        self.limit, self.pending, self.mean_s = limit, 0, 0.05

    async def run(self, fn, *args):
        """`fn(*args)` in the worker thread; the event loop stays free while it waits."""
        if self.pending >= self.limit:
            raise Overloaded(max(1, math.ceil(self.pending * self.mean_s)))
        self.pending += 1  # the event loop is one thread: no lock needed
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self.worker, self.timed, fn, args
            )
        finally:
            self.pending -= 1

    def timed(self, fn, args):
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.mean_s = 0.9 * self.mean_s + 0.1 * (time.perf_counter() - start)


class BodyLimit:
    """ASGI middleware: a body over `limit` bytes is refused (413) by its declared length, or
    while it arrives when no length was declared (chunked), before it is kept in memory: the
    413 is sent at once and the app is told the client left."""

    def __init__(self, app, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            return await error(413, too_large(self.limit))(scope, receive, send)
        received, refused = 0, False

        async def limited_receive():
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                refused = True
                await error(413, too_large(self.limit))(scope, receive, send)
                return {"type": "http.disconnect"}
            return message

        async def unless_refused(message):
            if not refused:  # the app's own answer to a body it never got whole is dropped
                await send(message)

        try:
            await self.app(scope, limited_receive, unless_refused)
        except Exception:
            if not refused:
                raise


def too_large(limit: int) -> str:
    return f"the request body is over {limit // 1024} KB"


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)
