"""Call a TGI endpoint through sagemaker-runtime: the transport, with typed results.

Parsing lives in `llm_twin.client.stream`; this module only moves bytes and maps errors:

    LLMInferenceSagemakerEndpoint(endpoint_name, runtime_client)
        .set_payload(inputs, parameters)   the payload of the next call
        .inference()        -> str          InvokeEndpoint, the generated text
        .stream()           -> TokenEvent..., GenerationResult
        .chat(messages)     -> ChatResult   (or ChatDelta..., ChatResult with stream=True)

Streams are read with a read timeout longer than the gap between tokens and with
botocore's retries off: a retry after the first byte would send the text twice. The
one retry made here is for throttling, before any byte arrived.
"""

from __future__ import annotations

import contextlib
import copy
import json
import time
import uuid
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.eventstream import EventStream
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ReadTimeoutError,
)

from llm_twin.client.stream import (
    ChatDelta,
    TokenEvent,
    parse_chat_stream,
    parse_generate_stream,
    payload_parts,
)
from llm_twin.config import Settings
from llm_twin.control.aws import AwsClients, Credentials
from llm_twin.control.credentials import read_credentials
from llm_twin.errors import (
    AsyncInferenceError,
    AsyncTimeoutError,
    AwsError,
    EmulatorError,
    EndpointFailedError,
    EndpointNotFoundError,
    EndpointNotReadyError,
    IncompleteGenerationError,
    InferenceError,
    LlmTwinError,
    ModelStreamError,
    StreamParseError,
    StreamTimeoutError,
    generation_error,
)

__all__ = [
    "DEFAULT_PARAMETERS",
    "AsyncInvocation",
    "ChatResult",
    "GenerationResult",
    "LLMInferenceSagemakerEndpoint",
    "runtime_config",
]

DEFAULT_PARAMETERS: dict[str, Any] = {"max_new_tokens": 256, "top_p": 0.9, "temperature": 0.7}
"""The book's defaults for the LLM Twin."""
DEFAULT_READ_TIMEOUT = 60.0
"""Seconds without a byte before a stream is given up; far above a token's gap on a GPU."""
DEFAULT_CONNECT_TIMEOUT = 10.0
THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException"})
THROTTLE_BACKOFF = 1.0
ASYNC_INPUT_PREFIX = "async/input/"
ASYNC_TIMEOUT = 900.0
"""How long `wait_async` polls by default: SageMaker's default async invocation timeout."""


@dataclass(frozen=True)
class GenerationResult:
    """The end of a generation: what `inference()` returns as text and `stream()` yields last."""

    text: str
    """The generated text (special tokens excluded)."""
    finish_reason: str | None
    """`length`, `eos_token` or `stop_sequence`; None when the server sent no details."""
    generated_tokens: int | None
    """How many tokens were generated; None when the server did not say."""


@dataclass(frozen=True)
class AsyncInvocation:
    """An accepted InvokeEndpointAsync call: where its input is and where its result will be."""

    inference_id: str
    input_location: str
    """s3://<bucket>/async/input/<uuid>.json, the uploaded payload."""
    output_location: str
    """Where SageMaker writes the answer."""
    failure_location: str | None
    """Where SageMaker writes an error (None when the config names no failure path)."""


@dataclass(frozen=True)
class ChatResult:
    """A Messages API answer, reduced to its first choice."""

    content: str
    """The assistant's message."""
    finish_reason: str | None
    """`stop`, `length`, ...; None when the server sent none."""


def runtime_config(
    read_timeout: float = DEFAULT_READ_TIMEOUT, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
) -> Config:
    """botocore settings for the runtime client: long reads, and no automatic retry."""
    return Config(
        read_timeout=read_timeout,
        connect_timeout=connect_timeout,
        retries={"total_max_attempts": 1, "mode": "standard"},
    )


def _inference_credentials(settings: Settings) -> Credentials:
    """The deployer's key from its credentials file; on AWS, the admin identity when there is none."""
    from llm_twin.control.deploy.deployment import Deployment

    deployment = Deployment(settings)
    if settings.target == "local" or deployment.credentials_path.is_file():
        credentials, _ = read_credentials(deployment.credentials_path)
        return credentials
    return deployment.admin_credentials()


