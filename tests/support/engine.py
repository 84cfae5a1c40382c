"""Drive a real `Engine` (its own scheduler thread) and collect what a request's sink receives.

And transformers' own greedy `generate`, the outside referee the engine is compared with.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from llm_twin_local.model_server.engine import Engine, ErrorEvent, Event, TokenEvent
from llm_twin_local.model_server.params import GenerateParameters, ValidRequest


@dataclass
class Collected:
    """What one request's sink received, and the batch size at each of its tokens."""

    tokens: list[TokenEvent] = field(default_factory=list)
    batch_sizes: list[int] = field(default_factory=list)
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def ids(self) -> list[int]:
        return [event.token.id for event in self.tokens]

    @property
    def logprobs(self) -> list[float]:
        return [event.token.logprob for event in self.tokens]


def greedy_request(ids: list[int], max_new_tokens: int) -> ValidRequest:
    params = GenerateParameters(max_new_tokens=max_new_tokens, details=True)
    return ValidRequest(inputs="", input_ids=ids, parameters=params, max_new_tokens=max_new_tokens, seed=None)


def submit(
    engine: Engine, ids: list[int], max_new_tokens: int, on_token: Callable[[int], None] | None = None
) -> Collected:
    """Queue a greedy request; `on_token(n)` runs on the engine thread after its n-th token."""
    collected = Collected()

    def sink(event: Event) -> None:
        if isinstance(event, ErrorEvent):
            collected.error = event.message
            collected.done.set()
            return
        collected.tokens.append(event)
        collected.batch_sizes.append(engine.batch_size)
        if on_token is not None:
            on_token(len(collected.tokens))
        if event.finished is not None:
            collected.done.set()

    engine.submit(greedy_request(ids, max_new_tokens), sink)
    return collected


def wait(collected: Collected, *, error: bool = False) -> Collected:
    """Wait for the last event; it must be an error if `error`, a finished token otherwise."""
    assert collected.done.wait(60), "the engine never ended the request"
    if error:
        assert collected.error is not None, "the request finished instead of failing"
    else:
        assert collected.error is None, collected.error
    return collected


def generate(
    model: Any, ids: list[int], max_new_tokens: int, eos_token_id: int
) -> tuple[list[int], list[float]]:
    """transformers' greedy `generate`: the new token ids and the log_softmax of each one's logits."""
    inputs = torch.tensor([ids])
    with torch.inference_mode():
        out = model.generate(
            inputs,
            attention_mask=torch.ones_like(inputs),
            do_sample=False,
            max_new_tokens=max_new_tokens,
            output_logits=True,
            return_dict_in_generate=True,
            pad_token_id=eos_token_id,
        )
    new = out.sequences[0, inputs.shape[1] :].tolist()
    logprobs = [
        float(torch.log_softmax(logits[0].float(), dim=-1)[token])
        for logits, token in zip(out.logits, new, strict=True)
    ]
    return new, logprobs
