"""End to end in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright; no browser
download): open the page, pick a class and a colour (or, for an emoji run, a group and a
style), click Generate, wait for the image, check it is the PNG the API makes for the same
request, and that the console shows no errors.

    python -m tests.serve.test_browser RUN_OR_EXPORT [...] --screenshot docs/images/serve-page.png

writes the README's screenshot with the same code.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(sources: list[Path]):
    """A real server on a free loopback port, in a thread, for the duration."""
    import uvicorn

    from knowgen.serve.app import UVICORN_SETTINGS, create_app, load_models

    port = free_port()
    config = uvicorn.Config(create_app(load_models(sources)), host="127.0.0.1", port=port,
                            **UVICORN_SETTINGS)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def use_page(url: str, model: str, class_name: str | None, screenshot: Path | None = None,
             style: str | None = None):  # fmt: skip
    """Drive the page like a person; returns (PNG bytes shown, console errors)."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=["--no-sandbox", "--disable-gpu"])  # fmt: skip
        page = browser.new_page(viewport={"width": 1200, "height": 860})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]", timeout=15_000)
        page.select_option("#model", model)
        if class_name is not None:
            page.select_option("#class", class_name)
        if style is not None:
            page.select_option("#style", style)
        if page.is_visible("#k-color"):
            page.check("#use-color")
            page.eval_on_selector("#color", "el => { el.value = '#c0392b'; }")
        page.fill("#n", "8")
        page.fill("#seed", "5")
        page.click("#generate")
        page.wait_for_function(
            "() => { const i = document.getElementById('result');"
            " return i.complete && i.naturalWidth > 0 && !i.classList.contains('hidden'); }",
            timeout=30_000,
        )
        shown = page.evaluate(
            """async () => {
                const blob = await (await fetch(document.getElementById('result').src)).blob();
                const bytes = new Uint8Array(await blob.arrayBuffer());
                let text = ''; for (const b of bytes) text += String.fromCharCode(b);
                return btoa(text);
            }"""
        )
        assert page.is_visible("#download")
        if screenshot is not None:
            page.click("#interpolate")
            page.wait_for_selector("#strip:not(.hidden)", timeout=30_000)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    return base64.b64decode(shown), errors


def test_the_page_generates_what_the_api_does(served_runs):
    pytest.importorskip("playwright", reason="Playwright for Python is not installed")
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed (apt-get install -y chromium chromium-driver)")
    from fastapi.testclient import TestClient

    from knowgen.serve.app import create_app, load_models

    with serving(served_runs) as url:
        shown, errors = use_page(url, "fusion", "dress")
    assert shown[:8] == b"\x89PNG\r\n\x1a\n"
    body = {"model": "fusion", "n": 8, "seed": 5, "class": "dress", "color": "#c0392b"}
    expected = TestClient(create_app(load_models(served_runs))).post("/v1/generate", json=body)
    assert shown == expected.content  # the same request, the same PNG (size included)
    assert errors == []


def test_the_page_offers_group_and_style_for_an_emoji_run(emoji_run):
    pytest.importorskip("playwright", reason="Playwright for Python is not installed")
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed (apt-get install -y chromium chromium-driver)")
    from fastapi.testclient import TestClient

    from knowgen.serve.app import create_app, load_models

    with serving([emoji_run]) as url:
        shown, errors = use_page(url, "emoji", "Food & Drink", style="twitter")
    body = {"model": "emoji", "n": 8, "seed": 5, "class": "Food & Drink", "style": "twitter"}
    expected = TestClient(create_app(load_models([emoji_run]))).post("/v1/generate", json=body)
    assert shown == expected.content  # the page sent the group and the style it offered
    assert errors == []


if __name__ == "__main__":
    args = sys.argv[1:]
    target = Path(args[args.index("--screenshot") + 1])
    sources = [Path(a) for a in args if not a.startswith("--") and Path(a) != target]
    with serving(sources) as address:
        _, problems = use_page(address, sources[0].name, "dress", screenshot=target)
    print(f"wrote {target}; console errors: {problems}")
