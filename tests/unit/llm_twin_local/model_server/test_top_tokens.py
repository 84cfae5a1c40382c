"""`top_n_tokens` (TGI) and `top_logprobs` (OpenAI) against transformers' own forward pass.

The referee feeds the prompt and the server's generated ids to the same checkpoint in one
forward pass; at each generated position the alternatives must be `torch.topk` of
`log_softmax` of those logits (after transformers' own temperature and top-k warpers when
sampling), in TGI's order: most likely first, never a token the warpers removed.
Asked through the clients people use: huggingface_hub's InferenceClient and the openai SDK.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from huggingface_hub import InferenceClient
from openai import OpenAI

from llm_twin_local.model_server import decoding
from llm_twin_local.model_server.engine import Engine, EngineConfig, ErrorEvent, Event, Token
from llm_twin_local.model_server.loading import load_model
from llm_twin_local.model_server.params import GenerateParameters, ValidRequest
from tests.support.model_server import Reference, Server

pytestmark = pytest.mark.timeout(120)

PROMPT = "The quick brown fox"
MESSAGES = [{"role": "user", "content": "Hi there"}]
TOP_N = 3
LOGPROB_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Alternatives:
    """What the referee expects at one generated position."""

    ids: list[int]
    logprobs: list[float]


def expected_alternatives(
    reference: Reference,
    prompt_ids: list[int],
    generated: list[int],
    n: int,
    *,
    temperature: float | None = None,
    top_k: int | None = None,
) -> list[Alternatives]:
    """`torch.topk(log_softmax(logits))` at each generated position, from transformers' forward."""
    from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper

    warpers = LogitsProcessorList()
    if temperature is not None:
        warpers.append(TemperatureLogitsWarper(temperature))
    if top_k is not None:
        warpers.append(TopKLogitsWarper(top_k))
    ids = torch.tensor([prompt_ids + generated])
    with torch.inference_mode():
        logits = reference.model(input_ids=ids).logits[0].float()
    expected = []
    for step in range(len(generated)):
        position = len(prompt_ids) - 1 + step
        scores = warpers(ids[:, : position + 1], logits[position : position + 1])[0]
        top = torch.topk(torch.log_softmax(scores, dim=-1), n)
        finite = top.values > float("-inf")  # a token the warpers removed is no alternative
        expected.append(Alternatives(top.indices[finite].tolist(), top.values[finite].tolist()))
    return expected


def assert_alternatives(ids: list[int], logprobs: list[float], expected: Alternatives) -> None:
    assert ids == expected.ids
    torch.testing.assert_close(
        torch.tensor(logprobs, dtype=torch.float64),
        torch.tensor(expected.logprobs, dtype=torch.float64),
        atol=LOGPROB_TOLERANCE,
        rtol=0,
    )


def tgi_text(reference: Reference, token_id: int) -> str:
    """A top token's text as TGI's server gives it: the id decoded alone, specials and spaces kept."""
    return str(
        reference.tokenizer.decode([token_id], skip_special_tokens=False, clean_up_tokenization_spaces=False)
    )


_hub_clients: dict[str, InferenceClient] = {}


def hub_client(server: Server) -> InferenceClient:
    """One client per server, kept alive: a stream's response closes with the client that opened it."""
    if server.url not in _hub_clients:
        _hub_clients[server.url] = InferenceClient(base_url=server.url, timeout=60)
    return _hub_clients[server.url]


def rows(tokens: list[Any]) -> list[dict[str, Any]]:
    """huggingface_hub 2.4 parses `details.top_tokens` (a list of lists) into dicts, a stream's into tokens."""
    return [t if isinstance(t, dict) else vars(t) for t in tokens]


def assert_rows(tokens: list[Any], expected: Alternatives) -> None:
    top = rows(tokens)
    assert_alternatives([t["id"] for t in top], [t["logprob"] for t in top], expected)


# -- huggingface_hub's text_generation (TGI's top_n_tokens) --------------------------------


def test_text_generation_top_tokens_are_transformers_topk(server: Server, reference: Reference) -> None:
    prompt_ids = reference.ids(PROMPT)
    out = hub_client(server).text_generation(
        PROMPT, max_new_tokens=8, top_n_tokens=TOP_N, details=True, return_full_text=False
    )
    generated = [t.id for t in out.details.tokens]
    assert generated == reference.greedy(prompt_ids, 8)
    expected = expected_alternatives(reference, prompt_ids, generated, TOP_N)
    assert out.details.top_tokens is not None and len(out.details.top_tokens) == len(generated)
    for chosen, top, want in zip(out.details.tokens, out.details.top_tokens, expected, strict=True):
        assert_rows(top, want)
        assert rows(top)[0]["id"] == chosen.id  # greedy: the likeliest is the chosen one, listed too
        assert [t["text"] for t in rows(top)] == [tgi_text(reference, i) for i in want.ids]
        assert [t["special"] for t in rows(top)] == [
            i in reference.tokenizer.all_special_ids for i in want.ids
        ]


def test_streamed_top_tokens_are_transformers_topk(server: Server, reference: Reference) -> None:
    prompt_ids = reference.ids(PROMPT)
    events = list(
        hub_client(server).text_generation(
            PROMPT, max_new_tokens=6, top_n_tokens=2, details=True, stream=True, return_full_text=False
        )
    )
    generated = [e.token.id for e in events]
    expected = expected_alternatives(reference, prompt_ids, generated, 2)
    for event, want in zip(events, expected, strict=True):
        assert event.top_tokens is not None
        assert_rows(event.top_tokens, want)


