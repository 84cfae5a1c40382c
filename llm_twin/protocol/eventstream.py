"""Encode AWS event-stream messages (`application/vnd.amazon.eventstream`).

The embedded emulator answers `InvokeEndpointWithResponseStream` with these bytes, so
boto3 must decode them exactly as it decodes real SageMaker's. One message is:

    prelude    total length (uint32) | headers length (uint32) | CRC32 of those 8 bytes
    headers    per header: name length (uint8) | name | type 7 = string | length (uint16) | value
    payload    raw bytes
    trailer    CRC32 of everything before it

All integers are big-endian; the CRC is CRC-32 (IEEE), as `zlib.crc32` computes it.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping

__all__ = [
    "MAX_HEADERS_BYTES",
    "MAX_PAYLOAD_BYTES",
    "encode_message",
    "internal_stream_failure",
    "model_stream_error",
    "payload_part",
]

MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
"""The largest payload every supported botocore decodes in one message (newer ones take 24 MiB)."""
MAX_HEADERS_BYTES = 128 * 1024
"""The largest headers section botocore's decoder accepts in one message."""

_STRING_HEADER_TYPE = 7
_PRELUDE_BYTES = 8
_CRC_BYTES = 4
_MAX_HEADER_NAME_BYTES = 255
_MAX_HEADER_VALUE_BYTES = 32767


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event-stream message with string headers, in the order given.

    Raises `ValueError` when a header or the payload is too large for the format.
    """
    encoded_headers = b"".join(_encode_header(name, value) for name, value in headers.items())
    if len(encoded_headers) > MAX_HEADERS_BYTES:
        raise ValueError(f"headers take {len(encoded_headers)} bytes; the limit is {MAX_HEADERS_BYTES}")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload is {len(payload)} bytes; the limit is {MAX_PAYLOAD_BYTES}")
    total_length = _PRELUDE_BYTES + _CRC_BYTES + len(encoded_headers) + len(payload) + _CRC_BYTES
    prelude = struct.pack(">II", total_length, len(encoded_headers))
    message = b"".join((prelude, struct.pack(">I", zlib.crc32(prelude)), encoded_headers, bytes(payload)))
    return message + struct.pack(">I", zlib.crc32(message))


def payload_part(data: bytes) -> bytes:
    """A `PayloadPart` event: boto3 shows it as `{"PayloadPart": {"Bytes": data}}`.

    The service model marks `PayloadPart.Bytes` as the event payload (a blob), so the
    payload is `data` itself, not a JSON document.
    """
    return encode_message(
        {
            ":event-type": "PayloadPart",
            ":message-type": "event",
            ":content-type": "application/octet-stream",
        },
        data,
    )


def model_stream_error(message: str, error_code: str) -> bytes:
    """SageMaker's `ModelStreamError` exception event (e.g. code `ModelInvocationTimeExceeded`).

    botocore raises it from the event stream as `EventStreamError` with
    `response["Error"] == {"Code": "ModelStreamError", "Message": message}`.
    """
    return _exception("ModelStreamError", {"Message": message, "ErrorCode": error_code})


def internal_stream_failure(message: str) -> bytes:
    """SageMaker's `InternalStreamFailure` exception event; botocore raises it like `model_stream_error`."""
    return _exception("InternalStreamFailure", {"Message": message})


def _exception(exception_type: str, body: dict[str, str]) -> bytes:
    # A modeled exception: botocore picks the shape by `:exception-type` and parses the
    # JSON payload against it (BaseEventStreamParser._do_error_parse).
    return encode_message(
        {
            ":exception-type": exception_type,
            ":message-type": "exception",
            ":content-type": "application/json",
        },
        json.dumps(body).encode(),
    )


def _encode_header(name: str, value: str) -> bytes:
    name_bytes = name.encode()
    value_bytes = value.encode()
    if not 0 < len(name_bytes) <= _MAX_HEADER_NAME_BYTES:
        raise ValueError(f"header name {name!r} must be 1 to {_MAX_HEADER_NAME_BYTES} bytes")
    if len(value_bytes) > _MAX_HEADER_VALUE_BYTES:
        raise ValueError(f"header {name!r} value must be at most {_MAX_HEADER_VALUE_BYTES} bytes")
    return b"".join(
        (
            struct.pack(">B", len(name_bytes)),
            name_bytes,
            struct.pack(">BH", _STRING_HEADER_TYPE, len(value_bytes)),
            value_bytes,
        )
    )
