"""Call a TGI or vLLM endpoint through sagemaker-runtime: the transport, with typed results.

Parsing lives in `llm_twin.client.stream`, the error map in `llm_twin.client.errors`, async
calls in `llm_twin.client.async_`; this module moves bytes:

    LLMInferenceSagemakerEndpoint(endpoint_name, runtime_client, sagemaker_client=..., backend="tgi")
        .set_payload(inputs, parameters)   the payload of the next call
        .inference()        -> str          InvokeEndpoint, the generated text
        .stream()           -> TokenEvent..., GenerationResult
        .chat(messages)     -> ChatResult   (or ChatDelta..., ChatResult with stream=True)
        .invoke_body(body)  -> bytes        InvokeEndpoint with `body` as given (the gateway's relay)
        .stream_body(body)  -> bytes...     the same, streamed: the container's bytes as they arrive
        .submit_async(...), .wait_async(...)   InvokeEndpointAsync through S3

`backend` ("tgi", the book's, or "vllm") says which body the container reads and which
answer it writes (`bodies.py`); the payload and every result are the same types on both.

Streams are read with a read timeout longer than the gap between tokens and with
botocore's retries off: a retry after the first byte would send the text twice. The
one retry made here is for throttling, before any byte arrived.
"""

from __future__ import annotations

import contextlib
import copy
import json
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, overload

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

from llm_twin.client.async_ import ASYNC_TIMEOUT, AsyncInvocation, AsyncInvocations, async_bucket
from llm_twin.client.aws_api import RuntimeClient, SageMakerClient
from llm_twin.client.bodies import generate_body
from llm_twin.client.errors import THROTTLING_CODES, error_code, invocation_error, throttling_error
from llm_twin.client.results import ChatResult, GenerationResult, chat_result
from llm_twin.client.stream.chat import ChatDelta, parse_chat_stream
from llm_twin.client.stream.sagemaker import guarded_parts
from llm_twin.client.stream.tgi import TokenEvent, parse_generate_stream
from llm_twin.client.stream.vllm import parse_completion_stream
from llm_twin.config import Settings
from llm_twin.config.credentials import Credentials
from llm_twin.errors import (
    AwsError,
    IncompleteGenerationError,
    InferenceError,
    LlmTwinError,
    StreamTimeoutError,
)
from llm_twin.protocol.backends import BACKENDS, Backend

__all__ = [
    "ASYNC_TIMEOUT",
    "DEFAULT_PARAMETERS",
    "DEFAULT_READ_TIMEOUT",
    "AsyncInvocation",
    "ChatResult",
    "GenerationResult",
    "InferenceClients",
    "LLMInferenceSagemakerEndpoint",
    "async_bucket",
    "aws_clients",
    "runtime_config",
]

DEFAULT_PARAMETERS: dict[str, Any] = {"max_new_tokens": 256, "top_p": 0.9, "temperature": 0.7}
"""The book's defaults for the LLM Twin."""
DEFAULT_READ_TIMEOUT = 60.0
"""Seconds without a byte before a stream is given up; far above a token's gap on a GPU."""
DEFAULT_CONNECT_TIMEOUT = 10.0
THROTTLE_BACKOFF = 1.0

Answer = TypeVar("Answer")


def runtime_config(
    read_timeout: float = DEFAULT_READ_TIMEOUT, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
) -> Config:
    """botocore settings for the runtime client: long reads, and no automatic retry."""
    return Config(
        read_timeout=read_timeout,
        connect_timeout=connect_timeout,
        retries={"total_max_attempts": 1, "mode": "standard"},
    )


@dataclass(frozen=True)
class InferenceClients:
    """boto3 clients of one identity, against AWS or the emulator (`settings.endpoint_url`)."""

    session: boto3.Session
    endpoint_url: str | None

    def client(self, service: str, config: Config | None = None) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint_url, config=config)


def aws_clients(settings: Settings, credentials: Credentials) -> InferenceClients:
    """Clients as `credentials` in the configured region (async needs S3 and SageMaker too)."""
    session = boto3.Session(**credentials.session_arguments(), region_name=settings.region)
    return InferenceClients(session, settings.endpoint_url)


_OTHER_BACKEND_REFUSALS: dict[Backend, tuple[str, Backend]] = {
    # What each container answers the other's body: vLLM's /invocations dispatch, serde's field check.
    "tgi": ("Cannot find suitable handler for request", "vllm"),
    "vllm": ("missing field `inputs`", "tgi"),
}


