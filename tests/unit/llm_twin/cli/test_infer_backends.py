"""`llm-twin infer` prints the same text and the same `--json` events on both backends.

The endpoint's answers are recorded bytes (TGI's generate_stream and vLLM's completion stream),
replayed to a real boto3 client; everything above the HTTP body is the real code: the settings
(SERVING_BACKEND), the book's class, its body and parser, the CLI's output.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from llm_twin.cli import context
from llm_twin.cli.main import main
from llm_twin.client.endpoint import LLMInferenceSagemakerEndpoint, runtime_config
from llm_twin.config import Settings
from llm_twin.config.credentials import Credentials
from llm_twin.protocol.eventstream import payload_part
from tests.support.aws_answers import Answer, Replay
from tests.support.streams import random_split, recorded

pytestmark = pytest.mark.timeout(60)

RECORDED = {"tgi": "generate_stream.sse", "vllm": "completion_stream.sse"}
TEXT = {"tgi": "Hello, world!\n", "vllm": " Paris is the capital.\n"}


def infer(
    backend: str, answer: Answer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[Result, Replay]:
    runtime = Replay("sagemaker-runtime", [answer], config=runtime_config())

    def from_settings(settings: Settings, **_: object) -> LLMInferenceSagemakerEndpoint:
        return LLMInferenceSagemakerEndpoint(
            settings.names.endpoint, runtime.client, backend=settings.model.backend
        )

    monkeypatch.setattr(LLMInferenceSagemakerEndpoint, "from_settings", from_settings)
    monkeypatch.setattr(
        context, "inference_identity", lambda settings: Credentials("AKIAINFERENCE", "secret")
    )
    env = {
        "TARGET": "aws",
        "SERVING_BACKEND": backend,
        "LLM_TWIN_STATE_DIR": str(tmp_path),
        "AWS_ACCESS_KEY_ID": "AKIAADMIN",
        "AWS_SECRET_ACCESS_KEY": "admin-secret",
    }
    result = CliRunner().invoke(
        main, ["--env-file", str(tmp_path / "none.env"), "infer", "Hi", *args], env=env
    )
    return result, runtime


def stream_of(backend: str) -> Answer:
    parts = random_split(recorded(RECORDED[backend]), 1)
    return Answer(
        200, b"".join(payload_part(p) for p in parts), {"Content-Type": "application/vnd.amazon.eventstream"}
    )


@pytest.mark.parametrize("backend", ["tgi", "vllm"])
def test_the_text_is_printed_as_it_streams(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, runtime = infer(backend, stream_of(backend), tmp_path, monkeypatch, "--max-new-tokens", "8")

    assert result.exit_code == 0, result.output
    assert result.stdout == TEXT[backend] + "\n"
    assert ("inputs" if backend == "tgi" else "prompt") in runtime.bodies[0]


def test_json_events_have_the_same_keys_on_both_backends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shapes = {}
    for backend in ("tgi", "vllm"):
        result, _ = infer(backend, stream_of(backend), tmp_path, monkeypatch, "--json", "--temperature", "0")
        assert result.exit_code == 0, result.output
        events = [json.loads(line) for line in result.stdout.splitlines()]
        assert events[-1] == {
            "event": "result",
            "text": TEXT[backend],
            "finish_reason": "eos_token",
            "generated_tokens": 6,
        }
        shapes[backend] = {(e["event"], tuple(sorted(e))) for e in events}

    assert shapes["tgi"] == shapes["vllm"]


def test_greedy_options_reach_vllm_as_temperature_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ("--temperature", "0", "--max-new-tokens", "8", "--stop", "\n", "--seed", "3")
    _, runtime = infer("vllm", stream_of("vllm"), tmp_path, monkeypatch, *args)

    assert runtime.bodies == [
        {
            "prompt": "Hi",
            "max_tokens": 8,
            "temperature": 0,
            "seed": 3,
            "stop": ["\n"],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    ]


def test_a_vllm_refusal_is_one_line_with_vllms_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    message = "'max_tokens' or 'max_completion_tokens' is too large: 5000."
    original = json.dumps(
        {"error": {"message": message, "type": "BadRequestError", "param": None, "code": 400}}
    )
    refusal = Answer(
        424,
        json.dumps(
            {"Message": "Received client error (400)", "OriginalMessage": original, "OriginalStatusCode": 400}
        ).encode(),
        {"x-amzn-ErrorType": "ModelError:http://internal.amazon.com/coral/com.amazon.sagemaker/"},
    )
    result, _ = infer("vllm", refusal, tmp_path, monkeypatch, "--no-stream", "--max-new-tokens", "5000")

    assert result.exit_code == 1
    assert result.stderr == f"ValidationError: {message}\n"
