"""Loopback load test of `knowgen serve`: requests of n=16 at 1, 4 and 16 concurrent clients for
a dcgan and a fusion model; prints p50/p95 latency, requests/s and errors.

    python benchmarks/serve.py [--requests 80] [--seconds 30] [--write-docs]

The models have the shipped presets' architectures (dcgan: 1x28x28; fusion: sagan with class,
colour and structure, 3x28x28), trained for a few steps only: latency depends on the network's
size, not on what it learned. The server runs in its own process (`knowgen serve`), as a user
would start it; clients are threads with keep-alive connections.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import describe_machine, write_section  # noqa: E402

MODELS = {
    "dcgan": ("dcgan", {}),
    "fusion": ("fusion", {"class": "dress", "color": "#c0392b"}),
}
CONCURRENCY = (1, 4, 16)


def prepare(folder: Path) -> list[Path]:
    """A few-step run of each preset (real data, the preset's network)."""
    runs = []
    for name, (preset, _) in MODELS.items():
        run = folder / name
        command = [sys.executable, "-m", "knowgen", "train", "--preset", preset, "--out", str(run),
                   "--steps", "2", "--set", "train.checkpoint_every=2"]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True)
        runs.append(run)
    return runs


def load(url: str, model: str, knowledge: dict, clients: int, total: int, seconds: float) -> dict:
    """`total` requests (or `seconds`, whichever ends first) from `clients` threads."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    issued = [0]
    deadline = time.perf_counter() + seconds
    body = {"model": model, "n": 16, "seed": 0} | knowledge

    def client() -> None:
        with httpx.Client(timeout=60) as session:
            while time.perf_counter() < deadline:
                with lock:
                    if issued[0] >= total:
                        return
                    issued[0] += 1
                    seed = issued[0]
                start = time.perf_counter()
                response = session.post(f"{url}/v1/generate", json=body | {"seed": seed})
                took = time.perf_counter() - start
                with lock:
                    if response.status_code != 200:
                        errors[0] += 1
                    latencies.append(took)

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return {"model": model, "clients": clients, "requests": len(latencies),
            "p50_ms": 1000 * statistics.median(ordered), "p95_ms": 1000 * p95,
            "requests_per_s": len(latencies) / wall, "errors": errors[0]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=80, help="per model and concurrency")
    parser.add_argument("--seconds", type=float, default=30.0, help="per model and concurrency")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    print(describe_machine(), flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        runs = prepare(Path(folder))
        server = subprocess.Popen(
            [sys.executable, "-m", "knowgen", "serve", *map(str, runs), "--port", str(args.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        url = f"http://127.0.0.1:{args.port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            for model, (_, knowledge) in MODELS.items():
                load(url, model, knowledge, 1, 5, 10)  # warm-up
                for clients in CONCURRENCY:
                    row = load(url, model, knowledge, clients, args.requests, args.seconds)
                    rows.append(row)
                    print(row, flush=True)
        finally:
            server.terminate()
            server.wait(timeout=10)
    lines = ["| model | clients | requests | p50 ms | p95 ms | requests/s | errors |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for r in rows:
        cells = [r["model"], r["clients"], r["requests"], f"{r['p50_ms']:.0f}",
                 f"{r['p95_ms']:.0f}", f"{r['requests_per_s']:.1f}", r["errors"]]  # fmt: skip
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    table = "\n".join(lines)
    print(table)
    dcgan4 = next(r for r in rows if r["model"] == "dcgan" and r["clients"] == 4)
    verdict = "met" if dcgan4["p95_ms"] <= 150 else "MISSED"
    print(f"target p95 <= 150 ms for dcgan at 4 clients: {dcgan4['p95_ms']:.0f} ms ({verdict})")
    if args.write_docs:
        body = (f"`python benchmarks/serve.py --requests {args.requests}` on {describe_machine()}"
                " (server and clients on the same 2 cores; n=16 images per request, PNG grid):\n\n"
                f"{table}\n\nTarget p95 <= 150 ms at 4 clients (dcgan): "
                f"{dcgan4['p95_ms']:.0f} ms, {verdict}.\n")  # fmt: skip
        write_section("docs/benchmarks.md", "Serving", body)


if __name__ == "__main__":
    main()
