"""The chat page in front of a vLLM endpoint, in a real browser (Debian's chromium, headless,
driven by Playwright): both of its modes work, on recorded vLLM streams replayed to boto3.

The endpoint's answers are the recordings of the project's vLLM-mode server
(`tests/fixtures/streams/vllm/`); the page learns the backend from /session and sends a
one-prompt generation to /v1/completions, a chat to /v1/chat/completions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from llm_twin.client.endpoint import LLMInferenceSagemakerEndpoint, runtime_config
from llm_twin.config import Secret
from llm_twin.gateway import EndpointHealth, GatewayConfig, create_app
from llm_twin.protocol.eventstream import payload_part
from tests.support.aws_answers import Answer, Replay
from tests.support.browser import launched_chromium
from tests.support.gateway import TOKEN, serving
from tests.support.streams import random_split, recorded

pytestmark = pytest.mark.timeout(120)


def streamed(name: str) -> Answer:
    parts = random_split(recorded(f"vllm/{name}"), 3)
    return Answer(
        200, b"".join(payload_part(p) for p in parts), {"Content-Type": "application/vnd.amazon.eventstream"}
    )


def texts(name: str, field: str) -> str:
    """The text a recorded stream carries, as the json module reads it (the referee)."""
    out = []
    for line in recorded(f"vllm/{name}").decode().splitlines():
        data = line.removeprefix("data: ")
        if line.startswith("data: ") and data != "[DONE]":
            for choice in json.loads(data).get("choices", []):
                out.append(choice["text"] if field == "text" else choice["delta"].get("content") or "")
    return "".join(out)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with launched_chromium() as launched:
        yield launched


@pytest.mark.parametrize(
    ("api", "recording", "field", "path_key"),
    [
        ("generate", "completion_stream.sse", "text", "prompt"),
        ("chat", "chat_stream.sse", "delta", "messages"),
    ],
)
def test_each_mode_of_the_page_streams_from_a_vllm_endpoint(
    browser: Any, api: str, recording: str, field: str, path_key: str
) -> None:
    runtime = Replay("sagemaker-runtime", [streamed(recording)], config=runtime_config())
    app = create_app(
        GatewayConfig(Secret(TOKEN), (), 65536, backend="vllm"),
        lambda: LLMInferenceSagemakerEndpoint("twin", runtime.client, backend="vllm"),
        lambda: EndpointHealth("twin", "InService"),
    )
    with serving(app) as served:
        page = browser.new_page()
        page.goto(f"{served.url}/")
        page.wait_for_function(
            "() => document.querySelector('#api option[value=generate]').textContent.includes('vLLM')",
            timeout=30_000,
        )
        page.fill("#token", TOKEN)
        page.select_option("#api", api)
        page.fill("#prompt", "The cloud")
        page.fill("#temperature", "0")
        page.click("#send")
        page.wait_for_selector('#status[data-state="done"]', timeout=60_000)
        shown = page.text_content("#output")
        page.close()

    assert shown == texts(recording, field)
    (body,) = runtime.bodies
    assert path_key in body and body["stream"] is True and body["temperature"] == 0
