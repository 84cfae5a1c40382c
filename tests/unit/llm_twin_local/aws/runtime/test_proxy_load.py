"""64 concurrent streaming clients against one local endpoint: every token, once, in order.

A correctness test under load, not a timing one: requests/s and time to first token are
measured by `bench/bench_load.py`. Real emulator, real model server, real boto3, all on
loopback. Each client samples with its own seed, so a token delivered to the wrong
client, lost, doubled or garbled shows up as a text that differs from the non-streaming
generation with that seed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from llm_twin.client.endpoint import GenerationResult, LLMInferenceSagemakerEndpoint, runtime_config
from llm_twin.client.stream import TokenEvent
from llm_twin_local.aws.daemon import LocalAws
from tests.conftest import client
from tests.support.runtime import children, deploy, running_emulator, wait_status

pytestmark = pytest.mark.stack

CLIENTS = 64
NEW_TOKENS = 12
PROMPT = "Write a haiku about the cloud"
MEMORY_SLACK_BYTES = 32 * 1024 * 1024
"""How far above its idle baseline a process may stay once the load is over (allocator noise)."""
MEMORY_SETTLE_SECONDS = 15.0


def _parameters(seed: int) -> dict:
    return {"max_new_tokens": NEW_TOKENS, "do_sample": True, "temperature": 1.0, "top_p": None, "seed": seed}


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Iterator[LocalAws]:
    """An emulator of its own (not the package's shared one), serving endpoint "e" only."""
    with running_emulator(tmp_path_factory.mktemp("runtime")) as emulator:
        sagemaker = client(emulator.port, "sagemaker")
        deploy(sagemaker, "e", tiny_model)
        wait_status(sagemaker, "e", "InService", timeout=120)
        yield emulator


def _runtime(port: int):
    """One boto3 client for every thread (they are thread-safe), with a connection for each."""
    session = boto3.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="eu-central-1"
    )
    config = runtime_config(read_timeout=60).merge(Config(max_pool_connections=CLIENTS))
    return session.client("sagemaker-runtime", endpoint_url=f"http://127.0.0.1:{port}", config=config)


def _all_at_once(work: Callable[[int], object]) -> tuple[dict[int, object], dict[int, BaseException]]:
    """`work(i)` for every client, started together on a barrier; results and errors by client."""
    results: dict[int, object] = {}
    errors: dict[int, BaseException] = {}
    barrier = threading.Barrier(CLIENTS)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except BaseException as exc:  # noqa: BLE001 - every failure is reported by the test
            errors[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results, errors


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


@pytest.mark.timeout(120, func_only=True)
def test_64_streaming_clients_each_get_exactly_their_seeded_generation(endpoint: LocalAws) -> None:
    emulator_pid = endpoint.status().pid
    assert emulator_pid is not None
    (server_pid,) = children(emulator_pid)
    runtime = _runtime(endpoint.port)

    def generate(seed: int) -> str:
        sdk = LLMInferenceSagemakerEndpoint("e", runtime)
        sdk.set_payload(PROMPT, _parameters(seed))
        return sdk.inference()

    def stream(seed: int) -> list[TokenEvent | GenerationResult]:
        sdk = LLMInferenceSagemakerEndpoint("e", runtime)
        sdk.set_payload(PROMPT, _parameters(seed))
        return list(sdk.stream())

    # Warm both paths up once, so the baseline holds what an idle, used server holds.
    generate(0)
    stream(0)
    idle = {"model server": _rss(server_pid), "emulator": _rss(emulator_pid)}

    expected, failed = _all_at_once(generate)
    assert not failed, failed
    streamed, failed = _all_at_once(stream)
    assert not failed, {seed: repr(error) for seed, error in failed.items()}

    assert sorted(streamed) == list(range(CLIENTS))
    for seed, events in streamed.items():
        *tokens, result = events
        assert isinstance(result, GenerationResult)
        assert [event.index for event in tokens] == list(range(1, len(tokens) + 1)), seed  # type: ignore[union-attr]
        assert len(tokens) == result.generated_tokens == NEW_TOKENS, seed
        text = "".join(event.token.text for event in tokens if not event.token.special)  # type: ignore[union-attr]
        assert text == result.text == expected[seed], seed
    assert len(set(expected.values())) > CLIENTS // 2  # the seeds do differ, so a mix-up would show

    deadline = time.monotonic() + MEMORY_SETTLE_SECONDS
    while True:
        now = {"model server": _rss(server_pid), "emulator": _rss(emulator_pid)}
        if all(now[name] <= idle[name] + MEMORY_SLACK_BYTES for name in idle):
            break
        if time.monotonic() > deadline:
            grown = {name: f"{idle[name] / 1e6:.0f} -> {now[name] / 1e6:.0f} MB" for name in idle}
            raise AssertionError(f"memory did not return to its idle baseline: {grown}")
        time.sleep(0.5)
