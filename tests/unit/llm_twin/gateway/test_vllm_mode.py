"""The gateway in front of a vLLM endpoint, over a real uvicorn, checked with the openai SDK.

The endpoint's answers are the recordings of the project's vLLM-mode server
(`tests/fixtures/streams/vllm/`), replayed to a real boto3 client (no network past it): the
OpenAI routes relay them as they are, TGI's generate routes are refused naming the backend.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest

from llm_twin.client.endpoint import LLMInferenceSagemakerEndpoint, runtime_config
from llm_twin.config import Secret
from llm_twin.gateway import EndpointHealth, GatewayConfig, create_app
from llm_twin.protocol.backends import Backend
from llm_twin.protocol.eventstream import payload_part
from tests.support.aws_answers import Answer, Replay, runtime_error
from tests.support.gateway import TOKEN, Gateway, serving, sse_data
from tests.support.streams import random_split, recorded

pytestmark = pytest.mark.timeout(60)


def vllm(name: str) -> bytes:
    return recorded(f"vllm/{name}")


def streamed(raw: bytes) -> Answer:
    parts = random_split(raw, 7)
    return Answer(
        200, b"".join(payload_part(p) for p in parts), {"Content-Type": "application/vnd.amazon.eventstream"}
    )


def answered(raw: bytes) -> Answer:
    return Answer(200, raw, {"Content-Type": "application/json"})


def refused(name: str) -> Answer:
    status = json.loads(vllm("statuses.json"))[name]
    body = {
        "Message": "Received client error",
        "OriginalMessage": vllm(name).decode(),
        "OriginalStatusCode": status,
    }
    return runtime_error(424, "ModelError", body)


def gateway(answers: list[Answer], backend: Backend = "vllm") -> tuple[Iterator[Gateway], Replay]:
    runtime = Replay("sagemaker-runtime", answers, config=runtime_config())
    app = create_app(
        GatewayConfig(Secret(TOKEN), (), 65536, backend=backend),
        lambda: LLMInferenceSagemakerEndpoint("twin", runtime.client, backend=backend),
        lambda: EndpointHealth("twin", "InService"),
    )
    return serving(app), runtime


def sdk(served: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{served.url}/v1", api_key=TOKEN, max_retries=0)


def chunk_texts(raw: bytes) -> list[str]:
    lines = [line.removeprefix("data: ") for line in raw.decode().splitlines() if line.startswith("data: ")]
    return [c["text"] for line in lines if line != "[DONE]" for c in json.loads(line).get("choices", [])]


def test_a_completion_stream_reaches_the_openai_sdk_as_vllm_wrote_it() -> None:
    body = {"model": "llm-twin/tiny", "prompt": "The cloud", "max_tokens": 12, "temperature": 0}
    serving_, runtime = gateway([streamed(vllm("completion_stream.sse"))])
    with serving_ as served:
        chunks = list(
            sdk(served).completions.create(**body, stream=True, stream_options={"include_usage": True})  # type: ignore[call-overload]
        )

    assert runtime.bodies == [{**body, "stream": True, "stream_options": {"include_usage": True}}]
    assert [c.choices[0].text for c in chunks if c.choices] == chunk_texts(vllm("completion_stream.sse"))
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 12


def test_a_chat_stream_and_a_whole_completion_through_the_sdk() -> None:
    serving_, runtime = gateway([streamed(vllm("chat_stream.sse")), answered(vllm("completion.json"))])
    with serving_ as served:
        client = sdk(served)
        messages = [{"role": "user", "content": "Hi"}]
        deltas = list(client.chat.completions.create(model="llm-twin/tiny", messages=messages, stream=True))  # type: ignore[arg-type]
        whole = client.completions.create(
            model="llm-twin/tiny", prompt="The cloud", max_tokens=12, temperature=0
        )

    assert deltas[0].choices[0].delta.role == "assistant"
    assert whole.choices[0].text == json.loads(vllm("completion.json"))["choices"][0]["text"]
    assert runtime.bodies[0] == {"model": "llm-twin/tiny", "messages": messages, "stream": True}  # as sent


@pytest.mark.parametrize("name", ["bad_request.json", "too_long.json"])
def test_vllms_refusal_is_relayed_with_its_status_and_words(name: str) -> None:
    serving_, _ = gateway([refused(name)])
    with serving_ as served, pytest.raises(openai.BadRequestError) as caught:
        sdk(served).completions.create(model="llm-twin/tiny", prompt="The cloud", top_p=1.5)

    assert caught.value.status_code == 400
    assert caught.value.body == json.loads(vllm(name))["error"]


def test_an_error_mid_stream_is_relayed_then_done() -> None:
    recording = vllm("completion_error_midstream.sse")
    serving_, _ = gateway([streamed(recording), streamed(recording)])
    with serving_ as served:
        data = list(sse_data(served.post("/v1/completions", {"prompt": "The cloud", "stream": True})))
        with pytest.raises(openai.APIError, match="Request failed during generation"):
            list(sdk(served).completions.create(model="m", prompt="x", stream=True))

    assert json.loads(data[-2])["error"]["code"] == 500
    assert data[-1] == "[DONE]"


def test_a_cut_stream_ends_with_vllms_error_event_then_done() -> None:
    raw = vllm("completion_stream.sse")
    serving_, _ = gateway([streamed(raw[: raw.index(b"data:", 600)])])
    with serving_ as served:
        data = list(sse_data(served.post("/v1/completions", {"prompt": "The cloud", "stream": True})))

    assert json.loads(data[-2]) == {
        "error": {
            "message": "the endpoint's stream ended before the generation's final event",
            "type": "InternalServerError",
            "param": None,
            "code": 500,
        }
    }
    assert data[-1] == "[DONE]"


@pytest.mark.parametrize("path", ["/", "/generate", "/generate_stream"])
def test_tgis_generate_routes_are_refused_naming_the_backend(path: str) -> None:
    serving_, runtime = gateway([])
    with serving_ as served:
        response = served.post(path, {"inputs": "Hi", "parameters": {"max_new_tokens": 2}})
        body = json.loads(response.read())

    assert response.status == 404
    assert body["error"].startswith(
        f"POST {path} is TGI's generate route, and this gateway fronts a vLLM endpoint"
    )
    assert runtime.operations == []


def test_the_refusal_still_needs_the_token() -> None:
    serving_, _ = gateway([])
    with serving_ as served:
        response = served.post("/generate", {"inputs": "Hi"}, token=None)

    assert response.status == 401


def test_the_gateways_own_refusal_takes_vllms_shape() -> None:
    serving_, runtime = gateway([])
    with serving_ as served:
        response = served.post("/v1/chat/completions", [1, 2])
        body = json.loads(response.read())

    assert (response.status, body) == (
        400,
        {
            "error": {
                "message": "the body must be a JSON object",
                "type": "BadRequestError",
                "param": None,
                "code": 400,
            }
        },
    )
    assert runtime.operations == []


def test_on_tgi_v1_completions_is_refused_naming_the_backend() -> None:
    serving_, runtime = gateway([], backend="tgi")
    with serving_ as served:
        response = served.post("/v1/completions", {"prompt": "Hi"})
        body = json.loads(response.read())

    assert response.status == 404
    assert body["error"]["message"].startswith("POST /v1/completions needs a vLLM endpoint")
    assert runtime.operations == []


@pytest.mark.parametrize("backend", ["tgi", "vllm"])
def test_the_session_tells_the_page_the_backend(backend: Backend) -> None:
    serving_, _ = gateway([], backend=backend)
    with serving_ as served:
        connection = served.connection(timeout=10)
        connection.request("GET", "/session")
        session = json.loads(connection.getresponse().read())

    assert session["backend"] == backend
