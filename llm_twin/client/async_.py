"""InvokeEndpointAsync: the payload goes to S3, the answer comes back as an S3 object.

`AsyncInvocations` gives the endpoint class `submit_async` and `wait_async`; it needs only the
endpoint's name, runtime client, control-plane client and current payload. `async_bucket`
finds where an async endpoint writes, from its config.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from llm_twin.client.aws_api import RuntimeClient, S3Client, SageMakerClient
from llm_twin.client.bodies import generate_body
from llm_twin.client.errors import describe_error, error_code, invocation_error
from llm_twin.client.results import GenerationResult, completion_result, generation_result
from llm_twin.errors import AsyncInferenceError, AsyncTimeoutError, AwsError, EndpointNotReadyError
from llm_twin.protocol.backends import Backend

__all__ = ["ASYNC_INPUT_PREFIX", "ASYNC_TIMEOUT", "AsyncInvocation", "AsyncInvocations", "async_bucket"]

ASYNC_INPUT_PREFIX = "async/input/"
ASYNC_TIMEOUT = 900.0
"""How long `wait_async` polls by default: SageMaker's default async invocation timeout."""
_MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


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


class AsyncInvocations:
    """The async half of `LLMInferenceSagemakerEndpoint` (a mixin: it reads the endpoint's state)."""

    endpoint_name: str
    client: RuntimeClient
    sagemaker_client: SageMakerClient | None
    payload: dict[str, Any]
    backend: Backend

    def generation_answer(self, raw: bytes) -> GenerationResult:
        """A whole generate answer of this endpoint's container (TGI's, or vLLM's completion)."""
        return completion_result(raw) if self.backend == "vllm" else generation_result(raw)

    def submit_async(self, s3_client: S3Client, bucket: str) -> AsyncInvocation:
        """Upload the payload to s3://<bucket>/async/input/<uuid>.json and start the invocation."""
        payload = generate_body(self.backend, self.payload, stream=False)
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
            raise invocation_error(exc, self.endpoint_name, self.sagemaker_client) from exc
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
        s3_client: S3Client,
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
                return self.generation_answer(output)
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


def async_bucket(sagemaker_client: SageMakerClient | None, endpoint_name: str) -> str:
    """The bucket of the endpoint's AsyncInferenceConfig output path; inputs go there too.

    `sagemaker_client` is the endpoint's own, which `from_settings` always makes.
    """
    if sagemaker_client is None:
        raise TypeError(f"finding the async bucket of {endpoint_name!r} needs a SageMaker client")
    try:
        endpoint = sagemaker_client.describe_endpoint(EndpointName=endpoint_name)
        config = sagemaker_client.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    except ClientError as exc:
        raise describe_error(exc, endpoint_name) from exc
    except BotoCoreError as exc:
        raise AwsError(f"describing endpoint {endpoint_name!r} failed: {exc}") from exc
    output_path = (config.get("AsyncInferenceConfig") or {}).get("OutputConfig", {}).get("S3OutputPath")
    if not output_path:
        raise EndpointNotReadyError(
            f"endpoint {endpoint_name!r} is not asynchronous (its config {endpoint['EndpointConfigName']} has "
            "no AsyncInferenceConfig): set ASYNC_INFERENCE_ENABLED=true and apply, or drop --async"
        )
    return str(output_path).removeprefix("s3://").split("/", 1)[0]


def _s3_object(s3_client: S3Client, uri: str) -> bytes | None:
    """The object's bytes; None while it does not exist yet."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    try:
        body = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if error_code(exc) in _MISSING_OBJECT_CODES:
            return None
        raise AwsError(f"reading {uri} failed: {exc}") from exc
    except BotoCoreError as exc:
        raise AwsError(f"reading {uri} failed: {exc}") from exc
    return body
