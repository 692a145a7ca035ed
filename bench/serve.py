"""A bounded load test of ``rnnkit serve`` on loopback, with and without batching, in one run.

The server runs as a real process (``rnnkit serve MODEL --port P``, then ``--max-batch 1`` for the
run without batching); ``--clients`` threads, each with its own keep-alive connection, send
KServe v1 requests of 1 to 8 IMDB reviews (``../shared/data/imdb/train.csv.gz``, seeded) until
``--requests`` are answered, or for ``--seconds`` with single reviews (the bar's 60 s run). Reported:
requests and reviews per second, latency p50/p99, and every non-200 answer (there should be none).
The clients share the two cores with the server, so the figures are a floor.

    .venv/bin/python bench/serve.py MODEL [--requests 20000] [--clients 32] [--seconds 60]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import http.client
import json
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "imdb" / "train.csv.gz"


def reviews(count: int = 2000, seed: int = 0) -> list[str]:
    with gzip.open(DATA, "rt", encoding="utf-8", newline="") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    return random.Random(seed).sample(texts, count)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(model: str, port: int, *options: str) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "rnnkit", "serve", model, "--port", str(port), *options],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as response:
                if response.status == 200:
                    return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not become ready")


def load(
    port: int, name: str, texts: list[str], clients: int, requests: int | None, seconds: float | None, single: bool
):
    """(latencies, statuses, reviews sent, wall seconds)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    sent = [0]
    lock = threading.Lock()
    remaining = [requests or 0]
    deadline = time.perf_counter() + (seconds or 0)

    def client(k: int) -> None:
        rng = random.Random(k)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if requests is not None:
                    if remaining[0] <= 0:
                        break
                    remaining[0] -= 1
                elif time.perf_counter() >= deadline:
                    break
            batch = [rng.choice(texts) for _ in range(1 if single else rng.randint(1, 8))]
            body = json.dumps({"instances": batch})
            started = time.perf_counter()
            try:
                connection.request("POST", f"/v1/models/{name}:predict", body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                status = response.status
            except OSError:
                status = -1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            took = time.perf_counter() - started
            with lock:
                latencies.append(took)
                statuses[status] = statuses.get(status, 0) + 1
                sent[0] += len(batch)
        connection.close()

    began = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return np.array(latencies), statuses, sent[0], time.perf_counter() - began


def report(label: str, latencies: np.ndarray, statuses: dict, sent: int, wall: float) -> None:
    errors = sum(n for s, n in statuses.items() if s != 200)
    print(
        f"{label:<34}{len(latencies):>8}{len(latencies) / wall:>9.1f}{sent / wall:>10.1f}"
        f"{np.percentile(latencies, 50) * 1000:>9.0f}{np.percentile(latencies, 99) * 1000:>9.0f}{errors:>8}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help="a text classifier bundle (e.g. trained on imdb)")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0, help="the single-review run's length")
    args = parser.parse_args()
    name = Path(args.model).resolve().name
    texts = reviews()
    print(f"{args.clients} clients; requests of 1-8 IMDB reviews (and a {args.seconds:g} s run of single reviews)")
    print(f"{'run':<34}{'requests':>8}{'req/s':>9}{'reviews/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for label, options in (("batching (--max-batch 64)", ()), ("no batching (--max-batch 1)", ("--max-batch", "1"))):
        port = free_port()
        server = start(args.model, port, *options)
        try:
            report(f"{label}, 1-8 reviews", *load(port, name, texts, args.clients, args.requests, None, False))
            report(f"{label}, 1 review", *load(port, name, texts, args.clients, None, args.seconds, True))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
