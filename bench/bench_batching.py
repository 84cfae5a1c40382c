"""Continuous batching vs batch size 1, same server code and model, side by side.

    .venv/bin/python bench/bench_batching.py [--model-dir DIR] [--requests 16] [--new-tokens 128] [--rounds 5]

1. Throughput: N concurrent streaming requests of M new tokens, once on a server with
   continuous batching and once with `--max-batch-size 1`; prints aggregate tokens/s
   and their ratio (target >= 4x). Both servers stay up and are measured in turn,
   round after round; a round's ratio compares two runs a minute apart at most, and
   the median over rounds is the figure, so a burst of load elsewhere on a shared
   machine moves one round, not the result.
2. Latency under load: time to first token of a request sent while a long batch is
   decoding, against its time to first token on an idle server (target <= 2x).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import requests

from llm_twin.protocol.sse import iter_sse_data
from llm_twin_local.model_server.checkpoint import create_sized_checkpoint

PROMPT = "Write a short story about a robot who learns to paint, in plain English, please."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(model_dir: Path, *args: str):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llm_twin_local.model_server",
            "--model-dir",
            str(model_dir),
            "--port",
            str(port),
        ]
        + ["--log-level", "warning", *args],
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(url + "/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("server did not start")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(30)


def stream(url: str, new_tokens: int, prompt: str = PROMPT) -> tuple[float, float, int]:
    """(time to first token, total time, tokens) of one streaming request."""
    payload = {"inputs": prompt, "parameters": {"max_new_tokens": new_tokens}}
    start = time.monotonic()
    first = None
    tokens = 0
    with requests.post(url + "/generate_stream", json=payload, stream=True, timeout=600) as response:
        for data in iter_sse_data(response.iter_content(chunk_size=None)):
            event = json.loads(data)
            if "error" in event:
                raise RuntimeError(event["error"])
            tokens += 1
            if first is None:
                first = time.monotonic() - start
    return first or 0.0, time.monotonic() - start, tokens


def concurrent(url: str, count: int, new_tokens: int) -> tuple[float, int]:
    """Wall time and tokens of `count` simultaneous streams."""
    results: list[tuple[float, float, int]] = []
    threads = [threading.Thread(target=lambda: results.append(stream(url, new_tokens))) for _ in range(count)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - start, sum(r[2] for r in results)


def throughput(url: str, count: int, new_tokens: int) -> float:
    stream(url, 4)  # warm-up
    wall, tokens = concurrent(url, count, new_tokens)
    return tokens / wall


def ttft_under_load(url: str, count: int, new_tokens: int) -> tuple[float, float]:
    idle = statistics.median(stream(url, 1)[0] for _ in range(5))
    background = [threading.Thread(target=stream, args=(url, new_tokens * 4)) for _ in range(count)]
    for thread in background:
        thread.start()
    time.sleep(2.0)  # every background request is admitted and decoding
    loaded = statistics.median(stream(url, 1)[0] for _ in range(5))
    for thread in background:
        thread.join()
    return idle, loaded


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, help="defaults to a fresh 'bench' test checkpoint")
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument(
        "--rounds", type=int, default=5, help="interleaved measurements; the median ratio is kept"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        model_dir = args.model_dir or create_sized_checkpoint(Path(scratch) / "bench", "bench")
        weights = sum(p.stat().st_size for p in model_dir.glob("*.safetensors")) / 1e6
        print(f"model: {model_dir} ({weights:.0f} MB float32), {args.requests} x {args.new_tokens} tokens")

        with (
            running_server(model_dir, "--max-batch-size", "32") as batching_url,
            running_server(model_dir, "--max-batch-size", "1") as single_url,
        ):
            batched: list[float] = []
            single: list[float] = []
            for round_number in range(1, args.rounds + 1):
                # Alternate which server goes first, so a trend in the load favours neither.
                order = [(batching_url, batched), (single_url, single)]
                for url, results in order if round_number % 2 else reversed(order):
                    results.append(throughput(url, args.requests, args.new_tokens))
                print(
                    f"round {round_number}: {batched[-1]:7.1f} vs {single[-1]:6.1f} tokens/s"
                    f"  ratio {batched[-1] / single[-1]:5.2f}x"
                )
            idle, loaded = ttft_under_load(batching_url, args.requests, args.new_tokens)

    ratios = [b / s for b, s in zip(batched, single, strict=True)]
    print(f"continuous batching : {statistics.median(batched):8.1f} tokens/s (median of {args.rounds})")
    print(f"batch size 1        : {statistics.median(single):8.1f} tokens/s (median of {args.rounds})")
    print(
        f"throughput ratio    : {statistics.median(ratios):8.2f}x  median per-round ratio, "
        f"range {min(ratios):.2f}-{max(ratios):.2f}x  (target >= 4x)"
    )
    print(f"TTFT idle           : {idle * 1000:8.1f} ms")
    print(f"TTFT under load     : {loaded * 1000:8.1f} ms  ({args.requests} long streams decoding)")
    print(f"TTFT ratio          : {loaded / idle:8.2f}x  (target <= 2x)")


if __name__ == "__main__":
    main()
