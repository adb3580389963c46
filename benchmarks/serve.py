"""Loopback load test of `knowgen serve`: mixed requests from 16 clients, then overload.

    python benchmarks/serve.py [--requests 10000] [--clients 16] [--write-docs]

1. Mixed load: `--clients` concurrent clients send `--requests` requests in all, of mixed kinds:
   16-image class requests (`cgan`), text (`text`), colour with a class (`fusion`) and bad ones
   (an unknown class or colour, an unknown model, broken JSON, too many images). Throughput,
   p50/p95/p99 per kind and the count of 5xx answers (none is expected: the queue holds 16).
2. Overload: `--overload-clients` clients (more than the queue's 32 places) for
   `--overload-seconds`, each sending again as soon as it is answered (ignoring Retry-After, the
   worst case): the 503s with their Retry-After, the latency of the requests still served, and
   the server's resident memory sampled throughout (bounded, not growing).

The models have the shipped presets' architectures (cgan, text: sagan 1x28x28; fusion: sagan
with class, colour and structure, 3x28x28), trained for two steps: latency depends on the
network's size, not on what it learned. The server runs in its own process (`knowgen serve`) as
a user would start it; clients are threads with keep-alive connections, on the same 2 cores.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import describe_machine, write_section  # noqa: E402

PRESETS = ("cgan", "text", "fusion")
CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
           "ankle-boot"]  # fmt: skip
PROMPTS = ["a warm winter coat", "running shoes", "a leather handbag", "a summer dress",
           "loose trousers", "a knitted jumper"]  # fmt: skip
COLOURS = ["#c0392b", "#2980b9", "#27ae60", "yellow", "magenta"]
# (kind, share of the requests); the bad ones rotate through BAD
MIX = [("class", 0.60), ("text", 0.15), ("colour", 0.15), ("bad", 0.10)]
BAD = [
    ({"model": "cgan", "class": "unicorn"}, 400),
    ({"model": "fusion", "color": "not-a-colour"}, 400),
    ({"model": "nowhere"}, 404),
    ("{broken json", 422),
    ({"model": "cgan", "n": 100000}, 422),
]
P99_TARGET_MS = 150.0


def prepare(folder: Path) -> list[Path]:
    """A two-step run of each preset (real data, the preset's network)."""
    runs = []
    for preset in PRESETS:
        run = folder / preset
        command = [sys.executable, "-m", "knowgen", "train", "--preset", preset, "--out", str(run),
                   "--steps", "2", "--set", "train.checkpoint_every=2"]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True)
        runs.append(run)
    return runs


def request_for(index: int) -> tuple[str, dict | str, int]:
    """The `index`-th request of the mix: (kind, JSON body or raw text, the status expected)."""
    position = (index * 0.618034) % 1.0  # an even, deterministic spread of the kinds
    kind = next(k for k, edge in zip([k for k, _ in MIX], itertools.accumulate(s for _, s in MIX),
                                     strict=True) if position < edge)  # fmt: skip
    seed = index
    if kind == "class":
        return kind, {"model": "cgan", "n": 16, "seed": seed, "class": CLASSES[index % 10]}, 200
    if kind == "text":
        return kind, {"model": "text", "n": 16, "seed": seed, "text": PROMPTS[index % 6]}, 200
    if kind == "colour":
        body = {"model": "fusion", "n": 16, "seed": seed, "color": COLOURS[index % 5],
                "class": CLASSES[index % 10]}  # fmt: skip
        return kind, body, 200
    body, status = BAD[index % len(BAD)]
    return kind, body, status


def send(session: httpx.Client, url: str, body: dict | str) -> httpx.Response:
    if isinstance(body, str):
        return session.post(f"{url}/v1/generate", content=body,
                            headers={"content-type": "application/json"})  # fmt: skip
    return session.post(f"{url}/v1/generate", json=body)


def mixed_load(url: str, clients: int, total: int) -> dict:
    """`total` requests of the mix from `clients` threads; latencies and statuses per kind."""
    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: Counter = Counter()
    unexpected: Counter = Counter()
    lock, counter = threading.Lock(), itertools.count()

    def client() -> None:
        with httpx.Client(timeout=60) as session:
            while (index := next(counter)) < total:
                kind, body, expected = request_for(index)
                start = time.perf_counter()
                response = send(session, url, body)
                took = time.perf_counter() - start
                with lock:
                    latencies[kind].append(took)
                    statuses[response.status_code] += 1
                    if response.status_code != expected:
                        unexpected[(kind, response.status_code)] += 1

    start = time.perf_counter()
    run_threads(client, clients)
    wall = time.perf_counter() - start
    return {"latencies": latencies, "statuses": statuses, "unexpected": unexpected,
            "wall_s": wall, "requests": sum(statuses.values())}  # fmt: skip


