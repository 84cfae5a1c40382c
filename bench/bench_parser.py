"""Time our stream parsers against sagemaker-core's `LineIterator` + `json.loads`.

Two formats, one table each, in one run: TGI's `generate_stream` (`parse_generate_stream`)
and vLLM's completion stream (`text_completion` chunks as vLLM's pydantic writes them, a
usage chunk and `[DONE]`; `parse_completion_stream`). For each, both sides read the same
stream (100k tokens by default) cut into the same random PayloadPart sizes (fixed seed). LineIterator iterates botocore-style
`{"PayloadPart": {"Bytes": ...}}` dicts, built before timing starts; the baseline strips
`data:` and skips blank lines before `json.loads`, so it does no more JSON work than we do.
Our parser is timed twice: on the raw parts, and on the same dicts through `payload_parts`
(the whole path from `response["Body"]`).

Each repeat times the baseline and ours back to back, alternating which goes first; the
reported speed-up is the median of those paired ratios, which a noisy machine moves far
less than a ratio of two independent best times.

    .venv/bin/python bench/bench_parser.py [--tokens N] [--repeats N] [--max-part BYTES ...]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from functools import partial

from sagemaker.core.iterators import LineIterator

from llm_twin.client.stream.sagemaker import payload_parts
from llm_twin.client.stream.tgi import TokenEvent, parse_generate_stream
from llm_twin.client.stream.vllm import parse_completion_stream

# Realistic token texts: leading spaces, punctuation, JSON escapes, multi-byte UTF-8.
TOKEN_TEXTS = [" the", " of", " and", " model", "ing", ",", ".", "\n", " 日本", " héllo", " 🙂", ' "q"', "\\"]


def recorded_stream(tokens: int, seed: int) -> bytes:
    """TGI `generate_stream` bytes as serde_json writes them; the last event has details."""
    rng = random.Random(seed)
    events = []
    texts = []
    for index in range(1, tokens + 1):
        text = rng.choice(TOKEN_TEXTS)
        texts.append(text)
        last = index == tokens
        event = {
            "index": index,
            "token": {"id": rng.randrange(32000), "text": text, "logprob": -rng.random(), "special": False},
            "generated_text": "".join(texts) if last else None,
            "details": {"finish_reason": "length", "generated_tokens": tokens, "seed": None}
            if last
            else None,
        }
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        events.append(f"data:{body}\n\n".encode())
    return b"".join(events)


def vllm_stream(tokens: int, seed: int) -> bytes:
    """vLLM's completion stream bytes: one `text_completion` chunk per token (pydantic's compact
    JSON, raw UTF-8, `data: ` with a space), the finishing chunk, the usage chunk, `[DONE]`."""
    rng = random.Random(seed)
    events = []
    for index in range(1, tokens + 1):
        last = index == tokens
        chunk = {
            "id": "cmpl-5d3c0a6e2b1f4f0b9a8e7c6d5b4a3f21",
            "object": "text_completion",
            "created": 1764538800,
            "model": "mlabonne/TwinLlama-3.1-8B-DPO",
            "choices": [
                {
                    "index": 0,
                    "text": rng.choice(TOKEN_TEXTS),
                    "logprobs": None,
                    "finish_reason": "length" if last else None,
                    "stop_reason": None,
                }
            ],
            "usage": None,
        }
        events.append(f"data: {json.dumps(chunk, ensure_ascii=False, separators=(',', ':'))}\n\n".encode())
    usage = {"prompt_tokens": 7, "total_tokens": 7 + tokens, "completion_tokens": tokens}
    closing = {
        "id": "cmpl-5d3c0a6e2b1f4f0b9a8e7c6d5b4a3f21",
        "object": "text_completion",
        "created": 1764538800,
        "model": "mlabonne/TwinLlama-3.1-8B-DPO",
        "choices": [],
        "usage": usage,
    }
    events.append(f"data: {json.dumps(closing, separators=(',', ':'))}\n\ndata: [DONE]\n\n".encode())
    return b"".join(events)


def random_parts(stream: bytes, max_part: int, seed: int) -> list[bytes]:
    """Cut `stream` into parts of 1 to `max_part` bytes, as SageMaker's PayloadParts may be."""
    rng = random.Random(seed)
    parts = []
    start = 0
    while start < len(stream):
        size = rng.randint(1, max_part)
        parts.append(stream[start : start + size])
        start += size
    return parts


