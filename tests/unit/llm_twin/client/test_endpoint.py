"""The endpoint client, offline: stream faults replayed from recorded bytes, one row per fault.

`tests/fixtures/streams/faults/*.eventstream` are the emulator's answers to one greedy
request under each LLM_TWIN_FAULT kind (recorded by `record.py` there). A real boto3
client decodes them, as it decodes SageMaker, and `LLMInferenceSagemakerEndpoint.stream()`
reads them: the same path as the live rows of `tests/unit/llm_twin_local/aws/runtime/test_faults.py`, with
no network, so any cut of the HTTP body can be tried.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import accumulate
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_twin.client.endpoint import GenerationResult, LLMInferenceSagemakerEndpoint, runtime_config
from llm_twin.client.stream.tgi import TokenEvent
from llm_twin.config import build_settings
from llm_twin.config.credentials import Credentials
from llm_twin.errors import IncompleteGenerationError, InferenceError, ModelStreamError
from tests.conftest import FIXTURES_DIR
from tests.support.streams import RawStream, random_split

pytestmark = pytest.mark.timeout(120)

RECORDED = FIXTURES_DIR / "streams" / "faults"
AFTER = 3
"""The recordings' breaking faults strike after this many PayloadParts."""


def recorded(kind: str) -> bytes:
    return (RECORDED / f"{kind}.eventstream").read_bytes()


class Replay:
    """A real boto3 sagemaker-runtime client whose streaming calls answer `body`, cut as `cuts` says."""

    def __init__(self) -> None:
        self.body = b""
        self.cuts: list[int] = []
        self.raw: RawStream | None = None
        """The HTTP body of the last call, to see whether it was closed."""
        self.client = boto3.client(
            "sagemaker-runtime",
            region_name="eu-central-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        self.client.meta.events.register(
            "before-send.sagemaker-runtime.InvokeEndpointWithResponseStream", self._respond
        )

    def _respond(self, request: Any, **_: object) -> AWSResponse:
        points = [0, *sorted(set(self.cuts)), len(self.body)]
        parts = [self.body[start:end] for start, end in zip(points, points[1:], strict=False)]
        headers = {"Content-Type": "application/vnd.amazon.eventstream", "x-amzn-requestid": "replay"}
        self.raw = RawStream(parts)
        return AWSResponse(request.url, 200, headers, self.raw)

    def stream(self, body: bytes, cuts: list[int]) -> Iterator[TokenEvent | GenerationResult]:
        self.body, self.cuts = body, cuts
        sdk = LLMInferenceSagemakerEndpoint("twin", self.client)
        sdk.set_payload("Write a haiku about the cloud", {"max_new_tokens": 12})
        return sdk.stream()

    def outcome(self, body: bytes, cuts: list[int]) -> tuple[list[TokenEvent], object]:
        """The events `stream()` yields, then its GenerationResult or the error it raised."""
        events: list[TokenEvent] = []
        try:
            for event in self.stream(body, cuts):
                if isinstance(event, GenerationResult):
                    return events, event
                events.append(event)
        except InferenceError as exc:
            return events, (type(exc), str(exc), exc.partial_text)
        raise AssertionError("stream() ended without a result")


@pytest.fixture(scope="module")
def replay() -> Replay:
    return Replay()


@pytest.fixture(scope="module")
def clean(replay: Replay) -> tuple[list[TokenEvent], GenerationResult]:
    events, result = replay.outcome(recorded("clean"), [])
    assert isinstance(result, GenerationResult)
    return events, result


def text_of(events: list[TokenEvent]) -> str:
    return "".join(e.token.text for e in events if not e.token.special)


def test_the_clean_recording_is_a_whole_generation(clean: tuple[list[TokenEvent], GenerationResult]) -> None:
    events, result = clean
    assert [e.index for e in events] == list(range(1, 13))
    assert result == GenerationResult(text_of(events), "length", 12)
    assert not result.text.isascii()  # so split_utf8 had characters to split


@pytest.mark.parametrize("kind", ["split_lines", "split_utf8", "coalesce", "no_final_newline"])
@pytest.mark.parametrize("seed", range(3))
def test_a_recut_stream_gives_the_clean_events_and_result(
    replay: Replay, clean: tuple[list[TokenEvent], GenerationResult], kind: str, seed: int
) -> None:
    body = recorded(kind)
    cuts = list(accumulate(len(part) for part in random_split(body, seed)))

    assert replay.outcome(body, cuts) == clean