def _backend_hint(error: LlmTwinError, backend: Backend) -> LlmTwinError:
    """The refusal a container gives the other backend's body, with the setting that fixes it."""
    words, other = _OTHER_BACKEND_REFUSALS[backend]
    if isinstance(error, InferenceError) and words in str(error):
        hinted = type(error)(
            f"{error} (the endpoint seems to run {other}, not {backend}: set SERVING_BACKEND={other})"
        )
        return hinted
    return error


class LLMInferenceSagemakerEndpoint(AsyncInvocations):
    """One endpoint of the LLM Twin, called through boto3's sagemaker-runtime client.

    `sagemaker_client` (the control plane) is optional: with it, an invocation refused as a
    ValidationError is told apart (no such endpoint, Failed, not ready) by DescribeEndpoint.
    `backend` is the serving container: "tgi" (the book's) or "vllm".
    """

    def __init__(
        self,
        endpoint_name: str,
        runtime_client: RuntimeClient,
        *,
        sagemaker_client: SageMakerClient | None = None,
        default_payload: Mapping[str, Any] | None = None,
        inference_component_name: str | None = None,
        throttle_backoff: float = THROTTLE_BACKOFF,
        backend: Backend = "tgi",
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        self.backend: Backend = backend
        self.endpoint_name = endpoint_name
        self.client = runtime_client
        self.sagemaker_client = sagemaker_client
        self.inference_component_name = inference_component_name
        self.throttle_backoff = throttle_backoff
        self.default_payload: dict[str, Any] = copy.deepcopy(
            dict(default_payload) if default_payload else {"inputs": "", "parameters": DEFAULT_PARAMETERS}
        )
        self.payload: dict[str, Any] = copy.deepcopy(self.default_payload)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        credentials: Credentials,
        endpoint_name: str | None = None,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> LLMInferenceSagemakerEndpoint:
        """The configured endpoint and backend, called as `credentials` (the caller picks the identity)."""
        clients = aws_clients(settings, credentials)
        return cls(
            endpoint_name or settings.names.endpoint,
            clients.client("sagemaker-runtime", config=runtime_config(read_timeout)),
            sagemaker_client=clients.client("sagemaker"),
            backend=settings.model.backend,
        )

    def copy(self) -> LLMInferenceSagemakerEndpoint:
        """A fresh endpoint object on the same clients, with the default payload (one per request)."""
        return type(self)(
            self.endpoint_name,
            self.client,
            sagemaker_client=self.sagemaker_client,
            default_payload=self.default_payload,
            inference_component_name=self.inference_component_name,
            throttle_backoff=self.throttle_backoff,
            backend=self.backend,
        )

    # -- payload ---------------------------------------------------------------------------

    def set_payload(self, inputs: str, parameters: Mapping[str, Any] | None = None) -> None:
        """The next call's payload: the default one, with `inputs` and `parameters` merged in."""
        self.payload = copy.deepcopy(self.default_payload)
        self.payload["inputs"] = inputs
        if parameters:
            self.payload.setdefault("parameters", {}).update(parameters)

    # -- generate --------------------------------------------------------------------------

    def inference(self) -> str:
        """InvokeEndpoint with the current payload; the generated text."""
        return self.generate().text

    def generate(self) -> GenerationResult:
        """InvokeEndpoint with the current payload, as a typed result."""
        return self.generation_answer(self._invoke(generate_body(self.backend, self.payload, stream=False)))

    def stream(self) -> Iterator[TokenEvent | GenerationResult]:
        """Every token as it arrives, then a `GenerationResult`; errors keep `partial_text`.

        The last event always carries `generated_text` (TGI's own; vLLM's finishing chunk, by
        its parser): a stream that ends without it was cut short (a proxy or container closing
        it cleanly) and raises IncompleteGenerationError.
        """
        payload = generate_body(self.backend, self.payload, stream=True)
        parse = parse_completion_stream if self.backend == "vllm" else parse_generate_stream
        texts: list[str] = []
        finish_reason: str | None = None
        generated_tokens: int | None = None
        final_text: str | None = None
        with contextlib.closing(self._stream_parts(payload)) as parts:
            for event in parse(parts):
                if not event.token.special:
                    texts.append(event.token.text)
                if event.generated_text is not None:
                    final_text = event.generated_text
                if event.details is not None:
                    finish_reason = event.details.finish_reason
                    generated_tokens = event.details.generated_tokens
                yield event
        if final_text is None:
            raise IncompleteGenerationError(
                f"endpoint {self.endpoint_name!r} ended the stream before the generation's final event",
                partial_text="".join(texts),
            )
        yield GenerationResult(final_text, finish_reason, generated_tokens)

    # -- Messages API --------------------------------------------------------------------------

    @overload
    def chat(
        self, messages: list[dict[str, str]], *, stream: Literal[False] = False, **parameters: Any
    ) -> ChatResult: ...

    @overload
    def chat(
        self, messages: list[dict[str, str]], *, stream: Literal[True], **parameters: Any
    ) -> Iterator[ChatDelta | ChatResult]: ...

    def chat(
        self, messages: list[dict[str, str]], *, stream: bool = False, **parameters: Any
    ) -> ChatResult | Iterator[ChatDelta | ChatResult]:
        """A `/v1/chat/completions` call through /invocations (needs MESSAGES_API_ENABLED)."""
        body = {"messages": messages, **parameters}
        if stream:
            return self._chat_stream({**body, "stream": True})
        return chat_result(self._invoke(body))

    def _chat_stream(self, body: dict[str, Any]) -> Iterator[ChatDelta | ChatResult]:
        """The deltas, then a ChatResult. Both containers end a chat with a finish reason: a
        stream that ends without one was cut short and raises IncompleteGenerationError."""
        contents: list[str] = []
        finish_reason = None
        with contextlib.closing(self._stream_parts(body)) as parts:
            for delta in parse_chat_stream(parts):
                contents.append(delta.content)
                finish_reason = delta.finish_reason or finish_reason
                yield delta
        if finish_reason is None:
            raise IncompleteGenerationError(
                f"endpoint {self.endpoint_name!r} ended the chat stream before its finishing chunk",
                partial_text="".join(contents),
            )
        yield ChatResult("".join(contents), finish_reason)

    # -- a body sent as it is ----------------------------------------------------------------------

    def invoke_body(self, body: Mapping[str, Any]) -> bytes:
        """InvokeEndpoint with `body` exactly as given (no default payload, no details): the
        container's answer. A refusal raises as any call does; `container_answer` recovers the
        container's own status and body from it."""
        return self._invoke(body)

    def stream_body(self, body: Mapping[str, Any]) -> Generator[bytes]:
        """InvokeEndpointWithResponseStream with `body` exactly as given: the container's bytes
        as SageMaker hands them over (cut anywhere), closed however reading ends."""
        return self._stream_parts(body)

    # -- transport --------------------------------------------------------------------------------

    def _arguments(self, payload: Mapping[str, Any]) -> dict[str, str]:
        arguments = {
            "EndpointName": self.endpoint_name,
            "Body": json.dumps(payload),
            "ContentType": "application/json",
        }
        if self.inference_component_name:
            arguments["InferenceComponentName"] = self.inference_component_name
        return arguments

    def _call(self, method: Callable[..., Answer], payload: Mapping[str, Any]) -> Answer:
        """One call of the runtime client's `method`, retried once on throttling (nothing has been received yet then)."""
        for attempt in (1, 2):
            try:
                return method(**self._arguments(payload))
            except ClientError as exc:
                if error_code(exc) in THROTTLING_CODES:
                    if attempt == 1:
                        time.sleep(self.throttle_backoff)
                        continue
                    raise throttling_error(exc, self.endpoint_name, self.throttle_backoff) from exc
                error = invocation_error(exc, self.endpoint_name, self.sagemaker_client)
                raise _backend_hint(error, self.backend) from exc
            except ReadTimeoutError as exc:
                raise StreamTimeoutError(
                    f"endpoint {self.endpoint_name!r} sent nothing in time: {exc}"
                ) from exc
            except BotoCoreError as exc:
                raise AwsError(f"calling endpoint {self.endpoint_name!r} failed: {exc}") from exc
        raise AssertionError("unreachable")

    def _invoke(self, payload: Mapping[str, Any]) -> bytes:
        response = self._call(self.client.invoke_endpoint, payload)
        try:
            body = response["Body"].read()
        except ReadTimeoutError as exc:
            raise StreamTimeoutError(f"endpoint {self.endpoint_name!r} went silent: {exc}") from exc
        return body

    def _stream_parts(self, payload: Mapping[str, Any]) -> Generator[bytes]:
        response = self._call(self.client.invoke_endpoint_with_response_stream, payload)
        return guarded_parts(response["Body"], self.endpoint_name)
