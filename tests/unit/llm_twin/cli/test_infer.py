"""`llm-twin infer` through CliRunner, against the shared applied local stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from llm_twin.cli.main import main
from llm_twin.control.deploy.deployment import Deployment

PROMPT = "Write a haiku about the cloud"


def _run(env: dict[str, str], tmp_path: Path, *args: str, stdin: str | bytes | None = None):
    runner = CliRunner()
    return runner.invoke(
        main, ["--env-file", str(tmp_path / "none.env"), "infer", *args], env=env, input=stdin
    )


@pytest.fixture
def env(applied_stack: Deployment, shared_env: dict[str, str]) -> dict[str, str]:
    return shared_env


@pytest.mark.stack
def test_json_events_then_a_result(env: dict[str, str], tmp_path: Path) -> None:
    result = _run(env, tmp_path, PROMPT, "--json", "--max-new-tokens", "8", "--seed", "1")
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["event"] for e in events] == ["token"] * (len(events) - 1) + ["result"]
    assert events[-1]["text"] == "".join(e["text"] for e in events[:-1] if not e["special"])
    assert events[-1]["generated_tokens"] == 8


@pytest.mark.stack
def test_streamed_text_equals_no_stream_text(env: dict[str, str], tmp_path: Path) -> None:
    streamed = _run(env, tmp_path, PROMPT, "--max-new-tokens", "8", "--temperature", "0")
    whole = _run(env, tmp_path, PROMPT, "--max-new-tokens", "8", "--temperature", "0", "--no-stream")
    assert streamed.exit_code == whole.exit_code == 0, streamed.output + whole.output
    assert streamed.stdout == whole.stdout and streamed.stdout.strip()


@pytest.mark.stack
def test_prompt_from_stdin(env: dict[str, str], tmp_path: Path) -> None:
    piped = _run(env, tmp_path, "-", "--max-new-tokens", "6", "--temperature", "0", stdin=PROMPT)
    argument = _run(env, tmp_path, PROMPT, "--max-new-tokens", "6", "--temperature", "0")
    assert piped.exit_code == 0 and piped.stdout == argument.stdout


@pytest.mark.stack
def test_chat(env: dict[str, str], tmp_path: Path) -> None:
    result = _run(env, tmp_path, PROMPT, "--chat", "--json", "--max-new-tokens", "6", "--stop", "\n\n")
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert {e["event"] for e in events[:-1]} <= {"delta"} and events[-1]["event"] == "result"


@pytest.mark.stack
def test_unknown_endpoint_exits_1_with_name_and_message(env: dict[str, str], tmp_path: Path) -> None:
    result = _run(env, tmp_path, PROMPT, "--endpoint", "nope")
    assert result.exit_code == 1
    assert result.stderr.startswith("EndpointNotFoundError: ")


def test_a_stopped_emulator_is_named(tmp_path: Path) -> None:
    result = _run(
        {"TARGET": "local", "LLM_TWIN_STATE_DIR": str(tmp_path), "LOCAL_AWS_PORT": "1"}, tmp_path, PROMPT
    )
    assert result.exit_code == 1 and result.stderr.startswith("EmulatorError: the local AWS is not running")


@pytest.mark.parametrize(
    "args",
    [
        [PROMPT, "--temperature", "-0.1"],
        [PROMPT, "--top-p", "0"],
        [PROMPT, "--top-p", "1.5"],
        [PROMPT, "--max-new-tokens", "0"],
        [PROMPT, "--read-timeout", "0"],
        ["   "],
    ],
)
def test_bad_options_exit_2_before_anything_runs(args: list[str], tmp_path: Path) -> None:
    result = _run({"TARGET": "local", "LLM_TWIN_STATE_DIR": str(tmp_path)}, tmp_path, *args)
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "emulator").exists()


def test_an_empty_stdin_prompt_exits_2(tmp_path: Path) -> None:
    result = _run({"TARGET": "local", "LLM_TWIN_STATE_DIR": str(tmp_path)}, tmp_path, "-", stdin="")
    assert result.exit_code == 2 and "prompt is empty" in result.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "line"),
    [
        (["caf\udce9 au lait"], None, "'PROMPT': the prompt is not valid UTF-8: byte 0xe9 at character 3"),
        (["Hello \ud800"], None, "'PROMPT': the prompt holds a lone surrogate \\ud800 at character 6"),
        (["caf\udce9", "--chat"], None, "'PROMPT': the prompt is not valid UTF-8: byte 0xe9 at character 3"),
        (["-"], b"caf\xe9 au lait", "'PROMPT': the prompt is not valid UTF-8: byte 0xe9 at character 3"),
        (
            ["-", "--chat"],
            b"ok \xff\xfe",
            "'PROMPT': the prompt is not valid UTF-8: byte 0xff at character 3",
        ),
        ([PROMPT, "--stop", "x\udcff"], None, "'--stop': the stop sequence is not valid UTF-8: byte 0xff"),
    ],
    ids=["argument", "lone surrogate", "chat", "stdin", "stdin chat", "stop"],
)
def test_text_that_is_not_valid_unicode_is_a_usage_error(
    args: list[str], stdin: bytes | None, line: str, tmp_path: Path
) -> None:
    # CliRunner hands the arguments over as they are: "\udce9" is how Python keeps the byte
    # 0xe9 of an argument that is not UTF-8 (surrogateescape).
    env = {"TARGET": "local", "LLM_TWIN_STATE_DIR": str(tmp_path), "LOCAL_AWS_PORT": "1"}
    result = _run(env, tmp_path, *args, stdin=stdin)
    assert result.exit_code == 2, result.output
    assert f"Error: Invalid value for {line}" in result.stderr
    assert not (tmp_path / "emulator").exists()


@pytest.mark.parametrize(
    ("argv", "stdin"), [([os.fsencode("caf\udce9")], None), ([b"-"], b"caf\xe9")], ids=["argv", "stdin"]
)
def test_invalid_utf8_bytes_from_a_real_process_exit_2(
    argv: list[bytes], stdin: bytes | None, tmp_path: Path
) -> None:
    command = [
        str(Path(sys.executable).parent / "llm-twin"),
        "--env-file",
        str(tmp_path / "none.env"),
        "infer",
    ]
    env = {**os.environ, "TARGET": "local", "LLM_TWIN_STATE_DIR": str(tmp_path), "LOCAL_AWS_PORT": "1"}
    for locale in ("C.UTF-8", "C"):  # strict UTF-8 decoding, and Python's coerced C locale
        result = subprocess.run(
            [*command, *argv],
            input=stdin or b"",
            env={**env, "LC_ALL": locale},
            capture_output=True,
            timeout=60,
        )
        stderr = result.stderr.decode(errors="replace")
        assert result.returncode == 2, stderr
        assert "Invalid value for 'PROMPT': the prompt is not valid UTF-8: byte 0xe9 at character 3" in stderr
        assert "Traceback" not in stderr
