"""A real model-server process on a free port (`python -m llm_twin_local.model_server`), for tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from llm_twin.protocol.sse import iter_sse_data
from llm_twin_local.aws.daemon import free_port
from tests.support.engine import generate

MAX_INPUT_TOKENS = 128
"""The limits of the session's `server` fixture (tests/unit/llm_twin_local/model_server/conftest.py)."""
MAX_TOTAL_TOKENS = 1024
VLLM_SERVED_NAME = "llm-twin/tiny"
"""`--served-model-name` of the vLLM-mode fixtures: what answers carry and requests may name."""
VLLM_MAX_MODEL_LEN = 256
"""`--max-model-len` of the vLLM-mode fixtures."""


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen

    def post(self, path: str, payload: object, **kwargs) -> requests.Response:
        return requests.post(self.url + path, json=payload, timeout=60, **kwargs)


def start_server(model_dir: Path, log_path: Path, *args: str, env: dict[str, str] | None = None) -> Server:
    """Start a server for `model_dir` with extra `args` and `env`; return once /health answers 200."""
    port = free_port()
    with log_path.open("wb") as log_file:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llm_twin_local.model_server",
                "--model-dir",
                str(model_dir),
                "--port",
                str(port),
                *args,
            ],
            env={**os.environ, **(env or {})},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if requests.get(url + "/health", timeout=1).status_code == 200:
                return Server(url, process)
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not become healthy:\n{log_path.read_text()}")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


BUSY_TOTAL_TOKENS = 2048
"""MAX_TOTAL_TOKENS of the `busy_server` fixture: room for a long holder."""
BLOCKER_TOKENS = 2000
"""A generation long enough (a few seconds on the tiny model) to hold a busy server's only slot."""


def in_flight(server: Server) -> int:
    """The server's `tgi_requests_in_flight` gauge: requests waiting or running."""
    metrics = requests.get(server.url + "/metrics", timeout=5).text
    return int(
        next(line for line in metrics.splitlines() if line.startswith("tgi_requests_in_flight ")).split()[1]
    )


def refused_while_busy(server: Server, call: Callable[[], object], attempts: int = 3) -> BaseException:
    """What `call` raises while another request holds the server's only slot (MAX_CONCURRENT_REQUESTS=1).

    The holder is a stream that has sent its first token; it runs a few seconds. A test
    process stalled that long on a busy machine sees the slot free again, which proves
    nothing, so the holder starts again (as test_disconnect_frees_the_slot does), once the
    previous one has left (a closed stream frees its slot at the next decode step).
    """
    payload = {"inputs": "Busy", "parameters": {"max_new_tokens": BLOCKER_TOKENS}}
    for _ in range(attempts):
        deadline = time.monotonic() + 10
        while in_flight(server) and time.monotonic() < deadline:
            time.sleep(0.05)
        with server.post("/generate_stream", payload, stream=True) as holder:
            # Kept referenced: a dropped iterator is closed at once, and with it the holder's connection.
            events = iter_sse_data(holder.iter_content(chunk_size=None))
            first = json.loads(next(events))
            assert "error" not in first, f"the holder itself was refused: {first}"
            try:
                call()
            except Exception as err:  # the refusal under test, in whatever class the client raises
                return err
            finally:
                events.close()
    raise AssertionError(f"`call` never failed while the slot was held ({attempts} attempts)")


@dataclass(frozen=True)
class Reference:
    """transformers' own greedy `generate` on the server's checkpoint: the referee of its texts."""

    model: Any
    tokenizer: Any

    @classmethod
    def load(cls, model_dir: Path) -> Reference:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        return cls(
            AutoModelForCausalLM.from_pretrained(model_dir).eval(), AutoTokenizer.from_pretrained(model_dir)
        )

    def ids(self, text: str) -> list[int]:
        """The prompt's ids as TGI encodes `inputs` (special tokens added)."""
        return list(self.tokenizer(text).input_ids)

    def chat_ids(self, messages: list[dict[str, str]]) -> list[int]:
        """The ids of the rendered chat template, encoded without adding special tokens (as TGI)."""
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return list(self.tokenizer(text, add_special_tokens=False).input_ids)

    def greedy(self, ids: list[int], max_new_tokens: int) -> list[int]:
        """The new token ids of `generate(do_sample=False)`, up to its end-of-sequence token."""
        new, _ = generate(self.model, ids, max_new_tokens, self.tokenizer.eos_token_id)
        return new

    def text(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))
