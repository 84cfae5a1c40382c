"""SageMaker's response stream (`InvokeEndpointWithResponseStream`'s `Body`) as plain bytes.

SageMaker hands back the container's bytes cut into `PayloadPart`s at arbitrary byte
boundaries, between error events of its own. `payload_parts` is a generator over the event
dicts, so it is tested with no network; `guarded_parts` adds the transport: botocore's and
urllib3's failures become our errors, and the HTTP body is closed however reading ends.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator

from botocore.eventstream import EventStream
from botocore.exceptions import BotoCoreError, ConnectionClosedError, ReadTimeoutError
from urllib3.exceptions import ProtocolError
from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeoutError

from llm_twin.client.aws_api import ResponseStreamEvent
from llm_twin.errors import InferenceError, ModelStreamError, StreamTimeoutError

__all__ = ["guarded_parts", "payload_parts"]


def payload_parts(event_stream: Iterable[ResponseStreamEvent]) -> Iterator[bytes]:
    """Yield the bytes of each `PayloadPart` of a SageMaker response stream (`response["Body"]`).

    `ModelStreamError` and `InternalStreamFailure` raise `ModelStreamError`, whether they
    arrive as event dicts or as the `EventStreamError` botocore raises for a modeled
    exception. Unknown event keys are skipped, so a newer service model cannot break us.
    """
    try:
        for event in event_stream:
            part = event.get("PayloadPart")
            if part is not None:
                yield part["Bytes"]
                continue
            error = event.get("ModelStreamError")
            if error is not None:
                code = error.get("ErrorCode", "unknown")
                raise ModelStreamError(f"ModelStreamError ({code}): {error.get('Message', '')}")
            failure = event.get("InternalStreamFailure")
            if failure is not None:
                raise ModelStreamError(f"InternalStreamFailure: {failure.get('Message', '')}")
    except Exception as exc:
        mapped = _model_stream_error_from_client_error(exc)
        if mapped is None:
            raise
        raise mapped from exc


def _model_stream_error_from_client_error(exc: Exception) -> ModelStreamError | None:
    # botocore raises EventStreamError (a ClientError) for `:message-type: exception` events,
    # with the shape name as the code and without the shape's ErrorCode. Duck-typed, so a
    # stream that is not botocore's (a test's list of dicts) passes through the same code.
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    error = response.get("Error") or {}
    code = error.get("Code")
    if code not in ("ModelStreamError", "InternalStreamFailure"):
        return None
    return ModelStreamError(f"{code}: {error.get('Message', '')}")


def guarded_parts(event_stream: EventStream, endpoint_name: str) -> Generator[bytes]:
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
    # urllib3's own errors escape botocore when the event stream reads the body directly.
    except Urllib3ReadTimeoutError as exc:
        raise StreamTimeoutError(f"endpoint {endpoint_name!r} sent no byte within the read timeout") from exc
    except ProtocolError as exc:
        raise ModelStreamError(f"the stream of {endpoint_name!r} broke: {exc}") from exc
    finally:
        event_stream.close()