def overload(url: str, clients: int, seconds: float, server_pid: int) -> dict:
    """`clients` threads sending class requests back to back for `seconds`; the server's RSS
    sampled every 0.2 s."""
    statuses: Counter = Counter()
    retry_after: list[int] = []
    served: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    rss: list[int] = [resident_kb(server_pid)]
    done = threading.Event()

    def sample_memory() -> None:
        while not done.wait(0.2):
            rss.append(resident_kb(server_pid))

    def client() -> None:
        with httpx.Client(timeout=120) as session:
            index = 0
            while time.perf_counter() < deadline:
                index += 1
                body = {"model": "cgan", "n": 16, "seed": index, "class": CLASSES[index % 10]}
                start = time.perf_counter()
                response = send(session, url, body)
                took = time.perf_counter() - start
                with lock:
                    statuses[response.status_code] += 1
                    if response.status_code == 200:
                        served.append(took)
                    if response.status_code == 503 and "retry-after" in response.headers:
                        retry_after.append(int(response.headers["retry-after"]))

    sampler = threading.Thread(target=sample_memory)
    sampler.start()
    run_threads(client, clients)
    done.set()
    sampler.join()
    return {"statuses": statuses, "retry_after": retry_after, "rss_kb": rss, "served": served}


def run_threads(target, count: int) -> None:
    threads = [threading.Thread(target=target) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def resident_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def report(mixed: dict, over: dict, clients: int, overload_clients: int) -> tuple[str, bool]:
    lines = ["| kind | requests | p50 ms | p95 ms | p99 ms |",
             "| --- | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for kind, _ in MIX:
        values = mixed["latencies"][kind]
        quantiles = [f"{1000 * percentile(values, q):.0f}" for q in (0.5, 0.95, 0.99)]
        lines.append("| " + " | ".join(map(str, [kind, len(values), *quantiles])) + " |")
    server_errors = sum(n for status, n in mixed["statuses"].items() if status >= 500)
    p99 = 1000 * percentile(mixed["latencies"]["class"], 0.99)
    met = server_errors == 0 and p99 <= P99_TARGET_MS
    over_5xx = sum(n for status, n in over["statuses"].items() if status >= 500 and status != 503)
    rss, server_cpu = over["rss_kb"], mixed["server_cpu_s"]
    lines += [
        "",
        f"Mixed load: {mixed['requests']} requests from {clients} clients in "
        f"{mixed['wall_s']:.1f} s = {mixed['requests'] / mixed['wall_s']:.1f} requests/s; "
        f"statuses {dict(sorted(mixed['statuses'].items()))}; 5xx: {server_errors}; answers "
        f"other than expected: {dict(mixed['unexpected']) or 'none'}. The server used "
        f"{server_cpu:.0f} CPU seconds of the {os.cpu_count() * mixed['wall_s']:.0f} the cores "
        f"had ({1000 * server_cpu / mixed['requests']:.1f} ms per request); the clients, on the "
        "same cores, the rest.",
        f"Target: p99 <= {P99_TARGET_MS:.0f} ms for 16-image class requests at {clients} clients "
        f"and no 5xx: p99 {p99:.0f} ms, {server_errors} 5xx: "
        f"{'met' if met else 'NOT met'}.",
        f"Overload ({overload_clients} clients, queue of 32): statuses "
        f"{dict(sorted(over['statuses'].items()))}; 5xx other than 503: {over_5xx}; Retry-After "
        f"{min(over['retry_after'], default=0)}-{max(over['retry_after'], default=0)} s; the "
        f"requests served took p50 {1000 * percentile(over['served'], 0.5):.0f} ms, p99 "
        f"{1000 * percentile(over['served'], 0.99):.0f} ms (the queue bounds the wait); server "
        f"memory {rss[0] / 1024:.0f} MB before, at most {max(rss) / 1024:.0f} MB during, "
        f"{rss[-1] / 1024:.0f} MB at the end ({len(rss)} samples).",
    ]
    return "\n".join(lines), met


def wait_until_up(url: str) -> None:
    for _ in range(600):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--overload-clients", type=int, default=96)
    parser.add_argument("--overload-seconds", type=float, default=30.0)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    machine = describe_machine()
    print(machine, flush=True)
    with tempfile.TemporaryDirectory() as folder:
        runs = prepare(Path(folder))
        server = subprocess.Popen(
            [sys.executable, "-m", "knowgen", "serve", *map(str, runs), "--port", str(args.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        url = f"http://127.0.0.1:{args.port}"
        try:
            wait_until_up(url)
            mixed_load(url, 4, 60)  # warm-up: every model and kind once or more
            before = cpu_seconds(server.pid)
            mixed = mixed_load(url, args.clients, args.requests)
            mixed["server_cpu_s"] = cpu_seconds(server.pid) - before
            over = overload(url, args.overload_clients, args.overload_seconds, server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    table, met = report(mixed, over, args.clients, args.overload_clients)
    print(table)
    print(json.dumps({"p99_class_ms": 1000 * percentile(mixed["latencies"]["class"], 0.99),
                      "met": met}))  # fmt: skip
    if args.write_docs:
        body = (f"`python benchmarks/serve.py --requests {args.requests} --clients {args.clients}`"
                f" on {machine} (server and clients on the same 2 cores; n=16 images per "
                f"request, PNG grid):\n\n{table}\n")  # fmt: skip
        write_section("docs/benchmarks.md", "Serving", body)


if __name__ == "__main__":
    main()
