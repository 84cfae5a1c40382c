"""One real server on a free port, with the tiny checkpoint, for the whole session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.model_server import MAX_INPUT_TOKENS, MAX_TOTAL_TOKENS, Server, start_server, stop_server


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
