"""The client, `llm-twin infer` and the gateway on a vLLM endpoint of the real emulator.

The endpoint's container environment is what Terraform renders for SERVING_BACKEND=vllm
(`tests.support.vllm_runtime`); the emulator serves it with the model server in vLLM mode on a
tiny checkpoint, and SageMaker's runtime API relays its bytes. transformers' greedy `generate`
on the same checkpoint is the referee of the text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from click.testing import CliRunner

from llm_twin.cli import context
from llm_twin.cli.main import main
from llm_twin.client.endpoint import GenerationResult, LLMInferenceSagemakerEndpoint
from llm_twin.client.results import ChatResult
from llm_twin.config import Secret
from llm_twin.config.credentials import Credentials
from llm_twin.errors import ValidationError
from llm_twin.gateway import EndpointHealth, GatewayConfig, create_app
from llm_twin_local.aws.daemon import LocalAws
from llm_twin_local.model_server.checkpoint import create_sized_checkpoint
from tests.conftest import client
from tests.support.gateway import TOKEN, serving
from tests.support.model_server import Reference
from tests.support.runtime import running_emulator, wait_status
from tests.support.vllm_runtime import SERVED, create_vllm

pytestmark = [pytest.mark.stack, pytest.mark.timeout(600)]

NAME = "twin-vllm"
PROMPT = "Write a haiku about the cloud"
TOKENS = 10


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_sized_checkpoint(tmp_path_factory.mktemp("tiny-model"), "tiny")


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory, tiny: Path) -> Iterator[LocalAws]:
    with running_emulator(tmp_path_factory.mktemp("vllm-emulator")) as running:
        sagemaker = client(running.port, "sagemaker")
        create_vllm(sagemaker, NAME, tiny)
        sagemaker.create_endpoint(EndpointName=NAME, EndpointConfigName=f"{NAME}-config")
        wait_status(sagemaker, NAME, "InService")
        yield running


@pytest.fixture(scope="module")
def reference(tiny: Path) -> Reference:
    return Reference.load(tiny)


def endpoint(emulator: LocalAws) -> LLMInferenceSagemakerEndpoint:
    runtime = client(emulator.port, "sagemaker-runtime")
    return LLMInferenceSagemakerEndpoint(
        NAME, runtime, sagemaker_client=client(emulator.port, "sagemaker"), backend="vllm"
    )


def test_the_books_class_streams_transformers_greedy_text(emulator: LocalAws, reference: Reference) -> None:
    llm = endpoint(emulator)
    llm.set_payload(
        PROMPT, {"max_new_tokens": TOKENS, "do_sample": False, "temperature": None, "top_p": None}
    )
    expected = reference.greedy(reference.ids(PROMPT), TOKENS)

    *tokens, result = llm.stream()

    assert result == GenerationResult(reference.text(expected), "length", len(expected))
    assert "".join(t.token.text for t in tokens) == result.text  # type: ignore[union-attr]
    assert llm.generate() == result


def test_chat_streamed_equals_whole(emulator: LocalAws) -> None:
    llm = endpoint(emulator)
    messages = [{"role": "user", "content": PROMPT}]

    *_, streamed = llm.chat(messages, stream=True, max_tokens=TOKENS, temperature=0)

    assert isinstance(streamed, ChatResult) and streamed.content
    assert llm.chat(messages, max_tokens=TOKENS, temperature=0) == streamed


def test_a_refusal_is_a_validation_error_with_vllms_words(emulator: LocalAws) -> None:
    llm = endpoint(emulator)
    llm.set_payload(PROMPT, {"max_new_tokens": 5000, "do_sample": False, "temperature": None, "top_p": None})

    with pytest.raises(ValidationError, match="maximum context length is 512 tokens"):
        llm.inference()


def test_infer_prints_the_same_text_streamed_or_not(
    emulator: LocalAws, reference: Reference, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(context, "inference_identity", lambda settings: Credentials("test", "test"))
    env = {
        "TARGET": "local",
        "SERVING_BACKEND": "vllm",
        "LOCAL_AWS_PORT": str(emulator.port),
        "LLM_TWIN_STATE_DIR": str(tmp_path),
    }
    args = ["--env-file", str(tmp_path / "none.env"), "infer", PROMPT, "--endpoint", NAME]
    args += ["--temperature", "0", "--max-new-tokens", str(TOKENS)]
    runner = CliRunner()

    streamed = runner.invoke(main, [*args, "--json"], env=env)
    whole = runner.invoke(main, [*args, "--no-stream"], env=env)

    assert streamed.exit_code == whole.exit_code == 0, streamed.output + whole.output
    events = [json.loads(line) for line in streamed.stdout.splitlines()]
    expected = reference.text(reference.greedy(reference.ids(PROMPT), TOKENS))
    assert events[-1] == {
        "event": "result",
        "text": expected,
        "finish_reason": "length",
        "generated_tokens": TOKENS,
    }
    assert whole.stdout == expected + "\n"


def test_the_gateway_serves_the_openai_sdk_and_refuses_tgis_routes(emulator: LocalAws) -> None:
    app = create_app(
        GatewayConfig(Secret(TOKEN), (), 65536, backend="vllm"),
        lambda: endpoint(emulator),
        lambda: EndpointHealth(NAME, "InService"),
    )
    with serving(app) as served:
        sdk = openai.OpenAI(base_url=f"{served.url}/v1", api_key=TOKEN, max_retries=0)
        chunks = list(
            sdk.completions.create(model=SERVED, prompt=PROMPT, max_tokens=TOKENS, temperature=0, stream=True)
        )
        whole = sdk.completions.create(model=SERVED, prompt=PROMPT, max_tokens=TOKENS, temperature=0)
        with pytest.raises(openai.BadRequestError, match="maximum context length"):
            sdk.completions.create(model=SERVED, prompt=PROMPT, max_tokens=5000)
        refused = served.post("/generate_stream", {"inputs": PROMPT})

    assert "".join(c.choices[0].text for c in chunks if c.choices) == whole.choices[0].text
    assert refused.status == 404