BREAKING = {
    "model_stream_error": (
        ModelStreamError,
        f"ModelStreamError: The model stream broke (injected by LLM_TWIN_FAULT=model_stream_error@{AFTER}).",
    ),
    "internal_stream_failure": (
        ModelStreamError,
        f"InternalStreamFailure: Internal stream failure (injected by LLM_TWIN_FAULT=internal_stream_failure@{AFTER}).",
    ),
    "tgi_error": (
        IncompleteGenerationError,
        f"Request failed during generation (injected by LLM_TWIN_FAULT=tgi_error@{AFTER})",
    ),
    "truncate": (
        IncompleteGenerationError,
        "endpoint 'twin' ended the stream before the generation's final event",
    ),
}


@pytest.mark.parametrize("kind", sorted(BREAKING))
def test_a_broken_stream_raises_exactly_its_error_keeping_the_first_tokens(
    replay: Replay, clean: tuple[list[TokenEvent], GenerationResult], kind: str
) -> None:
    error_type, message = BREAKING[kind]
    events, outcome = replay.outcome(recorded(kind), [])

    assert events == clean[0][:AFTER]
    assert outcome == (error_type, message, text_of(events))


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(sorted(p.stem for p in RECORDED.glob("*.eventstream"))), data=st.data())
def test_any_cut_of_any_recorded_body_gives_the_same_outcome(
    replay: Replay, kind: str, data: st.DataObject
) -> None:
    body = recorded(kind)
    cuts = data.draw(st.lists(st.integers(1, len(body) - 1), max_size=30))

    assert replay.outcome(body, cuts) == replay.outcome(body, [])


@pytest.mark.parametrize("kind", ["clean", "model_stream_error", "truncate"])
def test_the_http_body_is_closed_however_the_stream_ends(replay: Replay, kind: str) -> None:
    replay.outcome(recorded(kind), [])
    assert replay.raw is not None and replay.raw.closed


def test_a_consumer_that_stops_early_closes_the_http_body(replay: Replay) -> None:
    """The gateway stops reading when its browser goes away; the endpoint must see it go too."""
    stream = replay.stream(recorded("clean"), [])
    first = next(stream)
    assert isinstance(first, TokenEvent)
    assert replay.raw is not None and not replay.raw.closed
    stream.close()
    assert replay.raw.closed


# --- construction ----------------------------------------------------------------------------


def test_from_settings_calls_as_the_given_identity_in_the_configured_region_and_target() -> None:
    settings = build_settings({"target": "local", "region": "eu-west-1", "local.port": 4599})
    keys = Credentials(access_key_id="AKIAINFERENCE", secret_access_key="secret")

    llm = LLMInferenceSagemakerEndpoint.from_settings(settings, credentials=keys, read_timeout=7)

    assert llm.endpoint_name == settings.names.endpoint
    for client in (llm.client, llm.sagemaker_client):
        assert client.meta.region_name == "eu-west-1"
        assert client.meta.endpoint_url == "http://127.0.0.1:4599"
        assert client._request_signer._credentials.access_key == "AKIAINFERENCE"
    assert llm.client.meta.service_model.service_name == "sagemaker-runtime"
    assert llm.sagemaker_client.meta.service_model.service_name == "sagemaker"
    assert llm.client.meta.config.read_timeout == 7
    assert llm.client.meta.config.retries["total_max_attempts"] == 1


def test_a_copy_shares_the_clients_but_not_the_payload() -> None:
    llm = LLMInferenceSagemakerEndpoint("twin", object(), sagemaker_client=object(), throttle_backoff=0)
    llm.set_payload("first", {"seed": 1})

    fresh = llm.copy()

    assert (fresh.client, fresh.sagemaker_client) == (llm.client, llm.sagemaker_client)
    assert fresh.payload == llm.default_payload and fresh.payload is not llm.payload
    assert fresh.throttle_backoff == 0


def test_runtime_client_never_retries_by_itself() -> None:
    config = runtime_config(read_timeout=5)
    assert config.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert config.read_timeout == 5
