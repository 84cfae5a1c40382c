"""The engine against an outside referee: transformers' own `generate(do_sample=False)`.

Every architecture the server accepts gets a small random checkpoint, saved and loaded
the way a user's would be. The server's greedy token ids must equal `generate`'s, and
its logprobs must equal `log_softmax` of the logits `generate` saw, for prompts alone and
for requests that join a running batch mid-decode. Sliding windows are smaller than the
long prompt, so windowed layers are proved past their window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch

from llm_twin_local.model_server.architectures import EXACT_ROPE_TYPES, SUPPORTED_ARCHITECTURES
from llm_twin_local.model_server.checkpoint import BOS_ID, EOS_ID, build_tokenizer
from llm_twin_local.model_server.engine import Engine, EngineConfig
from llm_twin_local.model_server.loading import LoadedModel, load_model
from tests.support.engine import Collected, generate, submit, wait

pytestmark = pytest.mark.timeout(120)

SHORT = "The quick brown fox"
MEDIUM = "Language models generate text one token at a time."
LONG = (
    "Engineers deploy services to the cloud, monitor their latency, and scale them when traffic grows. "
    "Reading books, writing letters, and talking with friends are simple pleasures that make life richer."
)
WINDOW = 16
"""Sliding window of the windowed checkpoints: shorter than LONG, and than SHORT plus its output."""
NEW_TOKENS = 24
LOGPROB_TOLERANCE = 1e-4

# Tiny shapes keep the file fast; a large init makes the logits depend on every input,
# positions included (test_checkpoint_depends_on_positions checks that it does).
COMMON: dict[str, Any] = {
    "vocab_size": 0,  # set to the tokenizer's size
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 256,
    "initializer_range": 0.25,
    "bos_token_id": BOS_ID,
    "eos_token_id": EOS_ID,
    "pad_token_id": None,
}


def _llama(vocab: int):
    from transformers import LlamaConfig

    return LlamaConfig(**{**COMMON, "vocab_size": vocab})


def _qwen2(vocab: int):
    from transformers import Qwen2Config

    # Sliding windows from layer 1 on (`max_window_layers`): one full and one windowed layer.
    return Qwen2Config(
        **{**COMMON, "vocab_size": vocab},
        use_sliding_window=True,
        sliding_window=WINDOW,
        max_window_layers=1,
    )


def _qwen3(vocab: int):
    from transformers import Qwen3Config

    return Qwen3Config(**{**COMMON, "vocab_size": vocab, "head_dim": 16})


def _mistral(vocab: int):
    from transformers import MistralConfig

    return MistralConfig(**{**COMMON, "vocab_size": vocab, "sliding_window": WINDOW})


def _phi3(vocab: int):
    from transformers import Phi3Config

    return Phi3Config(**{**COMMON, "vocab_size": vocab, "sliding_window": WINDOW})


def _gemma(vocab: int):
    from transformers import GemmaConfig

    return GemmaConfig(**{**COMMON, "vocab_size": vocab, "head_dim": 16})


def _gemma2(vocab: int):
    from transformers import Gemma2Config

    return Gemma2Config(
        **{**COMMON, "vocab_size": vocab, "head_dim": 16, "query_pre_attn_scalar": 16},
        sliding_window=WINDOW,
        layer_types=["sliding_attention", "full_attention"],
        tie_word_embeddings=False,  # see _gemma3_text
    )


def _gemma3_text(vocab: int):
    from transformers import Gemma3TextConfig

    return Gemma3TextConfig(
        **{**COMMON, "vocab_size": vocab, "head_dim": 16, "query_pre_attn_scalar": 16},
        sliding_window=WINDOW,
        layer_types=["sliding_attention", "full_attention"],
        # Tied to the (scaled) input embedding, this random model repeats its input token
        # whatever the positions; untied, its output depends on them.
        tie_word_embeddings=False,
    )


def _gpt2(vocab: int):
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=vocab,
        n_embd=64,
        n_layer=2,
        n_head=4,
        n_positions=256,
        initializer_range=0.25,
        bos_token_id=BOS_ID,
        eos_token_id=EOS_ID,
    )


def _gpt_neox(vocab: int):
    from transformers import GPTNeoXConfig

    shape = {k: v for k, v in COMMON.items() if k != "num_key_value_heads"}
    return GPTNeoXConfig(**{**shape, "vocab_size": vocab})


def _olmo2(vocab: int):
    from transformers import Olmo2Config

    return Olmo2Config(**{**COMMON, "vocab_size": vocab})


def _llama_rope(rope_type: str, **scaling: Any) -> Callable[[int], Any]:
    """Llama with a RoPE scaling; `original_max_position_embeddings` below LONG, so it acts."""

    def build(vocab: int):
        from transformers import LlamaConfig

        rope = {"rope_type": rope_type, "rope_theta": 10000.0, **scaling}
        return LlamaConfig(**{**COMMON, "vocab_size": vocab}, rope_parameters=rope)

    return build


CONFIGS: dict[str, Callable[[int], Any]] = {
    "llama-rope-linear": _llama_rope("linear", factor=2.0),
    "llama-rope-dynamic": _llama_rope("dynamic", factor=2.0),
    "llama-rope-llama3": _llama_rope(
        "llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0, original_max_position_embeddings=32
    ),
    "llama-rope-yarn": _llama_rope("yarn", factor=4.0, original_max_position_embeddings=32),
    "llama": _llama,
    "qwen2": _qwen2,
    "qwen3": _qwen3,
    "mistral": _mistral,
    "phi3": _phi3,
    "gemma": _gemma,
    "gemma2": _gemma2,
    "gemma3_text": _gemma3_text,
    "gpt2": _gpt2,
    "gpt_neox": _gpt_neox,
    "olmo2": _olmo2,
}


def test_every_supported_architecture_and_rope_type_has_a_reference_checkpoint() -> None:
    configs = [build(512) for build in CONFIGS.values()]
    assert {config.model_type for config in configs} == set(SUPPORTED_ARCHITECTURES)
    rope_types = {(getattr(c, "rope_parameters", None) or {}).get("rope_type", "default") for c in configs}
    assert rope_types >= EXACT_ROPE_TYPES


@dataclass
class Reference:
    """`generate`'s greedy output for one prompt."""

    ids: list[int]
    logprobs: list[float]


