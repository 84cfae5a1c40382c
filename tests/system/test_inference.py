"""The inference client against the Terraform-applied local endpoint (read-only, shared).

The stack's HF_MODEL_ID is a Hub repo, so the emulator serves its stand-in tiny model.
"""

from __future__ import annotations

import pytest

from llm_twin.client.endpoint import ChatResult, GenerationResult, LLMInferenceSagemakerEndpoint
from llm_twin.client.stream.chat import ChatDelta
from llm_twin.client.stream.tgi import TokenEvent
from llm_twin.control.deploy.deployment import Deployment
from llm_twin.errors import EndpointNotFoundError, ValidationError
from llm_twin_local.aws.runtime.sources import STAND_IN_IMAGE
from tests.conftest import client
from tests.support.inference import inference_endpoint

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def llm(applied_stack: Deployment) -> LLMInferenceSagemakerEndpoint:
    return inference_endpoint(applied_stack.settings)


def test_the_stand_in_model_is_visible_on_the_endpoint(applied_stack: Deployment) -> None:
    sagemaker = client(applied_stack.settings.local.port, "sagemaker")
    variant = sagemaker.describe_endpoint(EndpointName="llm-twin-endpoint")["ProductionVariants"][0]
    assert variant["DeployedImages"][0]["ResolvedImage"] == STAND_IN_IMAGE
    assert applied_stack.endpoint_state().resolved_images == (STAND_IN_IMAGE,)  # shown by `llm-twin status`


def test_inference_returns_the_generated_text(llm: LLMInferenceSagemakerEndpoint) -> None:
    llm.set_payload("Write a haiku about the cloud", {"max_new_tokens": 12, "seed": 3})
    assert llm.payload["parameters"]["top_p"] == 0.9  # the book's defaults stay under the overrides
    text = llm.inference()
    assert isinstance(text, str) and text


def test_stream_yields_tokens_then_the_same_text_as_inference(llm: LLMInferenceSagemakerEndpoint) -> None:
    llm.set_payload("Write a haiku about the cloud", {"max_new_tokens": 12, "seed": 11})
    *tokens, result = llm.stream()
    assert all(isinstance(t, TokenEvent) for t in tokens) and isinstance(result, GenerationResult)
    assert result.text == "".join(t.token.text for t in tokens if not t.token.special)
    assert result.generated_tokens == len(tokens) and result.finish_reason in ("length", "eos_token")
    assert result.text == llm.inference()


def test_chat_streamed_and_not(llm: LLMInferenceSagemakerEndpoint) -> None:
    messages = [{"role": "user", "content": "Write a haiku about the cloud"}]
    *deltas, result = llm.chat(messages, stream=True, max_tokens=10, seed=5)
    assert all(isinstance(d, ChatDelta) for d in deltas) and isinstance(result, ChatResult)
    assert result.content == "".join(d.content for d in deltas)
    whole = llm.chat(messages, max_tokens=10, seed=5)
    assert whole == ChatResult(result.content, result.finish_reason)


def test_unknown_endpoint_is_endpoint_not_found(applied_stack: Deployment) -> None:
    other = inference_endpoint(applied_stack.settings, endpoint_name="nope")
    with pytest.raises(EndpointNotFoundError, match="Endpoint nope of account 123456789012 not found"):
        other.inference()


def test_tgi_validation_error_is_mapped(llm: LLMInferenceSagemakerEndpoint) -> None:
    # Not a huge max_new_tokens: TGI 3.x accepts one when a chunk (1024) fits.
    llm.set_payload("hi", {"temperature": 0})
    with pytest.raises(ValidationError, match="`temperature` must be strictly positive"):
        llm.inference()


def test_tgi_validation_error_mid_stream_is_mapped(llm: LLMInferenceSagemakerEndpoint) -> None:
    llm.set_payload("hi", {"temperature": 0})
    with pytest.raises(ValidationError, match="`temperature` must be strictly positive"):
        list(llm.stream())