class LLMInferenceSagemakerEndpoint:
    """One endpoint of the LLM Twin, called through boto3's sagemaker-runtime client."""

    def __init__(
        self,
        endpoint_name: str,
        runtime_client: Any,
        *,
        default_payload: Mapping[str, Any] | None = None,
        inference_component_name: str | None = None,
        throttle_backoff: float = THROTTLE_BACKOFF,
    ) -> None:
        self.endpoint_name = endpoint_name
        self.client = runtime_client
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
        endpoint_name: str | None = None,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        credentials: Credentials | None = None,
    ) -> LLMInferenceSagemakerEndpoint:
        """The configured endpoint, as the deployer (on the local target no real AWS key is involved)."""
        if settings.target == "local":
            from llm_twin_local.aws.daemon import LocalAws

            # Starting it here would give an empty emulator: it holds endpoints only while it runs.
            if not LocalAws(settings.state.dir, settings.local.port).status().running:
                raise EmulatorError(
                    f"the local AWS is not running on port {settings.local.port}: run `make apply` first"
                )
        clients = AwsClients(
            credentials or _inference_credentials(settings), settings.region, settings.endpoint_url
        )
        client = clients.client("sagemaker-runtime", config=runtime_config(read_timeout))
        return cls(endpoint_name or settings.names.endpoint, client)

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
        payload = _with_details({key: value for key, value in self.payload.items() if key != "stream"})
        return self._generation(self._invoke(payload))

    @classmethod
    def _generation(cls, raw: bytes) -> GenerationResult:
        """TGI's generate answer (an object, or a list of one) as a typed result."""
        answer = cls._json(raw)
        if isinstance(answer, list):
            answer = answer[0] if answer else {}
        if not isinstance(answer, dict) or "generated_text" not in answer:
            raise StreamParseError(f"not a TGI generate answer: {str(answer)[:200]!r}")
        details = answer.get("details") or {}
        return GenerationResult(
            answer["generated_text"], details.get("finish_reason"), details.get("generated_tokens")
        )

    def stream(self) -> Iterator[TokenEvent | GenerationResult]:
        """Every token as it arrives, then a `GenerationResult`; errors keep `partial_text`.

        TGI's last event always carries `generated_text`: a stream that ends without it was
        cut short (a proxy or container closing it cleanly) and raises IncompleteGenerationError.
        """
        payload = _with_details({**self.payload, "stream": True})
        texts: list[str] = []
        finish_reason = generated_tokens = None
        final_text: str | None = None
        with contextlib.closing(self._stream_parts(payload)) as parts:
            for event in parse_generate_stream(parts):
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

    def chat(
        self, messages: list[dict[str, str]], *, stream: bool = False, **parameters: Any
    ) -> ChatResult | Iterator[ChatDelta | ChatResult]:
        """A `/v1/chat/completions` call through /invocations (needs MESSAGES_API_ENABLED)."""
        body = {"messages": messages, **parameters}
        if stream:
            return self._chat_stream({**body, "stream": True})
        answer = self._json(self._invoke(body))
        try:
            choice = answer["choices"][0]
            return ChatResult(choice["message"].get("content") or "", choice.get("finish_reason"))
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise StreamParseError(f"not a chat.completion: {str(answer)[:200]!r}") from exc

    def _chat_stream(self, body: dict[str, Any]) -> Iterator[ChatDelta | ChatResult]:
        contents: list[str] = []
        finish_reason = None
        with contextlib.closing(self._stream_parts(body)) as parts:
            for delta in parse_chat_stream(parts):
                contents.append(delta.content)
                finish_reason = delta.finish_reason or finish_reason
                yield delta
        yield ChatResult("".join(contents), finish_reason)

    # -- transport --------------------------------------------------------------------------------

    def _arguments(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "EndpointName": self.endpoint_name,
            "Body": json.dumps(payload),
            "ContentType": "application/json",
        }
        if self.inference_component_name:
            arguments["InferenceComponentName"] = self.inference_component_name
        return arguments

    def _call(self, operation: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """One call, retried once on throttling (nothing has been received yet then)."""
        method = getattr(self.client, operation)
        for attempt in (1, 2):
            try:
                return method(**self._arguments(payload))
            except ClientError as exc:
                error = exc.response.get("Error", {})
                code = error.get("Code", "")
                if code in THROTTLING_CODES:
                    if attempt == 1:
                        time.sleep(self.throttle_backoff)
                        continue
                    raise AwsError(
                        f"endpoint {self.endpoint_name!r} is throttling requests ({code}), still after one "
                        f"retry {self.throttle_backoff:g}s later; slow down or raise the endpoint's capacity: "
                        f"{error.get('Message', exc)}"
                    ) from exc
                raise _client_error(exc, self.endpoint_name) from exc
            except ReadTimeoutError as exc:
                raise StreamTimeoutError(
                    f"endpoint {self.endpoint_name!r} sent nothing in time: {exc}"
                ) from exc
            except BotoCoreError as exc:
                raise AwsError(f"calling endpoint {self.endpoint_name!r} failed: {exc}") from exc
        raise AssertionError("unreachable")

    def _invoke(self, payload: Mapping[str, Any]) -> bytes:
        response = self._call("invoke_endpoint", payload)
        try:
            return response["Body"].read()
        except ReadTimeoutError as exc:
            raise StreamTimeoutError(f"endpoint {self.endpoint_name!r} went silent: {exc}") from exc

    def _stream_parts(self, payload: Mapping[str, Any]) -> Generator[bytes]:
        response = self._call("invoke_endpoint_with_response_stream", payload)
        return _guarded(response["Body"], self.endpoint_name)

    # -- async (InvokeEndpointAsync) ----------------------------------------------------------

    def submit_async(self, s3_client: Any, bucket: str) -> AsyncInvocation:
        """Upload the payload to s3://<bucket>/async/input/<uuid>.json and start the invocation."""
        payload = _with_details({key: value for key, value in self.payload.items() if key != "stream"})
        key = f"{ASYNC_INPUT_PREFIX}{uuid.uuid4()}.json"
        input_location = f"s3://{bucket}/{key}"
        try:
            s3_client.put_object(
                Bucket=bucket, Key=key, Body=json.dumps(payload).encode(), ContentType="application/json"
            )
        except (BotoCoreError, ClientError) as exc:
            raise AwsError(f"uploading the async input to {input_location} failed: {exc}") from exc
        try:
            response = self.client.invoke_endpoint_async(
                EndpointName=self.endpoint_name,
                InputLocation=input_location,
                ContentType="application/json",
                Accept="application/json",
            )
        except ClientError as exc:
            raise _client_error(exc, self.endpoint_name) from exc
        except BotoCoreError as exc:
            raise AwsError(f"invoking endpoint {self.endpoint_name!r} asynchronously failed: {exc}") from exc
        return AsyncInvocation(
            inference_id=response["InferenceId"],
            input_location=input_location,
            output_location=response["OutputLocation"],
            failure_location=response.get("FailureLocation"),
        )

    def wait_async(
        self,
        s3_client: Any,
        invocation: AsyncInvocation,
        *,
        timeout: float = ASYNC_TIMEOUT,
        first_delay: float = 0.5,
        max_delay: float = 10.0,
        on_poll: Callable[[float], None] | None = None,
    ) -> GenerationResult:
        """Poll the output and failure objects, backing off, until one appears or `timeout` passes."""
        deadline = time.monotonic() + timeout
        delay = first_delay
        while True:
            output = _s3_object(s3_client, invocation.output_location)
            if output is not None:
                return self._generation(output)
            if invocation.failure_location:
                failure = _s3_object(s3_client, invocation.failure_location)
                if failure is not None:
                    raise AsyncInferenceError(
                        f"async inference {invocation.inference_id} on {self.endpoint_name!r} failed: "
                        f"{failure.decode(errors='replace').strip()} ({invocation.failure_location})"
                    )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AsyncTimeoutError(
                    f"async inference {invocation.inference_id} wrote nothing within {timeout:g}s; it may "
                    f"still finish: its output will be {invocation.output_location}"
                )
            if on_poll is not None:
                on_poll(delay)
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, max_delay)

    @staticmethod
    def _json(raw: bytes) -> Any:
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise StreamParseError(f"the endpoint answered with non-JSON: {raw[:200]!r}") from exc