def test_sampled_top_tokens_come_from_the_warped_distribution(server: Server, reference: Reference) -> None:
    """temperature and top_k 2: logprobs of the distribution sampled from; only 2 alternatives survive."""
    prompt_ids = reference.ids(PROMPT)
    out = hub_client(server).text_generation(
        PROMPT,
        max_new_tokens=6,
        do_sample=True,
        temperature=0.7,
        top_k=2,
        seed=7,
        top_n_tokens=TOP_N,
        details=True,
        return_full_text=False,
    )
    generated = [t.id for t in out.details.tokens]
    expected = expected_alternatives(reference, prompt_ids, generated, TOP_N, temperature=0.7, top_k=2)
    assert out.details.top_tokens is not None
    for chosen, top, want in zip(out.details.tokens, out.details.top_tokens, expected, strict=True):
        assert len(want.ids) == 2
        assert_rows(top, want)
        assert chosen.logprob == pytest.approx(
            want.logprobs[want.ids.index(chosen.id)], abs=LOGPROB_TOLERANCE
        )


def test_without_top_n_tokens_there_are_none(server: Server) -> None:
    out = hub_client(server).text_generation(PROMPT, max_new_tokens=3, details=True)
    assert not out.details.top_tokens
    stream = server.post("/generate_stream", {"inputs": PROMPT, "parameters": {"max_new_tokens": 2}})
    assert '"top_tokens"' not in stream.text  # left out when empty, as TGI


# -- the openai SDK (Messages API's top_logprobs) --------------------------------------------


def test_chat_top_logprobs_are_transformers_topk(server: Server, reference: Reference) -> None:
    prompt_ids = reference.chat_ids(MESSAGES)
    generated = reference.greedy(prompt_ids, 6)
    expected = expected_alternatives(reference, prompt_ids, generated, TOP_N)
    client = OpenAI(base_url=server.url + "/v1", api_key="-", max_retries=0, timeout=60)
    out = client.chat.completions.create(
        model="tgi", messages=MESSAGES, max_tokens=6, temperature=0, logprobs=True, top_logprobs=TOP_N
    )  # type: ignore[call-overload]
    content = out.choices[0].logprobs.content
    assert len(content) == len(generated)
    for entry, want in zip(content, expected, strict=True):
        texts = [tgi_text(reference, i) for i in want.ids]
        assert [t.token for t in entry.top_logprobs] == texts
        torch.testing.assert_close(
            torch.tensor([t.logprob for t in entry.top_logprobs], dtype=torch.float64),
            torch.tensor(want.logprobs, dtype=torch.float64),
            atol=LOGPROB_TOLERANCE,
            rtol=0,
        )


# -- the engine: rows of a running batch, and TGI's rule for ties ----------------------------


def test_requests_joining_a_batch_each_get_their_own_top_tokens(
    tiny_model: Path, reference: Reference
) -> None:
    """Three requests decode together, with different top_n_tokens (one without)."""
    engine = Engine(load_model(tiny_model), EngineConfig())
    plan = [("Engineers deploy services to the cloud and watch them", 3), (PROMPT, 5), ("Hello", 0)]
    results: list[list[Token]] = [[] for _ in plan]
    done = [threading.Event() for _ in plan]

    def sink_for(index: int):  # type: ignore[no-untyped-def]
        def sink(event: Event) -> None:
            assert not isinstance(event, ErrorEvent), event.message
            results[index].append(event.token)
            if event.finished is not None:
                done[index].set()

        return sink

    engine.start()
    try:
        for index, (text, top_n) in enumerate(plan):
            params = GenerateParameters(max_new_tokens=10, top_n_tokens=top_n)
            request = ValidRequest(text, reference.ids(text), params, max_new_tokens=10, seed=None)
            engine.submit(request, sink_for(index))
        assert all(event.wait(60) for event in done)
        assert engine.max_batch_seen > 1
    finally:
        engine.stop()
    for (text, top_n), tokens in zip(plan, results, strict=True):
        if not top_n:
            assert all(t.top_tokens == () for t in tokens)
            continue
        expected = expected_alternatives(reference, reference.ids(text), [t.id for t in tokens], top_n)
        for token, want in zip(tokens, expected, strict=True):
            assert_alternatives([t.id for t in token.top_tokens], [t.logprob for t in token.top_tokens], want)


def test_ties_at_the_nth_place_are_all_kept_and_removed_tokens_never() -> None:
    """TGI's `batch_top_tokens`: every token as likely as the n-th comes along; -inf never does."""
    logprobs = torch.log_softmax(torch.tensor([0.0, 2.0, 1.0, 1.0, 1.0, float("-inf")]), dim=-1)
    two = [i for i, _ in decoding.top_alternatives(logprobs, 2)]
    assert two[0] == 1 and sorted(two[1:]) == [2, 3, 4]
    every = [i for i, _ in decoding.top_alternatives(logprobs, 6)]
    assert every[0] == 1 and sorted(every[1:4]) == [2, 3, 4] and every[4:] == [0]
