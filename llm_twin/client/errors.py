"""botocore's errors as ours, picked by error CODE, never by message text.

sagemaker-runtime answers `ValidationError` alike for a missing endpoint, a Failed one, one
still Creating and a request it refuses. Only SageMaker's control plane tells them apart, so
`invocation_error` asks it (DescribeEndpoint, which the deployer may call) when it has a client:

    invocation ValidationError, then DescribeEndpoint says
        ValidationException         -> EndpointNotFoundError
        EndpointStatus Failed       -> EndpointFailedError (with its FailureReason)
        any other status            -> EndpointNotReadyError
        InService                   -> AwsError: the request itself was refused
    ModelError                      -> the container's error from OriginalMessage (its JSON body):
                                       TGI's {"error", "error_type"} by its type, vLLM's
                                       {"error": {"message", "type", "param", "code"}} by its
                                       status (400 ValidationError, ...); else InferenceError
    ModelNotReadyException          -> EndpointNotReadyError
    throttling codes                -> AwsError (after the caller's one retry)
    anything else                   -> AwsError naming the code

Without a control-plane client a ValidationError stays the generic AwsError.
"""

from __future__ import annotations

import json

from botocore.exceptions import BotoCoreError, ClientError

from llm_twin.client.aws_api import SageMakerClient
from llm_twin.client.stream.events import openai_error, status_error
from llm_twin.errors import (
    AwsError,
    EndpointFailedError,
    EndpointNotFoundError,
    EndpointNotReadyError,
    InferenceError,
    LlmTwinError,
    generation_error,
)

__all__ = [
    "THROTTLING_CODES",
    "container_answer",
    "VALIDATION_CODES",
    "describe_error",
    "error_code",
    "invocation_error",
    "throttling_error",
]

THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException"})
VALIDATION_CODES = frozenset({"ValidationError", "ValidationException"})
"""sagemaker-runtime says ValidationError; the sagemaker control plane ValidationException."""


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", exc))


def invocation_error(
    exc: ClientError, endpoint_name: str, sagemaker_client: SageMakerClient | None = None
) -> LlmTwinError:
    """An Invoke* call's ClientError as our error (one branch per code, each tested)."""
    code = error_code(exc)
    message = _message(exc)
    if code in VALIDATION_CODES and sagemaker_client is not None:
        return _by_endpoint_status(exc, endpoint_name, sagemaker_client)
    if code == "ModelError":
        container = _container_error(
            exc.response.get("OriginalMessage"), exc.response.get("OriginalStatusCode")
        )
        if container is not None:
            return container
        return InferenceError(f"the model container answered an error: {message}")
    if code == "ModelNotReadyException":
        return EndpointNotReadyError(f"endpoint {endpoint_name!r} is not ready: {message}")
    return _generic(exc, endpoint_name)


def container_answer(exc: BaseException) -> tuple[int, str] | None:
    """The model container's own HTTP status and body behind an invocation's ModelError (SageMaker
    relays both as OriginalStatusCode and OriginalMessage); None for any other failure."""
    cause = exc.__cause__
    if not isinstance(cause, ClientError) or error_code(cause) != "ModelError":
        return None
    status = cause.response.get("OriginalStatusCode")
    body = cause.response.get("OriginalMessage")
    if isinstance(status, int) and 400 <= status < 600 and isinstance(body, str):
        return status, body
    return None


def describe_error(exc: ClientError, endpoint_name: str) -> AwsError:
    """A DescribeEndpoint (or DescribeEndpointConfig) ClientError: ValidationException is "no such endpoint"."""
    if error_code(exc) in VALIDATION_CODES:
        return EndpointNotFoundError(f"no endpoint named {endpoint_name!r}: {_message(exc)}")
    return AwsError(f"describing endpoint {endpoint_name!r} failed ({error_code(exc)}): {_message(exc)}")


def throttling_error(exc: ClientError, endpoint_name: str, backoff: float) -> AwsError:
    """Still throttled after the one retry `backoff` seconds later."""
    return AwsError(
        f"endpoint {endpoint_name!r} is throttling requests ({error_code(exc)}), still after one "
        f"retry {backoff:g}s later; slow down or raise the endpoint's capacity: {_message(exc)}"
    )


def _generic(exc: ClientError, endpoint_name: str) -> AwsError:
    return AwsError(f"invoking endpoint {endpoint_name!r} failed ({error_code(exc)}): {_message(exc)}")


def _by_endpoint_status(
    exc: ClientError, endpoint_name: str, sagemaker_client: SageMakerClient
) -> LlmTwinError:
    """Tell an invocation's ValidationError apart by what DescribeEndpoint says of the endpoint."""
    message = _message(exc)
    try:
        endpoint = sagemaker_client.describe_endpoint(EndpointName=endpoint_name)
    except ClientError as described:
        if error_code(described) in VALIDATION_CODES:
            return EndpointNotFoundError(f"no endpoint named {endpoint_name!r}: {message}")
        return _generic(exc, endpoint_name)  # DescribeEndpoint denied: the invocation's own error
    except BotoCoreError:
        return _generic(exc, endpoint_name)
    status = endpoint.get("EndpointStatus")
    if status == "Failed":
        reason = endpoint.get("FailureReason") or message
        return EndpointFailedError(f"endpoint {endpoint_name!r} failed: {reason}")
    if status != "InService":
        return EndpointNotReadyError(
            f"endpoint {endpoint_name!r} is not InService (status {status}): {message}"
        )
    return _generic(exc, endpoint_name)


def _container_error(original: object, status: object) -> InferenceError | None:
    """The container's error body, relayed as a ModelError's OriginalMessage (and its HTTP
    status as OriginalStatusCode): TGI's `{"error", "error_type"}`, or vLLM's OpenAI-shaped
    `{"error": {...}}` (older vLLM: flat `{"object": "error", "message", "type", "code"}`)."""
    if not isinstance(original, str):
        return None
    try:
        body = json.loads(original)
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, str):
        return generation_error(error, body.get("error_type"))
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        if type(error.get("code")) is not int and type(status) is int:
            error = {**error, "code": status}
        return openai_error(error)
    if body.get("object") == "error" and isinstance(body.get("message"), str):
        code = body.get("code")
        return status_error(
            body["message"], code if type(code) is int else status if type(status) is int else 500
        )
    return None
