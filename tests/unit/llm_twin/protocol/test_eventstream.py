"""The event-stream encoder, decoded by botocore itself: framing, CRCs, and boto3's view."""

from __future__ import annotations

import random
from collections.abc import Iterator

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import EventStreamError
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_twin.client.stream.sagemaker import payload_parts
from llm_twin.client.stream.tgi import parse_generate_stream
from llm_twin.errors import ModelStreamError
from llm_twin.protocol.eventstream import (
    MAX_PAYLOAD_BYTES,
    encode_message,
    internal_stream_failure,
    model_stream_error,
    payload_part,
)
from tests.support.streams import RawStream, random_split

pytestmark = pytest.mark.timeout(60)

OPERATION = "InvokeEndpointWithResponseStream"


def decode(data: bytes) -> list[tuple[dict[str, object], bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return [(message.headers, message.payload) for message in buffer]


def boto3_body(data: bytes, seed: int = 0) -> Iterator[dict[str, object]]:
    """`response["Body"]` of a real boto3 client whose HTTP response carries `data`."""
    client = boto3.client(
        "sagemaker-runtime",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )

    def respond(request: object, **kwargs: object) -> AWSResponse:
        headers = {"Content-Type": "application/vnd.amazon.eventstream", "x-amzn-requestid": "test"}
        return AWSResponse(request.url, 200, headers, RawStream(random_split(data, seed)))

    client.meta.events.register(f"before-send.sagemaker-runtime.{OPERATION}", respond)
    response = client.invoke_endpoint_with_response_stream(EndpointName="twin", Body=b"{}")
    return iter(response["Body"])


# --- framing ---------------------------------------------------------------------------------


def test_empty_message_matches_the_reference_encoding() -> None:
    # The "empty message" vector of the AWS event-stream test suites.
    assert encode_message({}, b"").hex() == "000000100000000005c248eb7d98c8ff"


def test_payload_part_headers_and_payload() -> None:
    assert decode(payload_part(b"data:x\n\n")) == [
        (
            {
                ":event-type": "PayloadPart",
                ":message-type": "event",
                ":content-type": "application/octet-stream",
            },
            b"data:x\n\n",
        )
    ]


def test_model_stream_error_is_a_modeled_exception() -> None:
    [(headers, payload)] = decode(model_stream_error("too slow", "ModelInvocationTimeExceeded"))

    assert headers == {
        ":exception-type": "ModelStreamError",
        ":message-type": "exception",
        ":content-type": "application/json",
    }
    assert payload == b'{"Message": "too slow", "ErrorCode": "ModelInvocationTimeExceeded"}'


def test_internal_stream_failure_is_a_modeled_exception() -> None:
    [(headers, payload)] = decode(internal_stream_failure("oops"))

    assert (headers[":exception-type"], payload) == ("InternalStreamFailure", b'{"Message": "oops"}')


header_names = st.text(min_size=1, max_size=40).filter(lambda name: len(name.encode()) <= 255)


@settings(max_examples=200, deadline=None)
@given(
    messages=st.lists(
        st.tuples(st.dictionaries(header_names, st.text(max_size=60), max_size=5), st.binary(max_size=300)),
        min_size=1,
        max_size=6,
    ),
    data=st.data(),
)
def test_botocore_decodes_any_messages_in_any_chunking(
    messages: list[tuple[dict[str, str], bytes]], data: st.DataObject
) -> None:
    stream = b"".join(encode_message(headers, payload) for headers, payload in messages)
    points = sorted(set(data.draw(st.lists(st.integers(0, len(stream)), max_size=20))))
    buffer = EventStreamBuffer()
    decoded = []
    for start, end in zip([0, *points], [*points, len(stream)], strict=True):
        buffer.add_data(stream[start:end])
        decoded.extend((message.headers, message.payload) for message in buffer)

    assert decoded == messages


def test_a_header_name_longer_than_255_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="header name"):
        encode_message({"é" * 128: "x"}, b"")


def test_an_empty_header_name_is_refused() -> None:
    with pytest.raises(ValueError, match="header name"):
        encode_message({"": "x"}, b"")


def test_a_header_value_longer_than_32767_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="value"):
        encode_message({"name": "x" * 32768}, b"")


def test_a_payload_over_the_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="payload"):
        payload_part(bytes(MAX_PAYLOAD_BYTES + 1))


def test_the_largest_values_still_decode() -> None:
    headers = {"n" * 255: "v" * 32767}

    assert decode(encode_message(headers, b"p")) == [(headers, b"p")]


# --- what boto3 shows ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_boto3_shows_payload_parts_as_bytes(seed: int) -> None:
    # Bytes pass through untouched, even a character split between parts, or no bytes at all.
    parts = [b"data:{", "日".encode()[:2], "日".encode()[2:] + b"}\n\n", b""]
    stream = b"".join(payload_part(part) for part in parts)

    assert list(boto3_body(stream, seed)) == [{"PayloadPart": {"Bytes": part}} for part in parts]


def test_boto3_raises_model_stream_error_as_real_sagemaker_does() -> None:
    body = boto3_body(payload_part(b"a") + model_stream_error("took too long", "ModelInvocationTimeExceeded"))

    assert next(body) == {"PayloadPart": {"Bytes": b"a"}}
    with pytest.raises(EventStreamError) as caught:
        next(body)
    assert caught.value.response["Error"] == {"Code": "ModelStreamError", "Message": "took too long"}


def test_boto3_raises_internal_stream_failure_as_real_sagemaker_does() -> None:
    body = boto3_body(internal_stream_failure("internal"))

    with pytest.raises(EventStreamError) as caught:
        next(body)
    assert caught.value.response["Error"] == {"Code": "InternalStreamFailure", "Message": "internal"}


def test_unknown_event_types_reach_boto3_users_as_nothing() -> None:
    unknown = encode_message({":event-type": "SomeFutureEvent", ":message-type": "event"}, b"{}")
    body = boto3_body(payload_part(b"a") + unknown + payload_part(b"b"))

    assert list(payload_parts(body)) == [b"a", b"b"]


# --- end to end: emulator bytes -> boto3 -> parser -------------------------------------------


def token_event(index: int, text: str) -> bytes:
    return (
        f'data:{{"index":{index},"token":{{"id":{index},"text":"{text}","logprob":-0.5,"special":false}},'
        f'"generated_text":null,"details":null}}\n\n'
    ).encode()


@pytest.mark.parametrize("seed", range(3))
def test_tokens_arrive_through_boto3_whatever_the_framing(seed: int) -> None:
    sse = token_event(1, "Hel") + token_event(2, "lo 日本")
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(sse)), 5))
    frames = [sse[start:end] for start, end in zip([0, *cuts], [*cuts, len(sse)], strict=True)]
    stream = b"".join(payload_part(frame) for frame in frames)

    events = list(parse_generate_stream(payload_parts(boto3_body(stream, seed))))

    assert "".join(event.token.text for event in events) == "Hello 日本"


@pytest.mark.parametrize(
    "failure",
    [model_stream_error("broken", "StreamBroken"), internal_stream_failure("internal")],
    ids=["ModelStreamError", "InternalStreamFailure"],
)
def test_a_stream_failure_through_boto3_raises_model_stream_error_with_the_text_so_far(
    failure: bytes,
) -> None:
    stream = payload_part(token_event(1, "Hel")) + failure

    with pytest.raises(ModelStreamError) as caught:
        list(parse_generate_stream(payload_parts(boto3_body(stream))))
    assert caught.value.partial_text == "Hel"
