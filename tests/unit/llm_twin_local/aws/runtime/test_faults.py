"""The runtime's injected faults against the real client, one row per fault kind.

Emulator-wide knobs come through the emulator's environment, as LLM_TWIN_CHUNK_JITTER
does (see `llm_twin_local.aws.runtime.faults`): one emulator throttles, another stalls every stream.
A request's CustomAttributes `llm-twin-fault=...` replaces the stall with its own fault
(or none), so the stalling emulator also serves every other stream fault. Real emulator,
real model server, real boto3, and `llm-twin infer` as a real process. Every test is
bounded by its timeout: no fault hangs.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from llm_twin.client.endpoint import LLMInferenceSagemakerEndpoint, runtime_config
from llm_twin.client.stream import TokenEvent, parse_generate_stream, payload_parts
from llm_twin.errors import (
    AwsError,
    IncompleteGenerationError,
    InferenceError,
    ModelStreamError,
    StreamTimeoutError,
)
from llm_twin_local.aws.daemon import LocalAws
from tests.conftest import client
from tests.support.runtime import (
    GREEDY_WITH_DETAILS,
    deploy,
    first_output,
    infer_process,
    running_emulator,
    server_of,
    stream_events,
    wait_status,
)

pytestmark = pytest.mark.stack

PROMPT = "Write a haiku about the cloud"
STALL_AFTER_PARTS = 3
STALL_SECONDS = 30
"""Far longer than any read timeout below, and short enough that no stalled thread lingers."""


def _serving(
    tmp_path_factory: pytest.TempPathFactory, model_dir: Path, *names: str, **env: str
) -> Iterator[LocalAws]:
    """An emulator with `env` in its environment, serving the tiny model as endpoint "e" and `names`.

    The endpoints start side by side; the timeout allows for a machine busy with other tests.
    """
    with running_emulator(tmp_path_factory.mktemp("runtime"), **env) as emulator:
        sagemaker = client(emulator.port, "sagemaker")
        for name in ("e", *names):
            deploy(sagemaker, name, model_dir)
        for name in ("e", *names):
            wait_status(sagemaker, name, "InService", timeout=180)
        yield emulator


@pytest.fixture(scope="module")
def throttling(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Iterator[LocalAws]:
    yield from _serving(tmp_path_factory, tiny_model, LLM_TWIN_THROTTLE_FIRST="4")


@pytest.fixture(scope="module")
def stalling(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Iterator[LocalAws]:
    yield from _serving(
        tmp_path_factory,
        tiny_model,
        "doomed",
        LLM_TWIN_STALL_AFTER_PARTS=str(STALL_AFTER_PARTS),
        LLM_TWIN_STALL_SECONDS=str(STALL_SECONDS),
    )


def _runtime(port: int, read_timeout: float = 60.0):
    session = boto3.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="eu-central-1"
    )
    return session.client(
        "sagemaker-runtime", endpoint_url=f"http://127.0.0.1:{port}", config=runtime_config(read_timeout)
    )


# -- payload parts cut at random byte boundaries --------------------------------------


def test_chunk_jitter_yields_identical_events(
    tmp_path_factory: pytest.TempPathFactory, emulator: LocalAws, endpoint: dict, tiny_model: Path
) -> None:
    """The shared emulator's endpoint "e" streams the oracle; a jittery emulator must parse to the same."""
    expected, plain_parts = stream_events(emulator.port, "e", GREEDY_WITH_DETAILS)
    with running_emulator(
        tmp_path_factory.mktemp("runtime"), LLM_TWIN_CHUNK_JITTER="1", LLM_TWIN_CHUNK_JITTER_SEED="3"
    ) as other:
        sagemaker = client(other.port, "sagemaker")
        deploy(sagemaker, "e", tiny_model)
        wait_status(sagemaker, "e", "InService")
        events, jitter_parts = stream_events(other.port, "e", GREEDY_WITH_DETAILS)
    assert events == expected
    assert jitter_parts > 3 * plain_parts


# -- throttling before the first byte -------------------------------------------------


def test_throttling_is_aws_shaped_retried_once_then_surfaced(throttling: LocalAws) -> None:
    """The emulator throttles its first 4 invocations: one raw call, then 2 + 1 through the client.

    In that order, on one emulator, because the count is the emulator's: the client's
    second call sees two throttles in a row (the N=2 case), its third sees one (N=1).
    """
    with pytest.raises(ClientError) as caught:
        _runtime(throttling.port).invoke_endpoint(EndpointName="e", Body=b"{}")
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    assert caught.value.response["Error"]["Message"].startswith("Rate exceeded")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    sdk = LLMInferenceSagemakerEndpoint("e", _runtime(throttling.port), throttle_backoff=0.1)
    sdk.set_payload(PROMPT, {"max_new_tokens": 4, "do_sample": False})
    with pytest.raises(AwsError) as surfaced:
        sdk.inference()
    assert str(surfaced.value).startswith(
        "endpoint 'e' is throttling requests (ThrottlingException), still after one retry 0.1s later"
    )
    assert "Rate exceeded" in str(surfaced.value)

    assert sdk.generate().generated_tokens  # throttled once more, and the single retry gets through


