"""Parsing terraform's `-json` UI stream: pure, over recorded streams.

The fixtures under tests/fixtures/terraform/ were recorded from Terraform 1.11.4
running tiny `terraform_data` configurations (`init`, `plan -out`, `apply` of that
plan, `plan -detailed-exitcode`, `apply -destroy`, an invalid config, a failing
`local-exec`, an apply interrupted by SIGINT, an 11 s apply for `apply_progress`,
and an `init -plugin-dir` of hashicorp/aws). `awkward.jsonl` is written by hand:
non-JSON, truncated JSON, unknown types, a CRLF line, no final newline.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_twin.control.tf.display import render
from llm_twin.control.tf.events import LineBuffer, first_error, parse_line, parse_stream
from llm_twin.control.tf.messages import (
    ApplyComplete,
    ApplyErrored,
    ApplyProgress,
    ApplyStart,
    ChangeSummary,
    Diagnostic,
    LogEvent,
    OutputsEvent,
    PlannedChange,
    ProvisionEvent,
    RefreshComplete,
    RefreshStart,
    ResourceDrift,
    VersionEvent,
)
from tests.support.terraform_streams import FIXTURES, events_of, of_type

# -- recorded streams -----------------------------------------------------------


def test_first_event_is_the_version() -> None:
    assert events_of("plan.jsonl")[0] == VersionEvent(terraform="1.11.4", ui="1.2")


def test_apply_yields_one_start_and_one_complete_per_resource() -> None:
    events = events_of("apply.jsonl")
    done = {e.addr for e in of_type(events, ApplyComplete)}
    assert done == {e.addr for e in of_type(events, ApplyStart)}
    assert done == {
        "terraform_data.slow",
        "terraform_data.item[0]",
        "terraform_data.item[1]",
        "module.store.terraform_data.this",
    }


def test_apply_complete_keeps_action_and_elapsed_time() -> None:
    slow = next(e for e in events_of("apply.jsonl") if isinstance(e, ApplyComplete) and "slow" in e.addr)
    assert (slow.action, slow.elapsed_seconds) == ("create", 1)


def test_plan_summary_counts() -> None:
    (summary,) = of_type(events_of("plan.jsonl"), ChangeSummary)
    assert summary == ChangeSummary(add=4, change=0, remove=0, imported=0, operation="plan")


def test_planned_change_keeps_the_reason() -> None:
    (change,) = of_type(events_of("plan_update.jsonl"), PlannedChange)
    assert change == PlannedChange("terraform_data.item[1]", "delete", "delete_because_count_index")


def test_refresh_events_pair_up() -> None:
    events = events_of("plan_update.jsonl")
    started = {e.addr for e in of_type(events, RefreshStart)}
    assert started == {e.addr for e in of_type(events, RefreshComplete)} and len(started) == 4


def test_invalid_config_diagnostic_is_typed() -> None:
    diagnostic = first_error(events_of("plan_invalid.jsonl"))
    assert diagnostic == Diagnostic(
        severity="error",
        summary="Reference to undeclared input variable",
        detail='An input variable with the name "missing" has not been declared. '
        'This variable can be declared with a variable "missing" {} block.',
        filename="main.tf",
        line=2,
    )


def test_provisioner_output_keeps_utf8() -> None:
    outputs = [e.output for e in of_type(events_of("apply_errored.jsonl"), ProvisionEvent)]
    assert "boom: ünïcode" in outputs


def test_apply_progress_every_ten_seconds() -> None:
    (progress,) = of_type(events_of("apply_progress.jsonl"), ApplyProgress)
    assert render(progress) == "+ terraform_data.long  still creating (10s)"


def test_interrupted_apply_reports_the_interrupt_and_the_error() -> None:
    events = events_of("apply_interrupted.jsonl")
    assert any("Interrupt received" in e.message for e in of_type(events, LogEvent))
    assert [e.addr for e in of_type(events, ApplyErrored)] == ["terraform_data.slow"]


def test_warning_diagnostics_are_not_errors() -> None:
    events = events_of("init_aws.jsonl")
    assert first_error(events) is None
    assert of_type(events, Diagnostic)[0].severity == "warning"


def test_init_output_becomes_log_events() -> None:
    messages = [e.message for e in of_type(events_of("init.jsonl"), LogEvent)]
    assert "Terraform has been successfully initialized!" in messages


def test_outputs_event_never_keeps_values() -> None:
    (outputs, *_) = of_type(events_of("apply.jsonl"), OutputsEvent)
    assert [(o.name, o.sensitive) for o in outputs.outputs] == [("names", False), ("secret", True)]
    assert "item-0" not in render(outputs)


# -- awkward input ----------------------------------------------------------------


def test_awkward_stream_never_crashes_and_keeps_known_events() -> None:
    events = events_of("awkward.jsonl")
    assert events[0] == LogEvent("not json at all: a provider wrote to stdout", structured=False)
    assert ResourceDrift("aws_s3_bucket.logs", "update") in events
    assert events[-1] == Diagnostic(severity="warning", summary="last line has no newline")


def test_truncated_json_is_never_echoed() -> None:
    event = parse_line('{"@level":"info","@message":"cut off","type":"apply_sta')
    assert isinstance(event, LogEvent) and event.level == "warn"
    assert "{" not in render(event)


@pytest.mark.parametrize(
    "line", ["", "   ", "[1, 2]", '"text"', "42", '{"no": "type"}', '{"type": "test_run"}']
)
def test_blank_non_object_and_unknown_lines_are_ignored(line: str) -> None:
    assert parse_line(line) is None


def test_known_type_with_unexpected_shape_falls_back_to_its_message() -> None:
    event = parse_line('{"@level":"info","@message":"x: Creating...","type":"apply_start","hook":{}}')
    assert event == LogEvent("x: Creating...")


def test_crlf_line_endings_are_stripped() -> None:
    assert LogEvent("crlf line") in events_of("awkward.jsonl")


def test_bytes_lines_are_decoded() -> None:
    assert parse_line(b'{"type":"log","@message":"caf\xc3\xa9"}') == LogEvent("café")


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert parse_line(b"bad \xff byte") == LogEvent("bad \ufffd byte", structured=False)


def test_line_buffer_returns_last_line_without_newline() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b"one\ntw") == ["one"]
    assert buffer.feed(b"o") == []
    assert buffer.flush() == ["two"]
    assert buffer.flush() == []


def test_line_buffer_joins_split_utf8() -> None:
    buffer = LineBuffer()
    data = "ünïcode\n".encode()
    assert buffer.feed(data[:1]) == []
    assert buffer.feed(data[1:]) == ["ünïcode"]


# -- properties ---------------------------------------------------------------------

RECORDED = b"".join((FIXTURES / name).read_bytes() for name in ("apply_errored.jsonl", "awkward.jsonl"))


@given(st.lists(st.integers(min_value=0, max_value=len(RECORDED)), max_size=30))
def test_any_chunking_gives_the_same_events(cuts: list[int]) -> None:
    edges = [0, *sorted(cuts), len(RECORDED)]
    chunks = [RECORDED[a:b] for a, b in zip(edges, edges[1:], strict=False)]
    assert list(parse_stream(chunks)) == list(parse_stream([RECORDED]))


@given(st.text())
def test_any_text_line_parses_without_raising(line: str) -> None:
    event = parse_line(line)
    if event is not None:
        assert isinstance(render(event), str)


@given(st.binary())
def test_any_bytes_stream_parses_without_raising(data: bytes) -> None:
    for event in parse_stream([data]):
        render(event)
