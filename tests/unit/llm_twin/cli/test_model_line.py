"""How `apply` shows a local model's download: a line per 10 % when piped, one rewritten line on a terminal."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from llm_twin.cli.context import ModelLine, notice
from llm_twin_local.aws.runtime.progress import ServingModel

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _model(done: int, phase: str = "downloading", total: int = 270_000_000) -> ServingModel:
    return ServingModel(
        endpoint="llm-twin-endpoint",
        model_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        source="hub",
        phase=phase,
        revision=COMMIT,
        bytes_done=done,
        bytes_total=total,
    )


def _shown(models: list[ServingModel], *, tty: bool, monkeypatch: pytest.MonkeyPatch) -> str:
    @click.command()
    def show() -> None:
        monkeypatch.setattr("sys.stdout.isatty", lambda: tty)
        line = ModelLine()
        for model in models:
            line.show(model)

    return CliRunner().invoke(show).stdout


def test_piped_output_gets_a_line_each_tenth_then_the_load(monkeypatch: pytest.MonkeyPatch) -> None:
    steps = [_model(d) for d in (0, 1_000_000, 27_000_000, 30_000_000, 135_000_000, 270_000_000)]
    shown = _shown(
        [*steps, _model(270_000_000, "loading"), _model(270_000_000, "ready")],
        tty=False,
        monkeypatch=monkeypatch,
    )
    assert shown.splitlines() == [
        "» downloading HuggingFaceTB/SmolLM2-135M-Instruct@0123456789ab: 0.0 of 270.0 MB (0 %)",
        "» downloading HuggingFaceTB/SmolLM2-135M-Instruct@0123456789ab: 27.0 of 270.0 MB (10 %)",
        "» downloading HuggingFaceTB/SmolLM2-135M-Instruct@0123456789ab: 135.0 of 270.0 MB (50 %)",
        "» downloading HuggingFaceTB/SmolLM2-135M-Instruct@0123456789ab: 270.0 of 270.0 MB (100 %)",
        "» loading HuggingFaceTB/SmolLM2-135M-Instruct into the model server",
    ]


def test_a_terminal_gets_one_line_rewritten_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = _shown(
        [_model(0), _model(135_000_000), _model(270_000_000, "ready")], tty=True, monkeypatch=monkeypatch
    )
    assert shown.count("\r» downloading") == 2 and shown.count("\n") == 1 and shown.endswith("(50 %)\n")


def test_a_notice_goes_to_stderr_and_nothing_is_said_without_one() -> None:
    @click.command()
    def speak() -> None:
        notice("endpoint e serves the stand-in")
        notice(None)

    result = CliRunner().invoke(speak)
    assert (result.stdout, result.stderr) == ("", "» endpoint e serves the stand-in\n")