# -- a stream that goes silent ----------------------------------------------------------


@pytest.mark.timeout(60, func_only=True)
def test_a_stalled_stream_times_out_keeping_the_partial_text(stalling: LocalAws) -> None:
    sdk = LLMInferenceSagemakerEndpoint("e", _runtime(stalling.port, read_timeout=1.0))
    sdk.set_payload(PROMPT, {"max_new_tokens": 64, "do_sample": False})
    received: list[TokenEvent] = []
    started = time.monotonic()
    with pytest.raises(StreamTimeoutError) as caught:
        for event in sdk.stream():
            received.append(event)  # type: ignore[arg-type]
    assert time.monotonic() - started < STALL_SECONDS / 2
    assert 1 <= len(received) <= STALL_AFTER_PARTS
    assert caught.value.partial_text == "".join(e.token.text for e in received if not e.token.special)
    assert caught.value.partial_text


@pytest.mark.timeout(90, func_only=True)
def test_ctrl_c_mid_stream_exits_130_keeping_the_printed_text(stalling: LocalAws, tmp_path: Path) -> None:
    """`llm-twin infer` as a real process; SIGINT once text arrived, while the stream is stalled."""
    process = infer_process(stalling, tmp_path, "e", PROMPT, "64")
    try:
        first = first_output(process, timeout=45)
        process.send_signal(signal.SIGINT)
        rest, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stdout, errors = (first + rest).decode(), stderr.decode()
    assert process.returncode == 130, errors
    assert stdout.startswith(first.decode()) and stdout.strip() and stdout.endswith("\n")
    assert "Interrupted: the generation was stopped" in errors
    assert "Traceback" not in errors


# -- the model server killed mid-generation ---------------------------------------------


@pytest.mark.timeout(90, func_only=True)
def test_a_killed_model_server_fails_the_endpoint_and_the_cli_exits_1_keeping_the_text(
    stalling: LocalAws, tmp_path: Path
) -> None:
    """SIGKILL while the stream is stalled after its first parts: the stall ends with the server.

    The stall makes the timing certain: the server is mid-generation (400 tokens) and the
    client has printed text when the kill lands.
    """
    sagemaker = client(stalling.port, "sagemaker")
    server = server_of(stalling, "doomed")
    process = infer_process(stalling, tmp_path, "doomed", PROMPT, "400")
    try:
        first = first_output(process, timeout=45)
        os.kill(server, signal.SIGKILL)
        rest, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stdout = (first + rest).decode()
    assert (process.returncode, stderr.decode()) == (
        1,
        "ModelStreamError: InternalStreamFailure: The model container of variant AllTraffic went away "
        "mid-stream.\n",
    )
    assert stdout.startswith(first.decode()) and stdout.strip() and stdout.endswith("\n")

    failed = wait_status(sagemaker, "doomed", "Failed")
    assert failed["FailureReason"].startswith(
        "The primary container for production variant AllTraffic exited with code -9."
    )
    again = infer_process(stalling, tmp_path, "doomed", PROMPT, "4")
    stdout_again, stderr_again = again.communicate(timeout=60)
    assert again.returncode == 1 and not stdout_again.strip()
    assert stderr_again.decode().startswith("EndpointFailedError: endpoint 'doomed' failed: ")
    assert "exited with code -9" in stderr_again.decode()


# -- stream faults, picked per request on the stalling emulator ------------------------

GREEDY = {
    "max_new_tokens": 32,
    "do_sample": False,
    "temperature": None,
    "top_p": None,
    "details": True,
    "return_full_text": False,
}
"""Greedy decoding of the tiny model (null removes the SDK's sampling defaults): deterministic,
and its text has multi-byte characters."""


@dataclass(frozen=True)
class CleanStream:
    """What the endpoint sends without a fault: the oracle of every row."""

    parts: list[bytes]
    events: list[TokenEvent]
    text: str
    """The non-streaming generation of the same request."""


@pytest.fixture(scope="module")
def clean(stalling: LocalAws) -> CleanStream:
    parts = _raw_parts(stalling.port, "none")
    sdk = LLMInferenceSagemakerEndpoint("e", _runtime(stalling.port))
    sdk.set_payload(PROMPT, GREEDY)
    return CleanStream(parts, list(parse_generate_stream(parts)), sdk.inference())


