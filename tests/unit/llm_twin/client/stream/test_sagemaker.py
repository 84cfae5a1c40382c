"""SageMaker's response-stream events as bytes: payload parts, error events, botocore's errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import EventStreamError

from llm_twin.client.stream.sagemaker import payload_parts
from llm_twin.errors import ModelStreamError
from tests.support.streams import HELLO, event_json, raised

pytestmark = pytest.mark.timeout(60)


def test_payload_parts_yields_the_bytes_in_order() -> None:
    body = [{"PayloadPart": {"Bytes": b"ab"}}, {"PayloadPart": {"Bytes": b"c"}}]

    assert list(payload_parts(body)) == [b"ab", b"c"]


def test_unknown_event_keys_are_ignored() -> None:
    body = [
        {"PayloadPart": {"Bytes": b"a"}},
        {"SomeFutureEvent": {"X": 1}},
        {},
        {"PayloadPart": {"Bytes": b"b"}},
    ]

    assert list(payload_parts(body)) == [b"a", b"b"]


def test_model_stream_error_event_raises() -> None:
    body = [{"ModelStreamError": {"Message": "took too long", "ErrorCode": "ModelInvocationTimeExceeded"}}]

    with pytest.raises(ModelStreamError, match="ModelInvocationTimeExceeded.*took too long"):
        list(payload_parts(body))


def test_internal_stream_failure_event_raises() -> None:
    with pytest.raises(ModelStreamError, match="InternalStreamFailure: oops"):
        list(payload_parts([{"InternalStreamFailure": {"Message": "oops"}}]))


@pytest.mark.parametrize("code", ["ModelStreamError", "InternalStreamFailure"])
def test_botocore_event_stream_error_raises_model_stream_error(code: str) -> None:
    def body() -> Iterator[dict[str, object]]:
        yield {"PayloadPart": {"Bytes": b"a"}}
        raise EventStreamError(
            {"Error": {"Code": code, "Message": "boom"}}, "InvokeEndpointWithResponseStream"
        )

    with pytest.raises(ModelStreamError, match=f"{code}: boom"):
        list(payload_parts(body()))


def test_other_errors_from_the_event_stream_pass_through() -> None:
    def body() -> Iterator[dict[str, object]]:
        raise EventStreamError({"Error": {"Code": "Throttling", "Message": "x"}}, "Op")
        yield {}

    with pytest.raises(EventStreamError):
        list(payload_parts(body()))


def test_model_stream_error_mid_generation_carries_the_text_so_far() -> None:
    body = [
        {"PayloadPart": {"Bytes": f"data:{event_json(1, HELLO)}\n\n".encode()}},
        {"ModelStreamError": {"Message": "broken", "ErrorCode": "StreamBroken"}},
    ]

    assert raised(payload_parts(body)).partial_text == "Hello"
