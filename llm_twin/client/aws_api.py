"""The boto3 calls the client makes, as Protocols, and the answer fields it reads, as TypedDicts.

boto3 builds its clients at run time and ships no types, so mypy knows nothing of a client.
These name what this package calls (sagemaker-runtime's Invoke*, SageMaker's Describe*,
S3's PutObject and GetObject) in botocore's parsed shapes, the fields it reads and no more.
A real boto3 client fits them, and so does a test's stand-in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypedDict


class StreamingBody(Protocol):
    """botocore's StreamingBody: an HTTP body read on demand."""

    def read(self, amt: int | None = None) -> bytes: ...


class PayloadPart(TypedDict):
    Bytes: bytes


class ModelStreamErrorEvent(TypedDict, total=False):
    Message: str
    ErrorCode: str


class InternalStreamFailureEvent(TypedDict, total=False):
    Message: str


class ResponseStreamEvent(TypedDict, total=False):
    """One event of InvokeEndpointWithResponseStream's `Body`: a payload part or an error."""

    PayloadPart: PayloadPart
    ModelStreamError: ModelStreamErrorEvent
    InternalStreamFailure: InternalStreamFailureEvent


class InvokeEndpointOutput(TypedDict):
    Body: StreamingBody


class InvokeEndpointStreamOutput(TypedDict):
    Body: Iterable[ResponseStreamEvent]
    """botocore's EventStream: its events as dicts, closed with `close()`."""


class InvokeEndpointAsyncOutput(TypedDict, total=False):
    InferenceId: str
    OutputLocation: str
    FailureLocation: str


class RuntimeClient(Protocol):
    """boto3's sagemaker-runtime client."""

    def invoke_endpoint(self, **arguments: str) -> InvokeEndpointOutput: ...

    def invoke_endpoint_with_response_stream(self, **arguments: str) -> InvokeEndpointStreamOutput: ...

    def invoke_endpoint_async(
        self, *, EndpointName: str, InputLocation: str, ContentType: str, Accept: str
    ) -> InvokeEndpointAsyncOutput: ...


class DescribeEndpointOutput(TypedDict, total=False):
    EndpointConfigName: str
    EndpointStatus: str
    FailureReason: str


class AsyncOutputConfig(TypedDict, total=False):
    S3OutputPath: str
    S3FailurePath: str


class AsyncInferenceConfig(TypedDict, total=False):
    OutputConfig: AsyncOutputConfig


class DescribeEndpointConfigOutput(TypedDict, total=False):
    AsyncInferenceConfig: AsyncInferenceConfig


class SageMakerClient(Protocol):
    """boto3's sagemaker (control plane) client: what tells an endpoint's state."""

    def describe_endpoint(self, *, EndpointName: str) -> DescribeEndpointOutput: ...

    def describe_endpoint_config(self, *, EndpointConfigName: str) -> DescribeEndpointConfigOutput: ...


class GetObjectOutput(TypedDict):
    Body: StreamingBody


class S3Client(Protocol):
    """boto3's s3 client: the async inputs go up, the answers come down."""

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str) -> object: ...

    def get_object(self, *, Bucket: str, Key: str) -> GetObjectOutput: ...