Parser = Callable[[Iterable[bytes]], Iterator[TokenEvent]]


def line_iterator_texts(events: list[dict[str, dict[str, bytes]]]) -> list[str]:
    texts = []
    loads = json.loads
    for line in LineIterator(events):
        if line.startswith(b"data:"):
            data = line[5:].strip()
            if data == b"[DONE]":
                break
            event = loads(data)
            if "token" in event:
                texts.append(event["token"]["text"])
            elif event["choices"]:
                texts.append(event["choices"][0]["text"])
    return texts


def our_texts(parse: Parser, parts: list[bytes]) -> list[str]:
    return [event.token.text for event in parse(parts)]


def run_line_iterator(events: list[dict[str, dict[str, bytes]]]) -> None:
    # The baseline does the least a correct reader must: strip `data:`, stop at [DONE], json.loads.
    loads = json.loads
    for line in LineIterator(events):
        if line.startswith(b"data:"):
            data = line[5:]
            if data.strip() == b"[DONE]":
                break
            loads(data)


def run_ours(parse: Parser, parts: list[bytes]) -> None:
    for _event in parse(parts):
        pass


def run_ours_from_body(parse: Parser, events: list[dict[str, dict[str, bytes]]]) -> None:
    for _event in parse(payload_parts(events)):
        pass


def timed(run: Callable[[], None]) -> float:
    gc.collect()
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def compare(
    baseline: Callable[[], None], ours: Callable[[], None], repeats: int
) -> tuple[float, float, float]:
    """Best baseline time, best time of ours, median of the paired baseline/ours ratios."""
    baseline_times, our_times, ratios = [], [], []
    for repeat in range(repeats):
        if repeat % 2:
            ours_time, baseline_time = timed(ours), timed(baseline)
        else:
            baseline_time, ours_time = timed(baseline), timed(ours)
        baseline_times.append(baseline_time)
        our_times.append(ours_time)
        ratios.append(baseline_time / ours_time)
    return min(baseline_times), min(our_times), statistics.median(ratios)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tokens", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--max-part",
        type=int,
        nargs="+",
        default=[300, 64, 4096],
        help="largest PayloadPart in bytes; one row per value (default: 300 64 4096)",
    )
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args(argv)

    print(
        f"{args.tokens} tokens, seed {args.seed}, {args.repeats} paired repeats; Python {sys.version.split()[0]}"
    )
    formats: list[tuple[str, bytes, Parser]] = [
        ("TGI generate_stream", recorded_stream(args.tokens, args.seed), parse_generate_stream),
        ("vLLM text_completion", vllm_stream(args.tokens, args.seed), parse_completion_stream),
    ]
    for name, stream, parse in formats:
        print(f"\n{name}: {len(stream)} bytes ({len(stream) / args.tokens:.0f} per event)")
        print(
            f"{'parts':>22} | {'LineIterator+json':>17} | {'ours (parts)':>12} | {'speed-up':>8} "
            f"| {'ours (Body)':>11} | {'speed-up':>8}"
        )
        for max_part in args.max_part:
            parts = random_parts(stream, max_part, args.seed)
            events = [{"PayloadPart": {"Bytes": part}} for part in parts]
            if our_texts(parse, parts) != line_iterator_texts(events):
                print(f"{name}, parts of 1-{max_part} bytes: the parsers disagree", file=sys.stderr)
                return 1
            baseline_run = partial(run_line_iterator, events)
            baseline, ours, ratio = compare(baseline_run, partial(run_ours, parse, parts), args.repeats)
            _, ours_body, ratio_body = compare(
                baseline_run, partial(run_ours_from_body, parse, events), args.repeats
            )
            label = f"{len(parts)} of 1-{max_part} B"
            print(
                f"{label:>22} | {baseline:>15.3f} s | {ours:>10.3f} s | {ratio:>7.2f}x "
                f"| {ours_body:>9.3f} s | {ratio_body:>7.2f}x"
            )
    print("\ntimes: best of the repeats; speed-up: median of paired ratios (baseline time / our time)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
