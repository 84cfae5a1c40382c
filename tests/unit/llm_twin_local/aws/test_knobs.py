"""The emulator's environment knobs: a bad value is logged and ignored, never fatal."""

from __future__ import annotations

import logging

import pytest

from llm_twin_local.aws.knobs import number, switch


@pytest.mark.parametrize(
    ("raw", "on"),
    [
        ("1", True),
        (" TRUE ", True),
        ("yes", True),
        ("on", True),
        ("0", False),
        ("", False),
        ("enabled", False),
    ],
)
def test_a_switch_is_on_only_for_a_true_word(raw: str, on: bool) -> None:
    assert switch({"KNOB": raw}, "KNOB") is on
    assert switch({}, "KNOB") is False


def test_a_number_is_non_negative_or_ignored(caplog: pytest.LogCaptureFixture) -> None:
    assert number({"N": " 3 "}, "N", int) == 3
    assert number({"N": "0.5"}, "N", float) == 0.5
    assert number({}, "N", int) is None
    assert number({"N": ""}, "N", int) is None
    with caplog.at_level(logging.WARNING):
        assert number({"N": "-1"}, "N", int) is None
        assert number({"N": "1.5"}, "N", int) is None
        assert number({"N": "lots"}, "N", float) is None
    assert [r.getMessage() for r in caplog.records] == [
        "ignoring N='-1': not a non-negative number",
        "ignoring N='1.5': not a non-negative number",
        "ignoring N='lots': not a non-negative number",
    ]
