"""The batch KV cache: left-padded, written in place, against each sequence run alone."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from llm_twin_local.model_server.engine import load_model
from llm_twin_local.model_server.kv_cache import BatchCache

pytestmark = pytest.mark.timeout(60)

PROMPTS = [[1, 40, 41, 42, 43, 44, 45], [1, 50, 51]]
STEPS = 6


def _prefill(loaded, ids: list[int]):
    cache = loaded.new_cache()
    tensor = torch.tensor([ids])
    logits = loaded.forward(tensor, cache, position_ids=torch.arange(len(ids)).unsqueeze(0))
    return cache, int(logits.argmax(dim=-1))


def _alone(loaded, ids: list[int]) -> list[torch.Tensor]:
    """Logits of greedy decode steps with transformers' own DynamicCache."""
    cache, token = _prefill(loaded, ids)
    rows = []
    for step in range(STEPS):
        position = torch.tensor([[len(ids) + step]])
        logits = loaded.forward(torch.tensor([[token]]), cache, position_ids=position)[0]
        rows.append(logits)
        token = int(logits.argmax())
    return rows


def _rows(cache) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], torch.Tensor]:
    layers = [(layer.keys, layer.values) for layer in cache.layers]
    return layers, torch.ones((1, layers[0][0].shape[-2]), dtype=torch.long)


def test_batched_steps_match_each_sequence_alone_through_growth_and_drop(tiny_model: Path) -> None:
    loaded = load_model(tiny_model)
    with torch.inference_mode():
        expected = [_alone(loaded, ids) for ids in PROMPTS]
        prefilled = [_prefill(loaded, ids) for ids in PROMPTS]
        # No spare column: the first step has to grow the buffers.
        cache = BatchCache([_rows(c) for c, _ in prefilled], spare=0)
        assert cache.mask.tolist() == [[1] * 7, [0, 0, 0, 0, 1, 1, 1]]
        tokens = [token for _, token in prefilled]
        positions = [len(ids) for ids in PROMPTS]
        for step in range(STEPS):
            if step == 3:  # the long prompt leaves; its padding columns go with it
                cache = cache.select(torch.tensor([1]), spare=0)
                assert cache.mask.all() and cache.length == len(PROMPTS[1]) + step
                tokens, positions, expected = tokens[1:], positions[1:], expected[1:]
            cache.reserve(cache.length + 1)
            logits = loaded.forward(
                torch.tensor([[t] for t in tokens]),
                cache,
                attention_mask=cache.step_mask(),
                position_ids=torch.tensor([[p] for p in positions]),
            )
            for row, alone in zip(logits, expected, strict=True):
                torch.testing.assert_close(row, alone[step], atol=1e-4, rtol=1e-4)
            tokens = logits.argmax(dim=-1).tolist()
            positions = [p + 1 for p in positions]
