"""Rendering terraform's events as the one line each the CLI prints: pure, over recorded streams."""

from __future__ import annotations

import pytest

from llm_twin.control.tf.display import render
from llm_twin.control.tf.events import first_error
from llm_twin.control.tf.messages import ApplyComplete, ApplyErrored, ChangeSummary
from tests.support.terraform_streams import FIXTURES, events_of, of_type


def test_apply_complete_renders_as_one_line() -> None:
    slow = ApplyComplete("module.s3.aws_s3_bucket.this", "create", 2, "b-123")
    assert render(slow) == "+ module.s3.aws_s3_bucket.this  created (2s)"


def test_destroy_renders_minus_destroyed() -> None:
    lines = [render(e) for e in of_type(events_of("destroy.jsonl"), ApplyComplete)]
    assert "- module.store.terraform_data.this  destroyed (0s)" in lines


def test_plan_summary_renders_like_terraform() -> None:
    assert render(ChangeSummary(3, 0, 1)) == "Plan: 3 to add, 0 to change, 1 to destroy."


def test_apply_summary_renders_like_terraform() -> None:
    (summary,) = of_type(events_of("apply.jsonl"), ChangeSummary)
    assert render(summary) == "Apply complete! Resources: 4 added, 0 changed, 0 destroyed."


def test_diagnostic_renders_on_one_line() -> None:
    diagnostic = first_error(events_of("apply_errored.jsonl"))
    assert diagnostic is not None
    line = render(diagnostic)
    assert "\n" not in line
    assert line.startswith("Error: local-exec provisioner error: Error running command")
    assert line.endswith("(terraform_data.broken)")


def test_apply_errored_names_the_resource() -> None:
    (errored,) = of_type(events_of("apply_errored.jsonl"), ApplyErrored)
    assert render(errored) == "! terraform_data.broken  create failed (0s)"


def test_import_counts_render_first_like_terraform() -> None:
    (summary,) = of_type(events_of("awkward.jsonl"), ChangeSummary)
    assert render(summary) == "Plan: 1 to import, 0 to add, 1 to change, 0 to destroy."


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.jsonl")))
def test_every_event_renders_to_one_line(name: str) -> None:
    for event in events_of(name):
        line = render(event)
        assert line and "\n" not in line and '{"' not in line