@dataclass
class Checkpoint:
    model_type: str
    path: Path
    model: Any
    """Loaded by transformers itself, with eager attention."""
    tokenizer: Any
    loaded: LoadedModel
    """Loaded by the server's own load path."""
    _generated: dict[tuple[str, int], Reference] = field(default_factory=dict)

    def ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text)["input_ids"])

    def generate(self, text: str, max_new_tokens: int) -> Reference:
        key = (text, max_new_tokens)
        if key not in self._generated:
            self._generated[key] = Reference(*generate(self.model, self.ids(text), max_new_tokens, EOS_ID))
        return self._generated[key]


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reference-tokenizer")
    build_tokenizer(512).save_pretrained(path)
    return path


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def checkpoint(
    request: pytest.FixtureRequest, tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Checkpoint:
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    path = tmp_path_factory.mktemp(f"reference-{request.param}")
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = CONFIGS[request.param](len(tokenizer))
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config = GenerationConfig(bos_token_id=BOS_ID, eos_token_id=EOS_ID)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    # Eager attention: the plainest code transformers has, whatever the server picks.
    reference = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="eager")
    return Checkpoint(config.model_type, path, reference, tokenizer, load_model(path))


def _assert_matches(collected: Collected, reference: Reference) -> None:
    assert collected.ids == reference.ids
    torch.testing.assert_close(
        torch.tensor(collected.logprobs, dtype=torch.float64),
        torch.tensor(reference.logprobs, dtype=torch.float64),
        atol=LOGPROB_TOLERANCE,
        rtol=0,
    )


@pytest.fixture
def engine(checkpoint: Checkpoint):
    running = Engine(checkpoint.loaded, EngineConfig())
    running.start()
    yield running
    assert running.healthy and running.in_flight == 0  # nothing failed, nothing leaked
    running.stop()


def _greedy_with_offset(model: Any, ids: list[int], max_new_tokens: int, offset: int) -> list[int]:
    """Greedy decoding by hand, each decode step fed `offset` positions past its place."""
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    tokens: list[int] = []
    with torch.inference_mode():
        inputs = torch.tensor([ids])
        positions = torch.arange(len(ids)).unsqueeze(0)
        for step in range(max_new_tokens):
            logits = model(input_ids=inputs, position_ids=positions, cache=cache, use_cache=True).logits
            tokens.append(int(logits[0, -1].argmax()))
            inputs = torch.tensor([[tokens[-1]]])
            positions = torch.tensor([[len(ids) + step + offset]])
    return tokens


def test_checkpoint_depends_on_positions(checkpoint: Checkpoint) -> None:
    """Guard: tokens fed one position too far change the output, so the tests below can fail."""
    ids = checkpoint.ids(SHORT)
    expected = checkpoint.generate(SHORT, NEW_TOKENS).ids
    assert _greedy_with_offset(checkpoint.model, ids, NEW_TOKENS, offset=0) == expected
    assert _greedy_with_offset(checkpoint.model, ids, NEW_TOKENS, offset=1) != expected
    assert len(expected) == NEW_TOKENS  # no early end of sequence: every step is compared


@pytest.mark.parametrize("prompt", [SHORT, LONG], ids=["short", "long"])
def test_one_request_matches_generate(checkpoint: Checkpoint, engine: Engine, prompt: str) -> None:
    if prompt is LONG:
        assert len(checkpoint.ids(LONG)) > 2 * WINDOW
    collected = wait(submit(engine, checkpoint.ids(prompt), NEW_TOKENS))
    _assert_matches(collected, checkpoint.generate(prompt, NEW_TOKENS))
    assert collected.tokens[-1].finished is not None


def test_requests_joining_mid_decode_each_match_generate(checkpoint: Checkpoint, engine: Engine) -> None:
    """A long prompt decodes; a short one joins after its 3rd token, a medium one after its 8th."""
    plan = [(LONG, 32), (SHORT, 20), (MEDIUM, 12)]
    joined: dict[int, Collected] = {}

    def join(count: int) -> None:
        if count in (3, 8):
            text, max_new = plan[1 if count == 3 else 2]
            joined[count] = submit(engine, checkpoint.ids(text), max_new)

    first = submit(engine, checkpoint.ids(LONG), plan[0][1], on_token=join)
    results = [wait(first), wait(joined[3]), wait(joined[8])]
    for collected, (text, max_new) in zip(results, plan, strict=True):
        _assert_matches(collected, checkpoint.generate(text, max_new))
    # They really ran together: the last one to join decoded in a batch of three.
    assert 3 in results[2].batch_sizes
    assert engine.max_batch_seen == 3
