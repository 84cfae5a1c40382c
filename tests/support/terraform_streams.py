"""Terraform's recorded `-json` streams (tests/fixtures/terraform/), parsed, for the tf tests."""

from __future__ import annotations

from llm_twin.control.tf.events import parse_stream
from llm_twin.control.tf.messages import ProgressEvent
from tests.conftest import FIXTURES_DIR

FIXTURES = FIXTURES_DIR / "terraform"


def events_of(name: str) -> list[ProgressEvent]:
    """Every event of one recorded stream, in order."""
    return list(parse_stream([(FIXTURES / name).read_bytes()]))


def of_type(events: list, kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]