def aws_clients(settings: Settings) -> AwsClients:
    """Clients as the identity `from_settings` invokes with (async needs S3 and SageMaker too)."""
    return AwsClients(_inference_credentials(settings), settings.region, settings.endpoint_url)


def async_bucket(sagemaker_client: Any, endpoint_name: str) -> str:
    """The bucket of the endpoint's AsyncInferenceConfig output path; inputs go there too."""
    try:
        endpoint = sagemaker_client.describe_endpoint(EndpointName=endpoint_name)
        config = sagemaker_client.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    except ClientError as exc:
        raise _client_error(exc, endpoint_name) from exc
    except BotoCoreError as exc:
        raise AwsError(f"describing endpoint {endpoint_name!r} failed: {exc}") from exc
    output_path = (config.get("AsyncInferenceConfig") or {}).get("OutputConfig", {}).get("S3OutputPath")
    if not output_path:
        raise EndpointNotReadyError(
            f"endpoint {endpoint_name!r} is not asynchronous (its config {endpoint['EndpointConfigName']} has "
            "no AsyncInferenceConfig): set ASYNC_INFERENCE_ENABLED=true and apply, or drop --async"
        )
    return output_path.removeprefix("s3://").split("/", 1)[0]


def _s3_object(s3_client: Any, uri: str) -> bytes | None:
    """The object's bytes; None while it does not exist yet."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        return s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None
        raise AwsError(f"reading {uri} failed: {exc}") from exc
    except BotoCoreError as exc:
        raise AwsError(f"reading {uri} failed: {exc}") from exc


def _with_details(payload: dict[str, Any]) -> dict[str, Any]:
    """Ask for the finish details unless the caller said otherwise; they feed `GenerationResult`."""
    return {**payload, "parameters": {"details": True, **(payload.get("parameters") or {})}}


def _guarded(event_stream: EventStream, endpoint_name: str) -> Generator[bytes]:
    """The stream's payload bytes, with transport failures turned into our errors (the parser
    adds `partial_text`).

    The stream is closed however reading ends, a consumer that stops early included (the
    gateway when its browser goes away): the endpoint sees the disconnect and frees the
    sequence's batch slot at once, not whenever the response is garbage-collected.
    """
    try:
        yield from payload_parts(event_stream)
    except ReadTimeoutError as exc:
        raise StreamTimeoutError(f"endpoint {endpoint_name!r} sent no byte within the read timeout") from exc
    except (ConnectionClosedError, ConnectionError) as exc:
        raise ModelStreamError(f"the connection to {endpoint_name!r} closed mid-stream: {exc}") from exc
    except BotoCoreError as exc:
        raise InferenceError(f"reading the stream of {endpoint_name!r} failed: {exc}") from exc
    except Exception as exc:
        # urllib3 raises its own ProtocolError / ReadTimeoutError when the body is read directly.
        kind = type(exc).__name__
        if kind == "ReadTimeoutError":
            raise StreamTimeoutError(
                f"endpoint {endpoint_name!r} sent no byte within the read timeout"
            ) from exc
        if kind == "ProtocolError":
            raise ModelStreamError(f"the stream of {endpoint_name!r} broke: {exc}") from exc
        raise
    finally:
        event_stream.close()


def _client_error(exc: ClientError, endpoint_name: str) -> LlmTwinError:
    """Map sagemaker-runtime's error codes to our hierarchy (one branch per code, tested)."""
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    message = error.get("Message", str(exc))
    if code in ("ValidationError", "ValidationException"):
        if "not found" in message:
            return EndpointNotFoundError(f"no endpoint named {endpoint_name!r}: {message}")
        if "(status Failed)" in message:
            return EndpointFailedError(f"endpoint {endpoint_name!r} failed: {message}")
        if "not in service" in message.lower() or "inservice" in message.lower():
            return EndpointNotReadyError(f"endpoint {endpoint_name!r} is not InService: {message}")
    if code == "ModelError":
        original = exc.response.get("OriginalMessage") or _original_message(message)
        tgi = _tgi_error(original)
        if tgi is not None:
            return tgi
        return InferenceError(f"the model container answered an error: {message}")
    if code in ("ModelNotReadyException",):
        return EndpointNotReadyError(f"endpoint {endpoint_name!r} is not ready: {message}")
    return AwsError(f"invoking endpoint {endpoint_name!r} failed ({code}): {message}")


def _original_message(message: str) -> str:
    start, end = message.find('"'), message.rfind('"')
    return message[start + 1 : end] if 0 <= start < end else ""


def _tgi_error(original: str) -> InferenceError | None:
    """TGI's `{"error", "error_type"}` body, relayed by a ModelError, as its GenerationError."""
    try:
        body = json.loads(original)
    except (TypeError, ValueError):
        return None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return generation_error(body["error"], body.get("error_type"))
    return None
