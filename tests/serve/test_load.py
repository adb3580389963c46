"""The server under more than it can serve: a bounded queue answers 503 with Retry-After, a
body is capped while it arrives, a slow client holds only its own connection, and a trainer
killed beside the server leaves it answering from the last good checkpoint."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from knowgen.serve.app import MAX_BODY_BYTES, create_app, load_models
from tests.serve.test_browser import serving

CLASS_REQUEST = {"model": "dcgan", "n": 4}


def slowed(runs, seconds: float):
    """The served models, each sampling `seconds` slower (the queue fills while they work)."""
    models = load_models(runs)
    for generator, _ in models.values():
        sample = generator.sample

        def slow(*args, _sample=sample, **kwargs):
            time.sleep(seconds)
            return _sample(*args, **kwargs)

        generator.sample = slow
    return models


async def burst(app, requests: int, body: dict) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await asyncio.gather(
            *(client.post("/v1/generate", json=body) for _ in range(requests))
        )


def test_past_the_queue_bound_requests_get_503_with_retry_after(served_runs):
    app = create_app(slowed(served_runs, 0.3), max_queue=3)
    responses = asyncio.run(burst(app, 10, CLASS_REQUEST))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 3 + [503] * 7, statuses
    refused = [r for r in responses if r.status_code == 503]
    assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
    assert all("busy" in r.json()["error"] for r in refused)
    again = asyncio.run(burst(app, 1, CLASS_REQUEST))  # the queue drained: served again
    assert again[0].status_code == 200


def test_a_chunked_body_is_capped_while_it_arrives(served_runs):
    app = create_app(load_models(served_runs[-1:]))

    async def chunks():
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b" " * 65536

    async def post():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/v1/generate", content=chunks(),
                                     headers={"content-type": "application/json"})  # fmt: skip

    response = asyncio.run(post())
    assert response.status_code == 413 and "KB" in response.json()["error"]


def test_a_slow_client_does_not_hold_up_the_others(served_runs):
    with serving(served_runs[-1:]) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as slow:
            slow.sendall(
                b"POST /v1/generate HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
            )
            start = time.perf_counter()  # the slow client now sends nothing more
            for _ in range(3):
                response = httpx.post(f"{url}/v1/generate", json=CLASS_REQUEST, timeout=10)
                assert response.status_code == 200
            assert time.perf_counter() - start < 5


def test_a_trainer_killed_beside_the_server_leaves_it_answering(tmp_path):
    from tests.conftest import TINY

    run = tmp_path / "run"
    settings = [*TINY, "train.steps=100000", "train.checkpoint_every=10"]
    command = [sys.executable, "-m", "knowgen", "train", "--out", str(run)]
    command += [arg for setting in settings for arg in ("--set", setting)]
    trainer = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not list(run.glob("checkpoints/step-*.pt")) and time.time() < deadline:
            time.sleep(0.05)
        app = create_app(load_models([run]))  # served while the trainer writes checkpoints
        time.sleep(0.5)
    finally:
        os.kill(trainer.pid, signal.SIGKILL)
        trainer.wait()
    body = {"model": "run", "n": 4}
    assert asyncio.run(burst(app, 1, body))[0].status_code == 200
    restarted = create_app(load_models([run]))  # a server started after the kill
    assert asyncio.run(burst(restarted, 1, body))[0].status_code == 200


@pytest.mark.parametrize("fmt", ["png", "base64", "npy"])
def test_each_format_is_made_in_one_job(served_runs, fmt):
    app = create_app(load_models(served_runs[-1:]))
    response = asyncio.run(burst(app, 1, CLASS_REQUEST | {"format": fmt}))[0]
    assert response.status_code == 200 and response.content
