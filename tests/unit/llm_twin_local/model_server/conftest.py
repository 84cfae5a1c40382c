"""Real servers on free ports, with the tiny checkpoint, each for the whole session.

- `server`: the one most tests share (limits from flags over the environment);
- `busy_server`: one request at a time (MAX_CONCURRENT_REQUESTS=1), to be refused as overloaded;
- `failing_server`: every generation fails after its second token (LLM_TWIN_SERVER_FAULT);
- `vllm_server`, `failing_vllm_server`: the same in vLLM mode (`--api vllm`);
- `reference`: transformers' own greedy generate on the same checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.model_server import (
    BUSY_TOTAL_TOKENS,
    MAX_INPUT_TOKENS,
    MAX_TOTAL_TOKENS,
    VLLM_MAX_MODEL_LEN,
    VLLM_SERVED_NAME,
    Reference,
    Server,
    start_server,
    stop_server,
)


@pytest.fixture(scope="session")
def server(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log_path = tmp_path_factory.mktemp("server-log") / "server.log"
    running = start_server(
        tiny_model,
        log_path,
        "--max-total-tokens",
        str(MAX_TOTAL_TOKENS),
        # The flag must win over the environment variable.
        env={"MAX_INPUT_TOKENS": str(MAX_INPUT_TOKENS), "MAX_TOTAL_TOKENS": "64", "MAX_BATCH_SIZE": "16"},
    )
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def busy_server(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log_path = tmp_path_factory.mktemp("busy-server-log") / "server.log"
    running = start_server(
        tiny_model, log_path, "--max-concurrent-requests", "1", "--max-total-tokens", str(BUSY_TOTAL_TOKENS)
    )
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def failing_server(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log_path = tmp_path_factory.mktemp("failing-server-log") / "server.log"
    running = start_server(tiny_model, log_path, env={"LLM_TWIN_SERVER_FAULT": "generation@2"})
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def reference(tiny_model: Path) -> Reference:
    return Reference.load(tiny_model)


def _start_vllm(model_dir: Path, log_path: Path, env: dict[str, str] | None = None) -> Server:
    return start_server(
        model_dir,
        log_path,
        "--api",
        "vllm",
        "--served-model-name",
        VLLM_SERVED_NAME,
        "--max-model-len",
        str(VLLM_MAX_MODEL_LEN),
        "--max-num-seqs",
        "8",
        "--gpu-memory-utilization",
        "0.9",
        "--tensor-parallel-size",
        "1",
        env=env,
    )


@pytest.fixture(scope="session")
def vllm_server(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The tiny checkpoint behind the vLLM container's API (`--api vllm`)."""
    running = _start_vllm(tiny_model, tmp_path_factory.mktemp("vllm-server-log") / "server.log")
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def failing_vllm_server(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """vLLM mode, every generation failing after its second token (LLM_TWIN_SERVER_FAULT)."""
    log_path = tmp_path_factory.mktemp("failing-vllm-server-log") / "server.log"
    running = _start_vllm(tiny_model, log_path, {"LLM_TWIN_SERVER_FAULT": "generation@2"})
    yield running
    stop_server(running)