def _with_fault(runtime, fault: str):
    """`runtime`, sending CustomAttributes `llm-twin-fault=<fault>` with every streaming call."""

    def add_attribute(params: dict, **_: object) -> None:
        params["CustomAttributes"] = f"llm-twin-fault={fault}"

    runtime.meta.events.register(
        "before-parameter-build.sagemaker-runtime.InvokeEndpointWithResponseStream", add_attribute
    )
    return runtime


def _raw_parts(port: int, fault: str) -> list[bytes]:
    runtime = _with_fault(_runtime(port), fault)
    body = json.dumps({"inputs": PROMPT, "parameters": GREEDY, "stream": True})
    response = runtime.invoke_endpoint_with_response_stream(
        EndpointName="e", Body=body, ContentType="application/json"
    )
    return list(payload_parts(response["Body"]))


def _splits_a_character(parts: list[bytes]) -> bool:
    def invalid(part: bytes) -> bool:
        try:
            part.decode()
        except UnicodeDecodeError:
            return True
        return False

    return any(invalid(part) for part in parts)


def test_the_clean_stream_is_what_the_rows_need(clean: CleanStream) -> None:
    """Preconditions: one event per part, a multi-byte character, and the same text both ways."""
    assert len(clean.parts) == len(clean.events) == GREEDY["max_new_tokens"]
    assert not clean.text.isascii()
    assert _text(clean.events) == clean.text == clean.events[-1].generated_text


RESHAPING_ROWS = {
    # fault: (what the client sees of the parts, checked on the parts and the clean stream)
    "split_lines": lambda parts, clean: (
        len(parts) >= 2 * len(clean.parts)
        and not any(part.startswith(b"data:") and part.endswith(b"\n") for part in parts)
    ),
    "split_utf8": lambda parts, clean: _splits_a_character(parts) and not _splits_a_character(clean.parts),
    "coalesce": lambda parts, clean: len(parts) == 1,
    "no_final_newline": lambda parts, clean: parts[-1].endswith(b"}"),
}


@pytest.mark.timeout(60, func_only=True)
@pytest.mark.parametrize("fault", sorted(RESHAPING_ROWS))
def test_recut_streams_parse_to_the_very_same_events(
    stalling: LocalAws, clean: CleanStream, fault: str
) -> None:
    parts = _raw_parts(stalling.port, fault)

    assert RESHAPING_ROWS[fault](parts, clean)
    expected_bytes = b"".join(clean.parts)
    if fault == "no_final_newline":
        expected_bytes = expected_bytes.rstrip(b"\n")
    assert b"".join(parts) == expected_bytes
    assert list(parse_generate_stream(parts)) == clean.events


AFTER = 3
BREAKING_ROWS = {
    # fault: (the error the client raises, its exact message or, for a reset, its start)
    "model_stream_error": (
        ModelStreamError,
        f"ModelStreamError: The model stream broke (injected by LLM_TWIN_FAULT=model_stream_error@{AFTER}).",
    ),
    "internal_stream_failure": (
        ModelStreamError,
        "InternalStreamFailure: Internal stream failure "
        f"(injected by LLM_TWIN_FAULT=internal_stream_failure@{AFTER}).",
    ),
    "tgi_error": (
        IncompleteGenerationError,
        f"Request failed during generation (injected by LLM_TWIN_FAULT=tgi_error@{AFTER})",
    ),
    "reset": (ModelStreamError, "the stream of 'e' broke: "),
    "truncate": (
        IncompleteGenerationError,
        "endpoint 'e' ended the stream before the generation's final event",
    ),
}


@pytest.mark.timeout(60, func_only=True)
@pytest.mark.parametrize("fault", sorted(BREAKING_ROWS))
def test_a_broken_stream_raises_its_error_keeping_the_partial_text(
    stalling: LocalAws, clean: CleanStream, fault: str
) -> None:
    expected_type, expected_message = BREAKING_ROWS[fault]
    sdk = LLMInferenceSagemakerEndpoint("e", _with_fault(_runtime(stalling.port), f"{fault}@{AFTER}"))
    sdk.set_payload(PROMPT, GREEDY)
    received: list[TokenEvent] = []
    with pytest.raises(InferenceError) as caught:
        for event in sdk.stream():
            received.append(event)  # type: ignore[arg-type]

    assert type(caught.value) is expected_type
    if fault == "reset":  # urllib3's wording follows: a reset (ECONNRESET), not a clean close
        assert str(caught.value).startswith(expected_message)
        assert "Connection reset by peer" in str(caught.value), str(caught.value)
    else:
        assert str(caught.value) == expected_message
    assert received == clean.events[: len(received)] and len(received) >= AFTER
    assert caught.value.partial_text == _text(received)
    assert clean.text.startswith(caught.value.partial_text)


def _text(events: list[TokenEvent]) -> str:
    return "".join(e.token.text for e in events if not e.token.special)
