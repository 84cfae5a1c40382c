"""A failure while serving one request ends that request, never the engine.

Faults are injected where they can really happen (a forward pass, the cache merge, a
client's sink); after each one the engine must still be healthy, hold no leaked slot,
and serve the next request token for token like transformers' `generate`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llm_twin_local.model_server import kv_cache
from llm_twin_local.model_server.checkpoint import EOS_ID
from llm_twin_local.model_server.engine import Engine, EngineConfig, ErrorEvent, Event, load_model
from tests.support.engine import generate, greedy_request, submit, wait

pytestmark = pytest.mark.timeout(120)

PROMPT = [1, 40, 41, 42, 43, 44, 45]
OTHER = [1, 50, 51]


@pytest.fixture(scope="module")
def reference(tiny_model: Path) -> Any:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_model).eval()


@pytest.fixture
def engine(tiny_model: Path) -> Iterator[Engine]:
    running = Engine(load_model(tiny_model), EngineConfig())
    running.start()
    yield running
    running.stop()


class Injected(RuntimeError):
    """The fault a test plants."""


def _fail_forward_once(engine: Engine, *, when: Any) -> None:
    """Make the model's forward raise once, on the first call where `when(input_ids)` holds."""
    forward = engine.loaded.forward
    armed = [True]

    def faulty(input_ids, *args, **kwargs):
        if armed[0] and when(input_ids):
            armed[0] = False
            raise Injected("injected fault")
        return forward(input_ids, *args, **kwargs)

    engine.loaded.forward = faulty


def _serves_the_next_request(engine: Engine, reference: Any) -> None:
    collected = wait(submit(engine, OTHER, 12))
    assert collected.ids == generate(reference, OTHER, 12, EOS_ID)[0]
    assert engine.healthy
    assert engine.in_flight == 0


def test_a_failed_prefill_ends_only_its_request(engine: Engine, reference: Any) -> None:
    _fail_forward_once(engine, when=lambda ids: ids.shape[1] == len(OTHER))
    failing: list = []
    running = submit(
        engine, PROMPT, 20, on_token=lambda n: n == 2 and failing.append(submit(engine, OTHER, 5))
    )
    assert wait(running).ids == generate(reference, PROMPT, 20, EOS_ID)[0]
    assert "injected fault" in wait(failing[0], error=True).error
    _serves_the_next_request(engine, reference)


def test_a_failed_decode_step_ends_its_batch_and_the_engine_goes_on(engine: Engine, reference: Any) -> None:
    _fail_forward_once(engine, when=lambda ids: ids.shape[1] == 1)  # the first decode step
    assert "injected fault" in wait(submit(engine, PROMPT, 8), error=True).error
    _serves_the_next_request(engine, reference)


def test_a_failed_merge_ends_the_joining_request_only(
    engine: Engine, reference: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The merge is where sliding-window caches of mismatched lengths used to kill the thread."""
    original = kv_cache.BatchCache.__init__
    calls = [0]

    def second_merge_fails(self, parts, spare):
        calls[0] += 1
        if calls[0] == 2:
            raise Injected("injected fault")
        original(self, parts, spare)

    monkeypatch.setattr(kv_cache.BatchCache, "__init__", second_merge_fails)
    joining: list = []
    running = submit(
        engine, PROMPT, 20, on_token=lambda n: n == 2 and joining.append(submit(engine, OTHER, 5))
    )
    assert wait(running).ids == generate(reference, PROMPT, 20, EOS_ID)[0]
    assert "injected fault" in wait(joining[0], error=True).error
    monkeypatch.undo()
    _serves_the_next_request(engine, reference)


def test_a_sink_that_raises_loses_only_its_own_request(engine: Engine, reference: Any) -> None:
    events: list[Event] = []

    def broken_sink(event: Event) -> None:
        events.append(event)
        raise ValueError("the client's handler is broken")

    engine.submit(greedy_request(PROMPT, 8), broken_sink)
    _serves_the_next_request(engine, reference)
    assert len(events) == 1 and not isinstance(events[0], ErrorEvent)  # cancelled after its first token
